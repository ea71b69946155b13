//! Forwarding end to end: QEMU with libcannonball.so streams to `cannonball dump` over a Unix
//! socket, and what dump received equals what QEMU's own plugins counted in the same run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cannonball_tests::{TempDir, cli, oracle, oracle_plugin, plugin, plugin_arg, program, run_qemu, script};

/// `cannonball dump --sock S` in the background, started before QEMU.
struct Dump {
    child: cannonball_tests::watchdog::Watched,
    sock: PathBuf,
    output: PathBuf,
}

impl Dump {
    fn start(work: &TempDir, count: bool) -> Dump {
        let sock = work.join("events.sock");
        let output = work.join("dump.out");
        let mut cmd = Command::new(cli());
        cmd.arg("dump").arg("--sock").arg(&sock).arg("-o").arg(&output).stderr(Stdio::piped());
        if count {
            cmd.arg("--count");
        }
        let child = cannonball_tests::watchdog::spawn(&mut cmd);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !sock.exists() {
            assert!(Instant::now() < deadline, "dump did not start listening");
            std::thread::sleep(Duration::from_millis(10));
        }
        Dump { child, sock, output }
    }

    /// Waits for dump to end (it ends by itself when every stream ended).
    fn finish(self) -> String {
        let out = self.child.wait_with_output();
        assert!(out.status.success(), "dump failed: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::read_to_string(&self.output).unwrap()
    }
}

/// The oracles: libinsn, libmem twice (reads, writes; callback), libsyscall.
fn oracle_plugins(work: &TempDir) -> Vec<String> {
    let [reads, writes] = cannonball_tests::libmem_reads_writes(work);
    vec![plugin_arg(&oracle_plugin("insn"), &[]), reads, writes, plugin_arg(&oracle_plugin("syscall"), &[])]
}

fn number(json: &str, key: &str) -> u64 {
    let at = json.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("{key} missing in {json}")) + key.len() + 3;
    json[at..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

type Oracle = oracle::Process;

fn oracles(log: &str) -> Vec<Oracle> {
    oracle::sections(log).iter().map(|s| Oracle::of(s)).collect()
}

fn forward_run(prog: &Path, args: &[&str], forward: &str, count: bool, work: &TempDir) -> (String, Vec<Oracle>) {
    let dump = Dump::start(work, count);
    let mut plugins = oracle_plugins(work);
    plugins.push(plugin_arg(&plugin(), &[format!("sock={}", dump.sock.display()), format!("forward={forward}")]));
    let run = run_qemu("x86_64", &plugins, prog, args, work);
    assert!(run.output.status.success(), "{}", run.stderr());
    (dump.finish(), oracles(&run.plugin_log))
}

#[test]
fn dump_counts_equal_the_oracles() {
    let work = TempDir::new("fwd-count");
    let (summary, oracles) = forward_run(&program("threads"), &[], "trace+memory+syscalls", true, &work);
    let o = &oracles[0];
    assert_eq!(number(&summary, "connections"), 1);
    assert_eq!(number(&summary, "insns"), o.insns, "instructions expanded from forwarded executions (libinsn)");
    assert_eq!(number(&summary, "end_instructions"), o.insns, "the end frame's total (libinsn)");
    assert_eq!(number(&summary, "memory"), o.reads + o.writes, "memory accesses (libmem)");
    let calls: u64 = o.syscalls.values().map(|&(c, _)| c).sum();
    assert_eq!(number(&summary, "syscalls"), calls, "system calls (libsyscall)");
}

#[test]
fn dump_json_lines_equal_the_oracles() {
    let work = TempDir::new("fwd-json");
    let (lines, oracles) = forward_run(&program("demo"), &[], "trace+syscalls", false, &work);
    let o = &oracles[0];
    let mut insns = 0u64;
    let mut by_number: BTreeMap<i64, u64> = BTreeMap::new();
    for line in lines.lines() {
        if line.starts_with(r#"{"event":"insn""#) {
            insns += 1;
        } else if line.starts_with(r#"{"event":"syscall""#) {
            *by_number.entry(number(line, "number") as i64).or_default() += 1;
        }
    }
    assert_eq!(insns, o.insns, "one insn line per executed instruction (libinsn)");
    let expected: BTreeMap<i64, u64> = o.syscalls.iter().map(|(&n, &(c, _))| (n, c)).collect();
    assert_eq!(by_number, expected, "syscall lines by number (libsyscall)");
    assert!(lines.starts_with(r#"{"event":"hello""#), "a stream starts with hello");
    assert!(lines.trim_end().lines().last().unwrap().starts_with(r#"{"event":"end""#), "and ends with end");
}

#[test]
fn a_forked_child_streams_on_its_own_connection() {
    let work = TempDir::new("fwd-fork");
    let (summary, oracles) = forward_run(&program("fork_counted"), &[], "trace+memory+syscalls", true, &work);
    assert_eq!(oracles.len(), 2, "two processes exited");
    assert_eq!(number(&summary, "connections"), 2, "{summary}");
    // The streams of both processes, summed by dump: the parent's whole run (libinsn's parent
    // section) and the child's own part (its section less the parent's known pre-fork part).
    let (child, parent) = (&oracles[0], &oracles[1]);
    let own = child.forked_child_own(parent, &oracle::fork_counted_parent_tail("x86_64"));
    assert_eq!(number(&summary, "insns"), parent.insns + own.insns, "instructions (libinsn)");
    assert_eq!(number(&summary, "end_instructions"), parent.insns + own.insns, "the end frames (libinsn)");
    let memory = parent.reads + parent.writes + own.reads + own.writes;
    assert_eq!(number(&summary, "memory"), memory, "memory accesses (libmem)");
    let calls: u64 = parent.syscalls.values().chain(own.syscalls.values()).map(|&(c, _)| c).sum();
    assert_eq!(number(&summary, "syscalls"), calls, "system calls (libsyscall)");
}

#[test]
fn script_records_reach_the_consumer_in_order() {
    let work = TempDir::new("fwd-emit");
    let dump = Dump::start(&work, false);
    let options = [
        format!("script={}", script("census").display()),
        format!("out={}", work.join("out").display()),
        "emit=true".to_string(),
        format!("sock={}", dump.sock.display()),
    ];
    let run = run_qemu("x86_64", &[plugin_arg(&plugin(), &options)], &program("demo"), &[], &work);
    assert!(run.output.status.success(), "{}", run.stderr());
    let lines = dump.finish();
    let records: Vec<&str> = lines.lines().filter(|l| l.starts_with(r#"{"event":"record""#)).collect();
    assert!(!records.is_empty(), "census emits one record per batch and one at finish");
    // The last record is census's finish record: its payload is the instruction total, which
    // the end frame reports independently.
    let end = lines.lines().last().unwrap();
    let last = records.last().unwrap();
    assert_eq!(number(last, "tag"), 2, "{last}");
    let payload = last.split(r#""payload":""#).nth(1).unwrap().trim_end_matches("\"}");
    let bytes: Vec<u8> =
        (0..payload.len()).step_by(2).map(|i| u8::from_str_radix(&payload[i..i + 2], 16).unwrap()).collect();
    assert_eq!(u64::from_le_bytes(bytes.try_into().unwrap()), number(end, "instructions"));
    assert_eq!(number(end, "records"), records.len() as u64);
}

#[test]
fn nobody_listening_is_one_error_line_after_the_timeout() {
    let work = TempDir::new("fwd-nobody");
    let options = [format!("sock={}", work.join("nobody.sock").display()), "sock-timeout=0.3".to_string()];
    let run = run_qemu("x86_64", &[plugin_arg(&plugin(), &options)], &program("demo"), &[], &work);
    assert_eq!(run.output.status.code(), Some(1));
    let stderr = run.stderr();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("cannonball: error: nobody listens on socket"), "{stderr}");
    assert!(run.stdout().is_empty(), "the guest never ran");
}

#[test]
fn a_consumer_that_goes_away_does_not_harm_the_guest() {
    let work = TempDir::new("fwd-gone");
    let sock = work.join("gone.sock");
    // A listener that accepts, reads a little and hangs up.
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let reader = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = std::io::Read::read(&mut conn, &mut buf);
    });
    let options = [format!("sock={}", sock.display()), "forward=trace".to_string()];
    let run = run_qemu("x86_64", &[plugin_arg(&plugin(), &options)], &program("demo"), &[], &work);
    reader.join().unwrap();
    assert!(run.output.status.success(), "{}", run.stderr());
    assert!(run.stdout().contains("primes below 10000: 1229"), "the guest ran to the end");
    assert!(run.stderr().contains("cannonball: error: forwarding failed"), "{}", run.stderr());
}

#[test]
fn fwd_file_holds_the_same_stream() {
    let work = TempDir::new("fwd-file");
    let file = work.join("trace.cbal");
    let options = [format!("fwd={}", file.display()), "forward=trace".to_string()];
    let plugins = [plugin_arg(&oracle_plugin("insn"), &[]), plugin_arg(&plugin(), &options)];
    let run = run_qemu("x86_64", &plugins, &program("demo"), &[], &work);
    assert!(run.output.status.success(), "{}", run.stderr());
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"CBAL\x01\x00"), "preamble and version 1");
    let insns = oracle::insn(&run.plugin_log).total;
    // The end frame is the last 5 + 4 + 12 + 16 + 8 bytes for one vCPU.
    let end = &bytes[bytes.len() - 45..];
    assert_eq!(end[4], 8, "end frame kind");
    assert_eq!(u64::from_le_bytes(end[13..21].try_into().unwrap()), insns, "end frame's instructions (libinsn)");
    assert_eq!(&end[37..45], &[0u8; 8], "exit status 0, no signal");
}

#[test]
fn fwd_stdout_carries_the_stream() {
    // `closer` closes its own stdout first: QEMU's stdout then holds only our stream, written
    // through a descriptor duplicated at start-up.
    let work = TempDir::new("fwd-stdout");
    let options = ["fwd=-".to_string(), "forward=trace".to_string()];
    let plugins = [plugin_arg(&oracle_plugin("insn"), &[]), plugin_arg(&plugin(), &options)];
    let run = run_qemu("x86_64", &plugins, &program("closer"), &[], &work);
    assert!(run.output.status.success(), "{}", run.stderr());
    let bytes = &run.output.stdout;
    assert!(bytes.starts_with(b"CBAL\x01\x00"), "preamble and version 1");
    let end = &bytes[bytes.len() - 45..];
    assert_eq!(end[4], 8, "end frame kind");
    assert_eq!(u64::from_le_bytes(end[13..21].try_into().unwrap()), oracle::insn(&run.plugin_log).total);
    assert_eq!(&end[37..45], &[0u8; 8], "exit status 0, no signal");
}

/// The frames of a recorded stream: (offset, length with the 4-byte length field, kind).
fn frames_of(stream: &[u8]) -> Vec<(usize, usize, u8)> {
    let mut out = Vec::new();
    let mut at = 8; // the preamble
    while at + 5 <= stream.len() {
        let len = u32::from_le_bytes(stream[at..at + 4].try_into().unwrap()) as usize;
        out.push((at, 4 + len, stream[at + 4]));
        at += 4 + len;
    }
    assert_eq!(at, stream.len(), "the stream ends on a frame boundary");
    out
}

/// `cannonball dump --from FILE --count`.
fn dump_count(file: &Path, work: &TempDir) -> std::process::Output {
    let mut cmd = Command::new(cli());
    cmd.arg("dump").arg("--from").arg(file).arg("--count").arg("-o").arg(work.join("count.json"));
    cannonball_tests::watchdog::output(&mut cmd)
}

/// The completeness check other tests rely on ("N frames sent, M received"): a whole recorded
/// stream decodes to libinsn's instruction total, and the same stream with one block-execution
/// frame dropped is refused.
#[test]
fn dump_decodes_whole_streams_and_catches_a_dropped_frame() {
    let work = TempDir::new("fwd-dropped");
    let file = work.join("trace.cbal");
    let options = [format!("fwd={}", file.display()), "forward=trace".to_string()];
    let plugins = [plugin_arg(&oracle_plugin("insn"), &[]), plugin_arg(&plugin(), &options)];
    let run = run_qemu("x86_64", &plugins, &program("demo"), &[], &work);
    assert!(run.output.status.success(), "{}", run.stderr());
    let stream = std::fs::read(&file).unwrap();

    let whole = dump_count(&file, &work);
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    let summary = std::fs::read_to_string(work.join("count.json")).unwrap();
    assert_eq!(number(&summary, "insns"), oracle::insn(&run.plugin_log).total, "every execution decoded (libinsn)");

    let frames = frames_of(&stream);
    let execs: Vec<_> = frames.iter().filter(|f| f.2 == 3).collect();
    assert!(execs.len() >= 2, "{} block-execution frames", execs.len());
    let (at, len, _) = *execs[execs.len() / 2];
    let mut damaged = stream[..at].to_vec();
    damaged.extend_from_slice(&stream[at + len..]);
    let cut = work.join("dropped.cbal");
    std::fs::write(&cut, damaged).unwrap();
    let refused = dump_count(&cut, &work);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "a stream missing a frame passed: {stderr}");
    let n = frames.len();
    // The end frame counts every frame, itself included.
    assert!(stderr.contains(&format!("{n} frames sent, {} received", n - 1)), "{stderr}");
}
