//! What a script may consume, and what happens when it fails (`script-memory=`,
//! `script-time=`, `report-limit=`, `on-error=`). Users run scripts they did not write: a
//! script that loops, hoards memory, floods reports or traps must not take QEMU down or hang
//! it.
//!
//! Time is enforced with wasmtime's epoch interruption: a ticker thread advances the engine's
//! epoch every [`TICK`], and each call into the script gets a deadline in ticks. Memory is
//! enforced by a `ResourceLimiter` that refuses growth beyond the cap (the refusal traps, so
//! the failure is named, not an opaque allocation error inside the guest).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Result, bail};
use wasmtime::{Engine, ResourceLimiter};

use crate::options::HostOptions;

/// Epoch granularity: the precision of the per-call time limit.
pub const TICK: Duration = Duration::from_millis(10);

/// Log lines a script may print; the rest are counted and dropped.
pub const LOG_LINES: u64 = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    /// The script is dropped; the guest runs on without it.
    Detach,
    /// QEMU exits with status 1.
    Abort,
}

#[derive(Clone, Debug)]
pub struct Limits {
    pub memory_bytes: usize,
    /// None: no limit (script-time=0).
    pub call_time: Option<Duration>,
    pub report_bytes: u64,
    pub on_error: OnError,
}

impl Limits {
    pub fn from_options(opts: &HostOptions) -> Result<Self> {
        if opts.script_memory == 0 {
            bail!("script-memory=0: a script needs some memory (MiB)");
        }
        if !opts.script_time.is_finite() || opts.script_time < 0.0 {
            bail!("script-time={} is not a number of seconds", opts.script_time);
        }
        let on_error = match opts.on_error.as_str() {
            "detach" => OnError::Detach,
            "abort" => OnError::Abort,
            other => bail!("on-error={other}: expected detach or abort"),
        };
        Ok(Self {
            memory_bytes: (opts.script_memory as usize).saturating_mul(1 << 20),
            call_time: (opts.script_time > 0.0).then(|| Duration::from_secs_f64(opts.script_time)),
            report_bytes: opts.report_limit.saturating_mul(1 << 20),
            on_error,
        })
    }

    /// The epoch deadline for one call, in ticks from now.
    pub fn call_ticks(&self) -> u64 {
        match self.call_time {
            Some(t) => (t.as_nanos() / TICK.as_nanos()).max(1) as u64 + 1,
            None => u64::MAX / 2,
        }
    }

    pub fn describe_time(&self) -> String {
        match self.call_time {
            Some(t) => format!("{} s", t.as_secs_f64()),
            None => "no".into(),
        }
    }
}

/// Refuses linear-memory growth beyond the cap and remembers that it did.
pub struct MemoryLimiter {
    limit: usize,
    pub exceeded: bool,
}

impl MemoryLimiter {
    pub fn new(limit: usize) -> Self {
        Self { limit, exceeded: false }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.exceeded = true;
            return Err(wasmtime::Error::msg(format!(
                "memory limit of {} MiB exceeded (script-memory=MiB)",
                self.limit >> 20
            )));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // Table elements are host memory too; a million entries is far beyond real scripts.
        Ok(desired <= 1 << 20)
    }
}

/// Starts the epoch ticker for this process, once (again in a forked child, where the
/// parent's ticker thread does not exist).
pub fn ensure_ticker(engine: &Engine) {
    static TICKER_PID: AtomicU32 = AtomicU32::new(0);
    let pid = std::process::id();
    if TICKER_PID.swap(pid, Ordering::SeqCst) == pid {
        return;
    }
    let engine = engine.clone();
    let started = crate::threads::spawn("cannonball-epoch", move || {
        loop {
            std::thread::sleep(TICK);
            engine.increment_epoch();
        }
    });
    if started.is_err() {
        crate::console::line(
            "cannonball: warning: cannot start the script time-limit thread; script-time is not enforced",
        );
    }
}
