//! Where start-up time goes. With `CANNONBALL_STARTUP_TIMES=1` in QEMU's environment the
//! plugin prints one line after install and one after the exit path, each phase in
//! milliseconds since the previous mark, e.g.
//!
//! ```text
//! cannonball: startup: options 0.05, engine 0.9, compile 1.8 (cache hit), link 0.3, ... = 4.1 ms
//! cannonball: exit: flush 0.0, finish 0.2, sink 0.0 = 0.3 ms
//! ```
//!
//! A run that is one of ten thousand (a fuzzing corpus) pays start-up every time; these lines
//! show what it pays for (docs/performance.md). Off by default: the marks then cost one
//! relaxed atomic load each.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

/// 0: not yet read from the environment, 1: off, 2: on.
static ENABLED: AtomicU8 = AtomicU8::new(0);

struct Phases {
    last: Instant,
    start: Instant,
    marks: Vec<String>,
}

static PHASES: Mutex<Option<Phases>> = Mutex::new(None);

fn enabled() -> bool {
    match ENABLED.load(Ordering::Relaxed) {
        0 => {
            let on = std::env::var_os("CANNONBALL_STARTUP_TIMES").is_some_and(|v| v != "0" && !v.is_empty());
            ENABLED.store(if on { 2 } else { 1 }, Ordering::Relaxed);
            on
        }
        v => v == 2,
    }
}

/// Starts timing a sequence of phases (install, or the exit path).
pub fn begin() {
    if enabled() {
        let now = Instant::now();
        *PHASES.lock().unwrap_or_else(|p| p.into_inner()) = Some(Phases { last: now, start: now, marks: Vec::new() });
    }
}

/// Ends the phase called `name` now.
pub fn mark(name: &str) {
    mark_with(name, "");
}

/// Ends the phase called `name` now, with a note such as the cache's outcome.
pub fn mark_with(name: &str, note: &str) {
    if !enabled() {
        return;
    }
    let mut phases = PHASES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = phases.as_mut() {
        let now = Instant::now();
        let ms = (now - p.last).as_secs_f64() * 1e3;
        p.last = now;
        let note = if note.is_empty() { String::new() } else { format!(" ({note})") };
        p.marks.push(format!("{name} {ms:.2}{note}"));
    }
}

/// Prints the phases since [`begin`] as one line headed `what`.
pub fn report(what: &str) {
    if !enabled() {
        return;
    }
    if let Some(p) = PHASES.lock().unwrap_or_else(|p| p.into_inner()).take() {
        let total = (Instant::now() - p.start).as_secs_f64() * 1e3;
        crate::console::diagnostic(&format!("cannonball: {what}: {} = {total:.2} ms", p.marks.join(", ")));
    }
}
