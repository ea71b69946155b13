//! `libcannonball.so`: a QEMU TCG plugin that captures guest execution events natively and hands
//! them to a user-supplied WebAssembly component (the *script*) for analysis.
//!
//! The data path, one module per stage:
//!
//! ```text
//!  QEMU translation/execution ──► capture/   (inline counters and callbacks, per vCPU)
//!                                   │
//!                                   ▼
//!                                 buffer/    (one lock-free event buffer per vCPU)
//!                                   │
//!                                   ▼
//!                                 batch/     (bounded channel to the analysis thread)
//!                                   │
//!                                   ▼
//!                                 script/    (wasmtime: loads the component, calls its exports)
//!                                   │
//!                                   ▼
//!                                 sink/      (report files in the out directory)
//! ```
//!
//! [`plugin`] wires the stages together at install time and tears them down at exit;
//! [`options`] parses the `-plugin libcannonball.so,key=value,...` arguments.

pub mod batch;
pub mod buffer;
pub mod capture;
pub mod console;
pub mod events;
pub mod options;
pub mod plugin;
pub mod progress;
pub mod qemu;
pub mod script;
pub mod services;
pub mod sink;
pub mod startup;
pub mod threads;

use std::ffi::{c_char, c_int};

use qemu_plugin_sys::{QEMU_PLUGIN_VERSION, qemu_info_t, qemu_plugin_id_t};

/// The plugin API version we are built against (v4: QEMU 10.0).
#[allow(non_upper_case_globals)]
#[unsafe(no_mangle)]
pub static qemu_plugin_version: c_int = QEMU_PLUGIN_VERSION as c_int;

/// QEMU's entry point into the plugin. Bad arguments or an unusable script end the process
/// here with one error line and exit status 1, before the guest executes anything.
///
/// # Safety
/// Called by QEMU only: `info` is valid for the call, `argv` holds `argc` C strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qemu_plugin_install(
    id: qemu_plugin_id_t,
    info: *const qemu_info_t,
    argc: c_int,
    argv: *const *const c_char,
) -> c_int {
    startup::begin();
    console::install_panic_hook();
    // SAFETY: QEMU passes `argc` valid C strings and a valid info struct.
    let args = unsafe { qemu::plugin_args(argc, argv) };
    let target = unsafe { qemu::target_name(info) };
    // SAFETY: as above.
    let system = unsafe { qemu::system_emulation(info) };
    // Everything install starts (our threads, wasmtime's compilation pool, tokio) inherits a
    // mask that blocks every signal; QEMU's thread gets its own mask back afterwards.
    let blocked = threads::SignalsBlocked::new();
    let installed = plugin::install(id, &target, system, &args);
    drop(blocked);
    match installed {
        Ok(()) => {
            startup::report("startup");
            0
        }
        Err(err) => console::fatal(&err),
    }
}
