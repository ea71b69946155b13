//! A guest run that hangs fails its test instead of stalling the whole suite: after a deadline
//! the QEMU process is killed (SIGKILL), and the test's assertions then see `signal 9` next to
//! the line printed here. Never a timing assertion: the deadline (15 minutes, or
//! `CANNONBALL_TEST_DEADLINE` seconds) is far above any run's time on a loaded machine.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

/// Kills `pid` unless [`Watchdog::finish`] comes first.
pub struct Watchdog {
    done: Sender<()>,
    thread: JoinHandle<()>,
}

impl Watchdog {
    /// Watches the process `pid`, started by `what` (named in the line printed if it fires).
    pub fn start(pid: u32, what: String) -> Self {
        let deadline = std::env::var("CANNONBALL_TEST_DEADLINE")
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(900));
        Self::with_deadline(pid, what, deadline)
    }

    fn with_deadline(pid: u32, what: String, deadline: Duration) -> Self {
        let (done, wait) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            if let Err(RecvTimeoutError::Timeout) = wait.recv_timeout(deadline) {
                eprintln!("watchdog: {what} still running after {} s: killed", deadline.as_secs());
                // SAFETY: kill has no memory effects; the child is not reaped before
                // `finish` (its owner waits for it after this thread had its chance).
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
        });
        Watchdog { done, thread }
    }

    /// The process ended (and was reaped): stop watching.
    pub fn finish(self) {
        let _ = self.done.send(());
        let _ = self.thread.join();
    }
}

/// A spawned child under a [`Watchdog`]: killed past the deadline unless it was waited for
/// first, and killed when dropped unwaited (a test that panics leaves no process behind).
pub struct Watched {
    /// None once `wait_with_output` took it.
    child: Option<std::process::Child>,
    watchdog: Option<Watchdog>,
}

/// `cmd.spawn()` under a [`Watchdog`]; the command's stdio settings are kept.
pub fn spawn(cmd: &mut std::process::Command) -> Watched {
    let what = format!("{:?}", cmd.get_program());
    let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let watchdog = Some(Watchdog::start(child.id(), what));
    Watched { child: Some(child), watchdog }
}

impl Watched {
    /// Waits for the child, then stops watching it.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        let status = self.child.as_mut().expect("child").wait().expect("cannot wait for the child");
        self.stop_watching();
        status
    }

    /// Waits for the child and collects its piped output, then stops watching it.
    pub fn wait_with_output(mut self) -> std::process::Output {
        let output = self.child.take().expect("child").wait_with_output().expect("cannot wait for the child");
        self.stop_watching();
        output
    }

    fn stop_watching(&mut self) {
        if let Some(w) = self.watchdog.take() {
            w.finish();
        }
    }
}

impl std::ops::Deref for Watched {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        self.child.as_ref().expect("child")
    }
}

impl std::ops::DerefMut for Watched {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        self.child.as_mut().expect("child")
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let (Some(watchdog), Some(child)) = (self.watchdog.take(), self.child.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
            watchdog.finish();
        }
    }
}

/// `cmd.status()` under a [`Watchdog`] (the child's output collected, not inherited).
pub fn status(cmd: &mut std::process::Command) -> std::process::ExitStatus {
    output(cmd).status
}

/// `cmd.output()` under a [`Watchdog`].
pub fn output(cmd: &mut std::process::Command) -> std::process::Output {
    let what = format!("{:?}", cmd.get_program());
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cannot start qemu");
    let watchdog = Watchdog::start(child.id(), what);
    let output = child.wait_with_output().expect("cannot wait for qemu");
    watchdog.finish();
    output
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn a_process_past_its_deadline_is_killed_and_one_that_ends_is_not() {
        let mut hung = std::process::Command::new("sleep").arg("60").spawn().unwrap();
        let watchdog = Watchdog::with_deadline(hung.id(), "sleep 60".into(), Duration::from_millis(200));
        assert_eq!(hung.wait().unwrap().signal(), Some(libc::SIGKILL));
        watchdog.finish();

        let mut quick = std::process::Command::new("true").spawn().unwrap();
        let watchdog = Watchdog::with_deadline(quick.id(), "true".into(), Duration::from_secs(60));
        assert!(quick.wait().unwrap().success());
        watchdog.finish();
    }

    #[test]
    fn a_watched_child_is_waited_for_or_killed_when_dropped() {
        let mut quick = spawn(&mut std::process::Command::new("true"));
        assert!(quick.wait().success());
        let output =
            spawn(std::process::Command::new("echo").arg("hi").stdout(std::process::Stdio::piped())).wait_with_output();
        assert_eq!(output.stdout, b"hi\n");
        let hung = spawn(std::process::Command::new("sleep").arg("60"));
        let pid = hung.id();
        drop(hung);
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "dropped unwaited: killed and reaped");
    }
}
