//! The timeline example (`timeline.json`, Chrome trace event format) on a program with threads,
//! failing system calls, signals sent to itself and a fork (tests/programs/timeline.c), with
//! QEMU's libsyscall (and libinsn, to tell the processes' reports apart) in the same QEMU
//! process: per process, calls and errors per system call number equal libsyscall's; every
//! name is the kernel's number for it (the compiler's `__NR_<name>`); the file obeys the
//! format's rules; the tracks are the threads the program started plus main, each named by its
//! real tid (what gettid returned on it); the fork's child wrote its own file with its pid.
//! Also fork+exec (execve's path and argv), aarch64 (names from that architecture's table),
//! vCPU indices reused while other threads live (tests/programs/timeline_reuse.c: every track
//! still has its own tid), and bad arguments.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use cannonball_tests::cross::{Cross, Linking};
use cannonball_tests::{TempDir, oracle, oracle_plugin, plugin, plugin_arg, program, root, run_qemu, script};
use serde_json::Value;

/// calls and errors per system call number.
type Counts = BTreeMap<i64, (u64, u64)>;

/// One process's timeline file.
struct Timeline {
    path: PathBuf,
    json: Value,
}

impl Timeline {
    fn events(&self) -> &[Value] {
        self.json["traceEvents"].as_array().expect("traceEvents is an array")
    }
    fn other(&self, key: &str) -> &Value {
        &self.json["otherData"][key]
    }
    fn pid(&self) -> u64 {
        self.other("pid").as_u64().unwrap()
    }
    /// The events of system calls: those with `args.number`.
    fn calls(&self) -> impl Iterator<Item = &Value> {
        self.events().iter().filter(|e| e["args"]["number"].is_i64())
    }
    /// calls and errors per number, as libsyscall counts them (an error: a return below 0).
    fn counts(&self) -> Counts {
        let mut out: Counts = BTreeMap::new();
        for e in self.calls() {
            let entry = out.entry(e["args"]["number"].as_i64().unwrap()).or_default();
            entry.0 += 1;
            entry.1 += u64::from(e["args"]["return"].as_i64().is_some_and(|r| r < 0));
        }
        out
    }
    fn named(&self, name: &str) -> Vec<&Value> {
        self.events().iter().filter(|e| e["name"] == name).collect()
    }
}

/// Runs `binary` under qemu-`arch` with libinsn, libsyscall and the timeline script; returns
/// every timeline file, each with libsyscall's counts of its process. libinsn's instruction
/// total tells the parent's section (the file records the same total); QEMU's C plugins keep
/// their counts across fork(), so the child's section counts the parent's calls up to the
/// fork too (see [`strace_after_fork`] and [`pre_fork`]).
fn observe(arch: &str, binary: &Path, work: &TempDir) -> Vec<(Timeline, Counts)> {
    let out = work.join("out");
    let options = [format!("script={}", script("timeline").display()), format!("out={}", out.display())];
    let plugins = [
        plugin_arg(&oracle_plugin("insn"), &[]),
        plugin_arg(&oracle_plugin("syscall"), &[]),
        plugin_arg(&plugin(), &options),
    ];
    let run = run_qemu(arch, &plugins, binary, &[], work);
    assert!(run.output.status.success(), "{arch}: {}", run.stderr());
    assert!(!run.stderr().contains("warn"), "{arch}: {}", run.stderr());
    let mut sections: Vec<(u64, Counts)> =
        oracle::sections(&run.plugin_log).iter().map(|s| (oracle::insn(s).total, oracle::syscalls(s))).collect();
    let mut files: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let timelines: Vec<Timeline> = files
        .into_iter()
        .map(|path| {
            let json: Value = serde_json::from_slice(&std::fs::read(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
            Timeline { path, json }
        })
        .collect();
    assert_eq!(timelines.len(), sections.len(), "{arch}: one file per process");
    // The parent first: its section is the one with its instruction total.
    let (parents, children): (Vec<Timeline>, Vec<Timeline>) =
        timelines.into_iter().partition(|t| t.other("forked") == &Value::Bool(false));
    let mut out = Vec::new();
    for t in parents {
        let total = t.other("instructions").as_u64().unwrap();
        let at = sections.iter().position(|(n, _)| *n == total);
        let (_, oracle) = sections.remove(at.unwrap_or_else(|| panic!("{arch}: no libinsn section with {total}")));
        out.push((t, oracle));
    }
    for t in children {
        assert_eq!(sections.len(), 1, "{arch}: one forked child");
        let (_, mut oracle) = sections.remove(0);
        // What the child inherited: the parent's calls up to and including the fork. On
        // x86_64, strace says what the parent called after the fork when the program runs
        // natively (the same binary and libc), so the inherited part is libsyscall's parent
        // section less that, with nothing taken from the plugin under test. Elsewhere it is
        // read from the parent's timeline.
        let inherited = match arch {
            "x86_64" => subtract(&out[0].1, &strace_after_fork(binary, work)),
            _ => pre_fork(&out[0].0, t.pid()),
        };
        for (n, (calls, errors)) in inherited {
            let entry = oracle.get_mut(&n).unwrap_or_else(|| panic!("{arch}: inherited call {n} missing"));
            entry.0 -= calls;
            entry.1 -= errors;
        }
        oracle.retain(|_, (calls, _)| *calls > 0);
        out.push((t, oracle));
    }
    out
}

/// `a` less `b`, per system call number.
fn subtract(a: &Counts, b: &Counts) -> Counts {
    let mut out = a.clone();
    for (n, (calls, errors)) in b {
        let entry = out.get_mut(n).unwrap_or_else(|| panic!("call {n} is not in {a:?}"));
        entry.0 -= calls;
        entry.1 -= errors;
    }
    out.retain(|_, (calls, _)| *calls > 0);
    out
}

/// What the main thread of `binary` (an x86_64 program, run natively under `strace -f -n`
/// with its output piped, as under QEMU) called after its fork: calls and errors by number.
fn strace_after_fork(binary: &Path, work: &TempDir) -> Counts {
    let log = work.join("strace.txt");
    let out = Command::new("strace").args(["-f", "-n", "-o"]).arg(&log).arg(binary).output().expect("strace");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&log).unwrap();
    let main = text.split_whitespace().next().unwrap().to_string();
    let mut counts = Counts::new();
    let (mut forked, mut pending) = (false, None);
    for line in text.lines().filter(|l| l.split_whitespace().next() == Some(main.as_str())) {
        let rest = line[main.len()..].trim_start();
        let Some(rest) = rest.strip_prefix('[') else { continue };
        let (number, call) = rest.split_once(']').unwrap();
        let number: i64 = number.trim().parse().unwrap();
        let call = call.trim_start();
        let failed = call.contains(") = -1 ") || call.ends_with("= -1");
        if call.starts_with("<... ") {
            // The end of a call strace showed unfinished.
            if let Some(n) = pending.take().filter(|_| failed) {
                counts.entry(n).or_default().1 += 1;
            }
            continue;
        }
        if call.starts_with("---") || call.starts_with("+++") {
            continue;
        }
        if !forked {
            // glibc's fork: clone with SIGCHLD and no new stack, returning the child's pid.
            forked = call.starts_with("clone(child_stack=NULL") && call.contains("SIGCHLD");
            continue;
        }
        let entry = counts.entry(number).or_default();
        entry.0 += 1;
        if call.ends_with("<unfinished ...>") {
            pending = Some(number);
        } else if failed {
            entry.1 += 1;
        }
    }
    assert!(forked, "no fork in strace's log:\n{text}");
    counts
}

/// The parent's calls up to the fork that made `child` (the fork's clone included): every
/// call of the other threads (timeline.c joins them before forking) and the main thread's
/// calls until the fork.
fn pre_fork(parent: &Timeline, child: u64) -> Counts {
    let mut out: Counts = BTreeMap::new();
    let mut forked = false;
    for e in parent.calls() {
        let main = e["tid"].as_u64() == Some(parent.pid());
        if main && forked {
            continue;
        }
        let entry = out.entry(e["args"]["number"].as_i64().unwrap()).or_default();
        entry.0 += 1;
        entry.1 += u64::from(e["args"]["return"].as_i64().is_some_and(|r| r < 0));
        if main && e["args"]["child_pid"].as_u64() == Some(child) {
            forked = true;
        }
    }
    assert!(forked, "the parent's fork of {child}");
    out
}

/// The Chrome trace event format's rules, as Perfetto and chrome://tracing read it.
fn assert_well_formed(t: &Timeline) {
    let at = t.path.display();
    assert!(t.json["displayTimeUnit"].is_string(), "{at}: displayTimeUnit");
    assert!(t.other("clock").as_str().unwrap().contains("1 instruction"), "{at}: the clock is said");
    let mut last_ts: HashMap<(u64, u64), f64> = HashMap::new();
    let mut open: HashMap<(u64, u64), i64> = HashMap::new();
    for e in t.events() {
        let ph = e["ph"].as_str().unwrap_or_else(|| panic!("{at}: no ph in {e}"));
        assert!(["X", "B", "E", "i", "I", "M", "s", "t", "f"].contains(&ph), "{at}: ph {ph}");
        let (pid, tid) = (e["pid"].as_u64(), e["tid"].as_u64());
        let key = (
            pid.unwrap_or_else(|| panic!("{at}: no pid in {e}")),
            tid.unwrap_or_else(|| panic!("{at}: no tid in {e}")),
        );
        assert_eq!(key.0, t.pid(), "{at}: the process's own pid: {e}");
        assert!(e["name"].as_str().is_some_and(|n| !n.is_empty()), "{at}: name in {e}");
        if ph == "M" {
            assert!(["process_name", "thread_name", "thread_sort_index"].contains(&e["name"].as_str().unwrap()), "{e}");
            assert!(e["args"].is_object(), "{at}: metadata args: {e}");
            continue;
        }
        let ts = e["ts"].as_f64().unwrap_or_else(|| panic!("{at}: no ts in {e}"));
        assert!(ts >= 0.0, "{at}: {e}");
        if ph == "X" {
            assert!(e["dur"].as_f64().is_some_and(|d| d >= 0.0), "{at}: dur: {e}");
        }
        if ph == "i" || ph == "I" {
            assert!(["t", "p", "g"].contains(&e["s"].as_str().unwrap_or("t")), "{at}: scope: {e}");
        }
        let last = last_ts.entry(key).or_insert(0.0);
        assert!(ts >= *last, "{at}: ts goes back on its thread ({last} then {e})");
        *last = ts;
        *open.entry(key).or_default() += match ph {
            "B" => 1,
            "E" => -1,
            _ => 0,
        };
    }
    assert!(open.values().all(|&n| n == 0), "{at}: B and E balance");
    // Every track is named.
    let named: BTreeSet<u64> =
        t.events().iter().filter(|e| e["name"] == "thread_name").map(|e| e["tid"].as_u64().unwrap()).collect();
    let used: BTreeSet<u64> = t.events().iter().map(|e| e["tid"].as_u64().unwrap()).collect();
    assert_eq!(named, used, "{at}: every thread has a thread_name");
    assert_eq!(t.named("process_name").len(), 1, "{at}: process_name");
}

/// `__NR_<name>` for each name, as `gcc` evaluates it (compiled to assembly and read back).
fn compiler_numbers(gcc: &str, names: &BTreeSet<String>, work: &TempDir) -> BTreeMap<String, i64> {
    let src = work.join("numbers.c");
    let mut c = String::from("#include <asm/unistd.h>\n");
    for name in names {
        // Offset: a zero would go to .bss, without a value to read back.
        c.push_str(&format!("long nr_{name} = __NR_{name} + 1000000;\n"));
    }
    std::fs::write(&src, c).unwrap();
    let asm = work.join("numbers.s");
    let out = Command::new(gcc).args(["-S", "-o"]).arg(&asm).arg(&src).output().unwrap();
    assert!(out.status.success(), "{gcc}: {}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&asm).unwrap();
    let mut numbers = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(label) = line.strip_suffix(':').and_then(|l| l.strip_prefix("nr_")) {
            current = Some(label.to_owned());
        } else if let Some(name) = current.take() {
            let value: i64 = line.split_whitespace().last().unwrap().parse().unwrap();
            numbers.insert(name, value - 1_000_000);
        }
    }
    numbers
}

/// Counts equal libsyscall's; names are the kernel's; the format holds.
fn check_process(t: &Timeline, oracle: &Counts, gcc: &str, work: &TempDir) {
    assert_well_formed(t);
    assert_eq!(&t.counts(), oracle, "{}: calls and errors per number (ours, libsyscall)", t.path.display());
    let names: BTreeSet<String> = t.calls().map(|e| e["name"].as_str().unwrap().to_owned()).collect();
    assert!(names.iter().all(|n| !n.starts_with("syscall_")), "{}: unnamed calls in {names:?}", t.path.display());
    let kernel = compiler_numbers(gcc, &names, work);
    for e in t.calls() {
        let name = e["name"].as_str().unwrap();
        assert_eq!(Some(&e["args"]["number"].as_i64().unwrap()), kernel.get(name), "{}: {name}", t.path.display());
        // A failed call names its errno (rt_sigreturn's "return" is the interrupted code's).
        let ret = e["args"]["return"].as_i64().unwrap_or(0);
        if (-4095..0).contains(&ret) && !name.ends_with("sigreturn") {
            assert!(e["args"]["errno"].as_str().is_some_and(|s| s.starts_with('E')), "{e}");
        }
    }
    // Only exit, exit_group (and a successful execve) never return; they are instants.
    for e in t.calls().filter(|e| e["ph"] == "i") {
        assert!(["exit", "exit_group", "execve"].contains(&e["name"].as_str().unwrap()), "{e}");
    }
}

/// The tracks of `t`: main and `threads` others, each named by its real tid: every gettid on a
/// track returns the track's tid, the thread-starting clones returned exactly the other
/// tracks' tids, and each thread starts where its clone returned in its creator. Returns the
/// tid and vCPU index (from its name) of each track.
fn check_tracks(t: &Timeline, threads: usize) -> BTreeMap<u64, u64> {
    let names = t.named("thread_name");
    let tracks: BTreeSet<u64> = names.iter().map(|e| e["tid"].as_u64().unwrap()).collect();
    assert_eq!(tracks.len(), threads + 1, "main + {threads} threads: {tracks:?}");
    assert!(tracks.contains(&t.pid()), "the main thread's tid is the pid");
    let gettids = t.named("gettid");
    assert!(!gettids.is_empty(), "the program calls gettid");
    for e in gettids {
        assert_eq!(e["args"]["return"].as_u64(), e["tid"].as_u64(), "gettid returns its track's tid: {e}");
    }
    let clones: Vec<&Value> = t.calls().filter(|e| e["args"]["child_tid"].is_u64()).collect();
    let children: BTreeSet<u64> = clones.iter().map(|e| e["args"]["child_tid"].as_u64().unwrap()).collect();
    assert_eq!(children.len(), threads, "one clone per thread");
    assert_eq!(children, &tracks - &BTreeSet::from([t.pid()]), "thread clones name the tracks");
    assert_eq!(t.named("thread start").len(), threads + 1);
    assert_eq!(t.named("thread exit").len(), threads + 1);
    // A thread's start is where its clone returned: its clone's slice ends there.
    for c in clones {
        let child = c["args"]["child_tid"].as_u64().unwrap();
        let start = t.named("thread start").into_iter().find(|e| e["tid"].as_u64() == Some(child)).unwrap();
        let end = c["ts"].as_u64().unwrap() + c["dur"].as_u64().unwrap();
        assert_eq!(start["ts"].as_u64(), Some(end), "thread {child} starts where its clone returned: {c}");
    }
    names
        .iter()
        .map(|e| {
            let name = e["args"]["name"].as_str().unwrap();
            let vcpu = name.rsplit("(vCPU ").next().unwrap().trim_end_matches(')');
            (e["tid"].as_u64().unwrap(), vcpu.parse().unwrap_or_else(|_| panic!("a vCPU in {name}")))
        })
        .collect()
}

/// timeline_reuse.c: two long-lived threads; one after another, four short-lived ones that take
/// the index the previous one left (QEMU reuses an exited thread's vCPU index); then two at
/// once and, after both exited, one taking the lower of their indices.
fn check_reuse(files: &[(Timeline, Counts)], gcc: &str, work: &TempDir) {
    assert_eq!(files.len(), 1);
    let (t, oracle) = &files[0];
    check_process(t, oracle, gcc, work);
    let vcpus = check_tracks(t, 9);
    // In the order of the clones (all main's), G's index is below F's: what defeated matching
    // threads with clones by vCPU index.
    let mut clones: Vec<(u64, u64)> =
        t.calls().filter_map(|e| Some((e["ts"].as_u64()?, e["args"]["child_tid"].as_u64()?))).collect();
    clones.sort();
    let order: Vec<u64> = clones.iter().map(|&(_, tid)| vcpus[&tid]).collect();
    assert!(order.windows(2).any(|w| w[1] < w[0]), "an index below an earlier thread's: {order:?}");
    // gettid on every thread: main, A and B twice, each short-lived thread once.
    let on: BTreeSet<u64> = t.named("gettid").iter().map(|e| e["tid"].as_u64().unwrap()).collect();
    assert_eq!(on.len(), 10, "gettid on every track");
}

#[test]
fn reused_vcpu_indices_x86_64() {
    let work = TempDir::new("timeline-reuse-x86_64");
    let files = observe("x86_64", &program("timeline_reuse"), &work);
    check_reuse(&files, "gcc", &work);
}

#[test]
fn reused_vcpu_indices_aarch64() {
    let cross = Cross::by_arch("aarch64");
    let work = TempDir::new("timeline-reuse-aarch64");
    let prog = work.join("timeline_reuse");
    cross.compile(&root().join("tests/programs/timeline_reuse.c"), &prog, Linking::Static, &[]);
    let files = observe("aarch64", &prog, &work);
    check_reuse(&files, &cross.gcc(), &work);
}

/// The parent's and the child's files of timeline.c: threads, errors, signals, fork.
fn check_timeline_program(files: &[(Timeline, Counts)], gcc: &str, work: &TempDir) {
    assert_eq!(files.len(), 2, "the parent's file and the forked child's");
    for (t, oracle) in files {
        check_process(t, oracle, gcc, work);
    }
    let parent = &files.iter().find(|(t, _)| t.path.ends_with("timeline.json")).expect("timeline.json").0;
    let child = &files.iter().find(|(t, _)| !t.path.ends_with("timeline.json")).unwrap().0;

    // Tracks: main and the three threads, each named by its real tid.
    check_tracks(parent, 3);

    // Failing calls with their errno and path; signals sent and handled.
    let enoent: Vec<_> = parent
        .calls()
        .filter(|e| e["args"]["arg1"] == "/no/such/dir/timeline" && e["args"]["errno"] == "ENOENT")
        .collect();
    assert_eq!(enoent.len(), 3, "each thread's failed open");
    assert_eq!(enoent.iter().map(|e| e["tid"].as_u64()).collect::<BTreeSet<_>>().len(), 3, "on three tracks");
    // access (faccessat on aarch64): the path is its first or second argument.
    let path = |e: &Value| e["args"]["arg0"] == "/no/such/file" || e["args"]["arg1"] == "/no/such/file";
    assert!(parent.calls().any(|e| path(e) && e["args"]["errno"] == "ENOENT"), "the parent's failed access");
    let sends: Vec<_> = parent.named("tgkill");
    assert_eq!(sends.len(), 3);
    assert!(sends.iter().all(|e| e["args"]["signal"] == "SIGUSR1" && e["cat"] == "signal"), "{sends:?}");
    assert!(parent.named("rt_sigaction").iter().any(|e| e["args"]["signal"] == "SIGUSR1"));
    assert_eq!(parent.named("rt_sigreturn").len(), 3, "three handlers returned");

    // The fork: the child's pid in the parent's call and instant, the child's own file.
    let forks: Vec<u64> = parent.calls().filter_map(|e| e["args"]["child_pid"].as_u64()).collect();
    assert_eq!(forks, [child.pid()], "the fork's child pid");
    assert_eq!(parent.named(&format!("fork: {}", child.pid())).len(), 1);
    assert!(child.path.ends_with(format!("timeline.{}.json", child.pid())), "{}", child.path.display());
    assert_eq!(child.other("forked"), &Value::Bool(true));
    assert!(child.named("close").iter().any(|e| e["args"]["errno"] == "EBADF"), "the child's failed close");
    assert_eq!(child.named("thread_name").len(), 1);
}

#[test]
fn threads_errors_signals_and_a_fork_x86_64() {
    let work = TempDir::new("timeline-x86_64");
    let files = observe("x86_64", &program("timeline"), &work);
    check_timeline_program(&files, "gcc", &work);
    let parent = &files.iter().find(|(t, _)| t.path.ends_with("timeline.json")).unwrap().0;
    assert_eq!(parent.named("write")[0]["args"]["number"], 1);
    assert_eq!(parent.named("exit_group")[0]["args"]["number"], 231);
}

#[test]
fn fork_and_exec_x86_64() {
    let work = TempDir::new("timeline-fork-exec");
    let files = observe_unmatched("x86_64", &program("fork_exec"), &work);
    assert_eq!(files.len(), 2, "the parent's and the child's files");
    for t in &files {
        assert_well_formed(t);
    }
    let parent = files.iter().find(|t| t.path.ends_with("timeline.json")).unwrap();
    let child = files.iter().find(|t| !t.path.ends_with("timeline.json")).unwrap();
    let forks: Vec<u64> = parent.calls().filter_map(|e| e["args"]["child_pid"].as_u64()).collect();
    assert_eq!(forks, [child.pid()]);
    let exec = child.named("execve");
    assert_eq!(exec.len(), 1, "the child's exec");
    let exec = exec[0];
    assert_eq!(exec["ph"], "i");
    assert_eq!(exec["cat"], "process");
    assert_eq!(exec["args"]["arg0"], "/bin/echo");
    assert_eq!(exec["args"]["argv"][0], "echo");
    assert_eq!(exec["args"]["argv"][1], "child before exec:");
}

/// The files of a run whose exec'd child prints no libinsn section.
fn observe_unmatched(arch: &str, binary: &Path, work: &TempDir) -> Vec<Timeline> {
    let out = work.join("out");
    let options = [format!("script={}", script("timeline").display()), format!("out={}", out.display())];
    let run = run_qemu(arch, &[plugin_arg(&plugin(), &options)], binary, &[], work);
    assert!(run.output.status.success(), "{arch}: {}", run.stderr());
    let mut files: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .map(|path| Timeline { json: serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap(), path })
        .collect()
}

#[test]
fn names_from_the_guest_architecture_aarch64() {
    let cross = Cross::by_arch("aarch64");
    let work = TempDir::new("timeline-aarch64");
    let prog = work.join("timeline");
    cross.compile(&root().join("tests/programs/timeline.c"), &prog, Linking::Static, &[]);
    let files = observe("aarch64", &prog, &work);
    check_timeline_program(&files, &cross.gcc(), &work);
    let parent = &files.iter().find(|(t, _)| t.path.ends_with("timeline.json")).unwrap().0;
    assert_eq!(parent.other("arch"), "aarch64");
    assert_eq!(parent.named("write")[0]["args"]["number"], 64, "aarch64 numbers write 64");
    assert_eq!(parent.named("exit_group")[0]["args"]["number"], 94);
}

/// Runs the timeline script with `options` on the demo program; returns the one error line.
fn expect_error(options: &[&str]) -> String {
    let work = TempDir::new("timeline-bad");
    let mut all = vec![format!("script={}", script("timeline").display())];
    all.extend(options.iter().map(|s| s.to_string()));
    let run = run_qemu("x86_64", &[plugin_arg(&plugin(), &all)], &program("demo"), &[], &work);
    let stderr = run.stderr();
    assert!(!run.output.status.success(), "{options:?}: expected failure: {stderr}");
    let lines: Vec<_> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{options:?}: one line:\n{stderr}");
    assert!(lines[0].starts_with("cannonball: error: "), "{stderr}");
    lines[0].to_owned()
}

#[test]
fn bad_arguments() {
    let line = expect_error(&["max-event=10"]);
    assert!(line.contains("unknown argument 'max-event'"), "{line}");
    let line = expect_error(&["data=maybe"]);
    assert!(line.contains("'maybe'") && line.contains("data"), "{line}");
    let line = expect_error(&["max-events=0"]);
    assert!(line.contains("max-events=0"), "{line}");
}
