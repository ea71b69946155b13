//! Wiring: install parses the options, loads the script and registers the capture callbacks;
//! the exit callback hands the counts to the script's `finish`.

use std::ffi::c_void;
use std::sync::{Mutex, OnceLock};

use anyhow::Result;
use qemu_plugin_sys as sys;

use crate::capture::InstructionCounter;
use crate::script::{RunInfo, RunSummary, ScriptHost, VcpuInstructions};
use crate::sink::OutDir;
use crate::{console, options};

/// Everything that lives from install to exit.
struct Run {
    counter: InstructionCounter,
    /// Taken by the exit callback, so `finish` runs exactly once.
    script: Mutex<Option<ScriptHost>>,
}

static RUN: OnceLock<Run> = OnceLock::new();

/// Sets up the plugin. Errors are reported by the caller as one line before the guest starts.
pub fn install(id: sys::qemu_plugin_id_t, target: &str, raw_args: &[String]) -> Result<()> {
    let opts = options::parse(raw_args)?;
    if opts.host.help {
        console::line(&options::help_text());
        std::process::exit(0);
    }
    let script_path = opts.script()?;
    let out = OutDir::prepare(&opts.host.out)?;
    let mut script = ScriptHost::load(script_path, out)?;

    let info = RunInfo {
        arch: target.to_owned(),
        pid: std::process::id(),
    };
    let args: Vec<_> = opts
        .script_args
        .iter()
        .map(|a| crate::script::Argument {
            key: a.key.clone(),
            value: a.value.clone(),
        })
        .collect();
    script.init(&info, &args)?;

    let run = Run {
        counter: InstructionCounter::new(),
        script: Mutex::new(Some(script)),
    };
    if RUN.set(run).is_err() {
        anyhow::bail!("libcannonball.so was loaded twice in one QEMU; load it once");
    }
    // SAFETY: plain registrations with 'static callbacks.
    unsafe {
        sys::qemu_plugin_register_vcpu_tb_trans_cb(id, Some(on_translate));
        sys::qemu_plugin_register_atexit_cb(id, Some(on_exit), std::ptr::null_mut());
    }
    Ok(())
}

unsafe extern "C" fn on_translate(_id: sys::qemu_plugin_id_t, tb: *mut sys::qemu_plugin_tb) {
    if let Some(run) = RUN.get() {
        // SAFETY: `tb` is the block QEMU is translating right now.
        unsafe { run.counter.instrument_block(tb) };
    }
}

unsafe extern "C" fn on_exit(_id: sys::qemu_plugin_id_t, _data: *mut c_void) {
    let Some(run) = RUN.get() else { return };
    let Some(mut script) = run.script.lock().unwrap_or_else(|p| p.into_inner()).take() else {
        return;
    };
    let summary = RunSummary {
        instructions: run
            .counter
            .per_vcpu()
            .into_iter()
            .map(|(vcpu, instructions)| VcpuInstructions { vcpu, instructions })
            .collect(),
    };
    if let Err(err) = script.finish(&summary) {
        console::line(&format!("cannonball: error: {}", console::one_line(&err)));
    }
}
