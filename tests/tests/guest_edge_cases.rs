//! Guests that misbehave or just do unusual things: 16 threads, fork then exec, death by a
//! signal, closed stdout and stderr. In each, the script's report equals QEMU's libinsn in the
//! same run, and the forwarded stream reaches `cannonball dump` complete (dump checks each
//! stream's frame count against its end frame and fails otherwise).

use cannonball_tests::{
    QemuRun, TempDir, oracle, oracle_plugin, plugin, plugin_arg, program, run_qemu, script, start_dump,
};

struct Observed {
    run: QemuRun,
    /// libinsn's total per process, in exit order.
    oracle: Vec<u64>,
    /// icount's reports: file name → total.
    reports: Vec<(String, u64)>,
    /// dump --count's summary.
    dump: String,
}

fn observe(name: &str, args: &[&str]) -> Observed {
    let work = TempDir::new(name);
    let (dump, sock, dump_out) = start_dump(&work);
    let out = work.join("out");
    let options = [
        format!("script={}", script("icount").display()),
        format!("out={}", out.display()),
        format!("sock={}", sock.display()),
        "forward=trace+threads".to_string(),
    ];
    let plugins = [plugin_arg(&oracle_plugin("insn"), &[]), plugin_arg(&plugin(), &options)];
    let run = run_qemu("x86_64", &plugins, &program(name), args, &work);
    let dumped = dump.wait_with_output();
    assert!(dumped.status.success(), "dump: {}", String::from_utf8_lossy(&dumped.stderr));
    let oracle = oracle::sections(&run.plugin_log).iter().map(|s| oracle::insn(s).total).collect();
    let mut reports: Vec<(String, u64)> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .map(|name| {
            let text = std::fs::read_to_string(out.join(&name)).unwrap();
            let total = text.lines().find_map(|l| l.strip_prefix("total ")).unwrap().parse().unwrap();
            (name, total)
        })
        .collect();
    reports.sort();
    let dump = std::fs::read_to_string(dump_out).unwrap();
    Observed { run, oracle, reports, dump }
}

fn number(json: &str, key: &str) -> u64 {
    let at = json.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("{key} missing in {json}")) + key.len() + 3;
    json[at..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

#[test]
fn sixteen_threads() {
    let o = observe("threads", &["16"]);
    assert!(o.run.stdout().starts_with("threads: 16, checksum: "), "{}", o.run.stdout());
    assert_eq!(o.reports, vec![("icount.txt".to_string(), o.oracle[0])], "icount = libinsn");
    assert_eq!(number(&o.dump, "insns"), o.oracle[0], "forwarded trace = libinsn");
    assert_eq!(number(&o.dump, "threads"), 34, "17 threads started and exited: {}", o.dump);
}

#[test]
fn fork_then_exec() {
    let o = observe("fork_exec", &[]);
    let stdout = o.run.stdout();
    assert!(stdout.contains("child before exec: 6e475add3cd7da67"), "{stdout}");
    assert!(stdout.contains("child exited 0"), "{stdout}");
    // libinsn sees only the parent (QEMU's plugins get no exit callback at exec).
    assert_eq!(o.oracle.len(), 1);
    let parent = o.reports.iter().find(|(n, _)| n == "icount.txt").unwrap().1;
    assert_eq!(parent, o.oracle[0], "parent = libinsn");
    // The child reported at its execve: its work loop alone is 100,000 iterations.
    let child = o.reports.iter().find(|(n, _)| n != "icount.txt").expect("the child's report, written at exec");
    assert!(child.0.starts_with("icount.") && child.1 > 300_000, "{child:?}");
    assert_eq!(number(&o.dump, "connections"), 2, "{}", o.dump);
    assert_eq!(number(&o.dump, "insns"), parent + child.1, "both streams complete: {}", o.dump);
}

/// A fatal signal whose default action QEMU emulates (SIGABRT here; SIGSEGV mid-block is in
/// capture.rs). Signals QEMU leaves at the host's default (SIGTERM, SIGKILL, ... with no
/// guest handler) end QEMU at once with no exit callback for any plugin, QEMU's own included:
/// see docs/containment.md.
#[test]
fn killed_by_a_signal() {
    let o = observe("segv", &["abort"]);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(o.run.output.status.signal(), Some(6), "QEMU dies of the guest's SIGABRT");
    assert_eq!(o.reports, vec![("icount.txt".to_string(), o.oracle[0])], "icount = libinsn");
    assert_eq!(number(&o.dump, "insns"), o.oracle[0], "forwarded trace = libinsn");
}

#[test]
fn guest_closes_stdout_and_stderr() {
    let o = observe("closer", &[]);
    assert!(o.run.output.status.success());
    assert_eq!(o.reports, vec![("icount.txt".to_string(), o.oracle[0])], "icount = libinsn");
    assert_eq!(number(&o.dump, "insns"), o.oracle[0], "forwarded trace = libinsn");
    // Our own messages still reach QEMU's stderr (a descriptor duplicated at start-up).
    assert!(o.run.stderr().contains("[icount] info:"), "{}", o.run.stderr());
}
