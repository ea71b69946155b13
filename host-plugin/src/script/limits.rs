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

use wasmtime::{Engine, ResourceLimiter};

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
    /// The epoch deadline for one call, in ticks from now.
    pub fn call_ticks(&self) -> u64 {
        match self.call_time {
            // Clamped: wasmtime adds the delta to the current epoch unchecked.
            Some(t) => u64::try_from(t.as_nanos() / TICK.as_nanos()).unwrap_or(u64::MAX).clamp(1, u64::MAX / 4) + 1,
            None => u64::MAX / 4,
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
        crate::console::warning("cannot start the script time-limit thread; script-time is not enforced");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(args: &[&str]) -> anyhow::Result<Limits> {
        let raw: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        crate::options::limits(&crate::options::parse(&raw).unwrap().host)
    }

    /// Found by fuzzing (fuzz/artifacts-found/plugin_args): huge values were a panic or a
    /// wrapped tick count.
    #[test]
    fn huge_times_are_errors_or_clamped_not_panics() {
        assert!(limits(&["script-time=1e20"]).unwrap_err().to_string().contains("is not a number of seconds"));
        assert!(limits(&["script-time=-1"]).is_err());
        assert!(limits(&["script-time=NaN"]).is_err());
        let long = limits(&["script-time=1.8446744073709552e17"]).unwrap();
        assert_eq!(long.call_ticks(), u64::MAX / 4 + 1, "clamped, not wrapped");
        assert_eq!(limits(&["script-time=0"]).unwrap().call_time, None);
        assert_eq!(limits(&["script-time=0.5"]).unwrap().call_ticks(), 51);
    }
}
