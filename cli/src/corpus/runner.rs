//! One input's run: QEMU with the script, the input as a file argument (`@@`) or on stdin,
//! stopped after its timeout with its reports kept.

use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::inputs::Input;
use crate::locate::Guest;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Exit(i32),
    Signal(i32),
    /// Stopped by us after `--timeout` (SIGTERM: QEMU writes the reports and dies of it).
    Timeout,
}

impl Ending {
    pub fn to_text(&self) -> String {
        match self {
            Ending::Exit(c) => format!("exit {c}"),
            Ending::Signal(s) => format!("signal {s}"),
            Ending::Timeout => "timeout".into(),
        }
    }

    pub fn parse(text: &str) -> Option<Ending> {
        match text.split_once(' ') {
            Some(("exit", c)) => c.parse().ok().map(Ending::Exit),
            Some(("signal", s)) => s.parse().ok().map(Ending::Signal),
            _ if text == "timeout" => Some(Ending::Timeout),
            _ => None,
        }
    }

    /// Crashes first, then timeouts, then the rest, in the table.
    pub fn rank(&self) -> u8 {
        match self {
            Ending::Signal(_) => 0,
            Ending::Timeout => 1,
            Ending::Exit(_) => 2,
        }
    }
}

/// Seconds a stopped run gets to write its reports before SIGKILL.
const GRACE: Duration = Duration::from_secs(10);

/// Runs `input`; the script's reports, coverage.blocks and the guest's stdout and stderr go
/// to `dir`.
pub fn run_one(
    guest: &Guest,
    options: &[String],
    input: &Input,
    dir: &Path,
    timeout: Option<Duration>,
) -> Result<(Ending, f64)> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut opts = options.to_vec();
    opts.push(format!("out={}", dir.display()));
    // Our lines apart from the guest's: guest.stderr holds only what the guest wrote.
    opts.push(format!("log={}", dir.join(crate::run::LOG).display()));
    opts.push("coverage=true".into());
    let mut file_argument = false;
    let args: Vec<OsString> = guest
        .args()
        .iter()
        .map(|a| {
            if a.to_string_lossy().contains("@@") {
                file_argument = true;
                OsString::from(a.to_string_lossy().replace("@@", &input.path.to_string_lossy()))
            } else {
                a.clone()
            }
        })
        .collect();
    let mut cmd = guest.command_with_args(&opts, &args)?;
    cmd.stdin(if file_argument { Stdio::null() } else { Stdio::from(std::fs::File::open(&input.path)?) })
        .stdout(std::fs::File::create(dir.join("guest.stdout"))?)
        .stderr(std::fs::File::create(dir.join("guest.stderr"))?);
    // Without address-space randomisation, a run takes the same path through the C library
    // every time (allocation addresses steer branches), so coverage compares between inputs
    // and between runs, as fuzzers' QEMU modes do it.
    // SAFETY: personality() is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::personality(libc::ADDR_NO_RANDOMIZE as libc::c_ulong);
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = cmd.spawn().context("cannot start QEMU")?;
    let mut stopped_at = None;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let elapsed = started.elapsed();
        match stopped_at {
            None if timeout.is_some_and(|t| elapsed >= t) => {
                // SAFETY: signalling our own child, which has not been reaped.
                unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
                stopped_at = Some(elapsed);
            }
            Some(at) if elapsed >= at + GRACE => {
                let _ = child.kill();
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let seconds = started.elapsed().as_secs_f64();
    let ending = match (stopped_at, status.code(), status.signal()) {
        (Some(_), _, _) => Ending::Timeout,
        (None, Some(code), _) => Ending::Exit(code),
        (None, None, signal) => Ending::Signal(signal.unwrap_or(0)),
    };
    Ok((ending, seconds))
}
