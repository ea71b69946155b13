//! Programs nobody here wrote: coreutils, tar, find, bash, CPython (threads, signal handlers,
//! subprocesses, a small HTTP server stopped with SIGTERM and SIGINT) and CPython's own tests
//! for signals, threads and subprocesses. Each runs with the same arguments, environment and
//! input under plain QEMU and under QEMU's oracle plugins (libinsn, libbb, libsyscall) plus
//! libcannonball.so with the census script in the same process: the guest's status and
//! output are unchanged, and the script's counts equal the oracles' exactly.
//! (The program that faults and recovers in a loop is tests/programs/fault_loop.c, in
//! signals.rs.)

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use cannonball_tests::guest::{Compared, Guest, compare, ending, report_names};
use cannonball_tests::{TempDir, cli, plugin, plugin_arg, script};

const PYTHON: &str = "/usr/bin/python3.11";

/// Deterministic pseudo-random text: `lines` lines of a few words.
fn text(lines: usize, seed: u64) -> String {
    let mut x = seed;
    let mut out = String::new();
    for _ in 0..lines {
        for w in 0..3 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = 3 + (x >> 60) as usize;
            for k in 0..len {
                out.push((b'a' + ((x >> (k * 5 % 55)) % 26) as u8) as char);
            }
            out.push(if w == 2 { '\n' } else { ' ' });
        }
    }
    out
}

fn compared(guest: &Guest, work: &TempDir) -> Compared {
    let c = compare(guest, work, true);
    assert!(!c.plain.stdout.is_empty() || !c.plain.stderr.is_empty(), "the guest said nothing: {:?}", c.plain.status);
    c
}

// ---- coreutils, tar, find ----

#[test]
fn sort_of_a_large_file() {
    let work = TempDir::new("sort");
    std::fs::write(work.join("big.txt"), text(200_000, 7)).unwrap();
    let guest = Guest::new("/usr/bin/sort", &["--parallel=4", "-S", "8M", "big.txt"], work.path());
    let c = compared(&guest, &work);
    assert_eq!(ending(&c.plain.status), "exit 0", "{}", c.plain.stderr);
    assert_eq!(c.plain.stdout.lines().count(), 200_000);
    let lines: Vec<&str> = c.plain.stdout.lines().collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "sort's output is sorted");
    c.assert_guest_unchanged(true);
    c.assert_counts_exact();
}

#[test]
fn tar_of_a_directory() {
    let work = TempDir::new("tar");
    for d in 0..5 {
        let dir = work.join(&format!("tree/d{d}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..20 {
            std::fs::write(dir.join(format!("f{f}.txt")), text(50 + f * 10, (d * 100 + f) as u64)).unwrap();
        }
    }
    // The archive goes to stdout; mtimes, owners and order are the same in both runs.
    let guest = Guest::new("/bin/tar", &["--sort=name", "-cf", "-", "tree"], work.path());
    let c = compared(&guest, &work);
    assert_eq!(ending(&c.plain.status), "exit 0", "{}", c.plain.stderr);
    assert!(c.plain.stdout.contains("tree/d4/f19.txt"));
    c.assert_guest_unchanged(true);
    c.assert_counts_exact();
}

#[test]
fn find_with_tests_and_actions() {
    let work = TempDir::new("find");
    let guest = Guest::new(
        "/usr/bin/find",
        &["/usr/lib/python3.11", "-name", "*.py", "-size", "+40k", "-printf", "%p %s\n"],
        work.path(),
    );
    let c = compared(&guest, &work);
    assert_eq!(ending(&c.plain.status), "exit 0", "{}", c.plain.stderr);
    assert!(c.plain.stdout.contains("/usr/lib/python3.11/subprocess.py "), "{}", c.plain.stdout);
    c.assert_guest_unchanged(true);
    c.assert_counts_exact();
}

// ---- bash ----

const BASH_SCRIPT: &str = r#"
trap 'echo "trap USR1 (status $?)"' USR1
trap 'echo "trap EXIT (status $?)"' EXIT
kill -USR1 $$
seq 1 30000 | sort -rn | head -3 | while read -r x; do echo "top $x"; done
(exit 7); echo "subshell said $?"
kill -USR1 $$
f() { echo "in f: $1"; }
f one | tr a-z A-Z
echo "pipeline status: ${PIPESTATUS[*]}"
exit 4
"#;

#[test]
fn bash_pipeline_with_traps() {
    let work = TempDir::new("bash");
    let guest = Guest::new("/bin/bash", &["-c", BASH_SCRIPT], work.path());
    let c = compared(&guest, &work);
    assert_eq!(ending(&c.plain.status), "exit 4", "{}", c.plain.stderr);
    let expected = "trap USR1 (status 0)\ntop 30000\ntop 29999\ntop 29998\nsubshell said 7\ntrap USR1 (status 0)\n\
                    IN F: ONE\npipeline status: 0 0\ntrap EXIT (status 4)\n";
    assert_eq!(c.plain.stdout, expected);
    c.assert_guest_unchanged(true);
    c.assert_counts_exact();
}

// ---- CPython ----

const PY_THREADS: &str = r#"
import os, signal, subprocess, sys, threading, time
got = set()
def handler(signum, frame):
    got.add(signum)
signal.signal(signal.SIGUSR1, handler)
signal.signal(signal.SIGALRM, handler)
results = [0] * 8
def work(i):
    s = i
    for k in range(30000):
        s = (s * 31 + k) % 1000003
    results[i] = s
threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for _ in range(10):
    os.kill(os.getpid(), signal.SIGUSR1)
signal.setitimer(signal.ITIMER_REAL, 0.05)
for t in threads:
    t.join()
child = subprocess.run(["/bin/sh", "-c", "echo child says hi; exit 3"], capture_output=True, text=True)
while signal.SIGALRM not in got:
    time.sleep(0.01)
print("results", results)
print("signals", sorted(signal.Signals(s).name for s in got))
print("child", child.returncode, child.stdout.strip())
sys.exit(5)
"#;

#[test]
fn python_threads_signal_handlers_and_a_subprocess() {
    let work = TempDir::new("python");
    let guest = Guest::new(PYTHON, &["-c", PY_THREADS], work.path());
    let c = compared(&guest, &work);
    assert_eq!(ending(&c.plain.status), "exit 5", "{}", c.plain.stderr);
    assert!(c.plain.stdout.contains("signals ['SIGALRM', 'SIGUSR1']"), "{}", c.plain.stdout);
    assert!(c.plain.stdout.contains("child 3 child says hi"), "{}", c.plain.stdout);
    c.assert_guest_unchanged(true);
    c.assert_counts_exact();
    assert_eq!(c.census.as_ref().unwrap().get("threads-started"), 9, "main and eight Python threads");
}

/// What CPython's test runner reports, without timings.
#[derive(Debug, PartialEq)]
struct Results {
    ran: String,
    summary: String,
    result: String,
    /// "FAIL: ..." and "ERROR: ..." headers.
    failed: Vec<String>,
    /// Every "... skipped 'reason'" line.
    skipped: Vec<String>,
}

fn results(out: &str) -> Results {
    let find = |prefix: &str| out.lines().rfind(|l| l.starts_with(prefix)).unwrap_or("").to_string();
    let ran = find("Ran ");
    let ran = ran.split(" in ").next().unwrap().to_string();
    let summary = out.lines().rfind(|l| l.starts_with("OK") || l.starts_with("FAILED (")).unwrap_or("").to_string();
    let mut failed: Vec<String> =
        out.lines().filter(|l| l.starts_with("FAIL: ") || l.starts_with("ERROR: ")).map(String::from).collect();
    failed.sort();
    let mut skipped: Vec<String> = out.lines().filter(|l| l.contains(" ... skipped ")).map(String::from).collect();
    skipped.sort();
    Results { ran, summary, result: find("Tests result: "), failed, skipped }
}

/// `python3.11 -m test -v MODULE` under plain QEMU and under a script: the same results.
fn cpython_tests(module: &str) {
    let work = TempDir::new(module);
    let guest = Guest::new(PYTHON, &["-m", "test", "-v", module], work.path())
        .env("TMPDIR", &work.path().display().to_string());
    let c = compare(&guest, &work, true);
    let plain = results(&c.plain.stdout);
    assert!(plain.ran.starts_with("Ran "), "plain QEMU ran no tests:\n{}\n{}", c.plain.stdout, c.plain.stderr);
    let observed = results(&c.observed.stdout);
    assert_eq!(
        observed, plain,
        "{module} under a script gives other results than under plain QEMU\nstderr:\n{}",
        c.observed.stderr
    );
    assert_eq!(ending(&c.observed.status), ending(&c.plain.status));
    c.assert_counts_exact();
}

#[test]
fn cpython_test_signal() {
    cpython_tests("test_signal");
}

#[test]
fn cpython_test_threading() {
    cpython_tests("test_threading");
}

#[test]
fn cpython_test_subprocess() {
    cpython_tests("test_subprocess");
}

// ---- A server stopped by a signal ----

/// Puts SIGINT and SIGTERM back to their defaults in the child (a test may run with SIGINT
/// ignored, as background jobs of a shell do, and the guest would inherit that).
fn default_signals(cmd: &mut Command) {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            Ok(())
        });
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// GET /hello.txt once the server listens (it may take QEMU a while to start Python).
fn get(port: u16, child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            s.write_all(b"GET /hello.txt HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
            let mut response = String::new();
            s.read_to_string(&mut response).unwrap();
            return response;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the server ended before answering: {status:?}");
        }
        assert!(Instant::now() < deadline, "the server never listened on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Served {
    response: String,
    status: ExitStatus,
    stderr: String,
}

/// Starts `cmd` (a server on `port`), asks it for a file, sends it `signal`, waits for it,
/// and checks that no process it started is left running.
fn serve(mut cmd: Command, port: u16, signal: i32) -> Served {
    default_signals(&mut cmd);
    let mut child =
        cannonball_tests::watchdog::spawn(cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()));
    let response = get(port, &mut child);
    let descendants = descendants(child.id());
    // SAFETY: a signal to the process we started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    // Read the pipes on threads: a QEMU left running (orphaned by a wrapper that died of the
    // signal instead of passing it on) holds them open until it is ended below.
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let status = child.wait();
    // Whatever QEMU process is left (a wrapper that did not pass the signal on) is ours to end.
    let mut left = Vec::new();
    for pid in descendants {
        if Path::new(&format!("/proc/{pid}")).exists() && !zombie(pid) {
            left.push(pid);
            // SAFETY: a process we started (through `cannonball run`).
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
    out_reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    assert!(
        left.is_empty(),
        "processes still running after the server was stopped ({}): {left:?}\n{stderr}",
        ending(&status)
    );
    Served { response, status, stderr }
}

fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for c in children.split_whitespace() {
            let c: u32 = c.parse().unwrap();
            out.push(c);
            out.extend(descendants(c));
        }
    }
    out
}

fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map(|s| s.contains(") Z ")).unwrap_or(true)
}

fn site(work: &TempDir) -> std::path::PathBuf {
    let site = work.join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("hello.txt"), "hello from the guest\n").unwrap();
    site
}

fn server_args(port: u16, site: &Path) -> Vec<String> {
    ["-m", "http.server", "--bind", "127.0.0.1", &port.to_string(), "--directory", &site.display().to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn assert_answered(served: &Served) {
    assert!(served.response.starts_with("HTTP/1.0 200"), "{}", served.response);
    assert!(served.response.ends_with("hello from the guest\n"), "{}", served.response);
    assert!(served.stderr.contains("\"GET /hello.txt HTTP/1.0\" 200 -"), "{}", served.stderr);
}

/// cov's reports: both files exist and are not empty.
fn assert_cov_reports(out: &Path, stderr: &str) {
    let reports = report_names(out);
    for name in ["cov.txt", "cov.drcov"] {
        let len = std::fs::metadata(out.join(name)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{name} missing or empty in {reports:?}\nstderr:\n{stderr}");
    }
}

/// The server under plain QEMU, then under `-plugin libcannonball.so,script=cov.wasm`: it
/// answers, and `signal` ends QEMU the same way; cov's reports are written.
fn server_under_qemu(signal: i32) -> ExitStatus {
    let work = TempDir::new("server");
    let site = site(&work);
    let port = free_port();
    let args = server_args(port, &site);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let guest = Guest::new(PYTHON, &args, work.path());
    let plain = serve(guest.command(&[], None), port, signal);
    assert_answered(&plain);

    let out = work.join("out");
    let port = free_port();
    let args = server_args(port, &site);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let guest = Guest::new(PYTHON, &args, work.path());
    let options = [format!("script={}", script("cov").display()), format!("out={}", out.display())];
    let observed = serve(guest.command(&[plugin_arg(&plugin(), &options)], None), port, signal);
    assert_answered(&observed);
    assert_eq!(ending(&observed.status), ending(&plain.status), "QEMU ends as without the plugin\n{}", observed.stderr);
    assert_cov_reports(&out, &observed.stderr);
    plain.status
}

#[test]
fn http_server_stopped_with_sigterm_under_qemu() {
    let plain = server_under_qemu(libc::SIGTERM);
    assert_eq!(plain.signal(), Some(libc::SIGTERM), "Python's default for SIGTERM: die of it");
}

#[test]
fn http_server_stopped_with_sigint_under_qemu() {
    let plain = server_under_qemu(libc::SIGINT);
    // http.server catches KeyboardInterrupt and exits 0.
    assert_eq!(ending(&plain), "exit 0");
}

/// The same through `cannonball run`: the signal sent to cannonball reaches the guest, and
/// cannonball exits with the guest's status (128 + N for death by signal N).
fn server_under_cannonball_run(signal: i32, expected_code: i32) {
    let work = TempDir::new("server-run");
    let site = site(&work);
    let out = work.join("out");
    let port = free_port();
    let mut cmd = Command::new(cli());
    cmd.args(["run", "-q", "-s"]).arg(script("cov")).arg("-o").arg(&out).arg("--").arg(PYTHON);
    cmd.args(server_args(port, &site)).current_dir(work.path()).env("LC_ALL", "C").env_remove("RUST_BACKTRACE");
    let served = serve(cmd, port, signal);
    assert_answered(&served);
    assert_eq!(
        served.status.code(),
        Some(expected_code),
        "cannonball run's status: {:?}\n{}",
        served.status,
        served.stderr
    );
    assert_cov_reports(&out, &served.stderr);
}

#[test]
fn http_server_stopped_with_sigterm_under_cannonball_run() {
    server_under_cannonball_run(libc::SIGTERM, 128 + libc::SIGTERM);
}

#[test]
fn http_server_stopped_with_sigint_under_cannonball_run() {
    server_under_cannonball_run(libc::SIGINT, 0);
}
