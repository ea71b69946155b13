//! The scripts' optional merge step (WIT `cannonball:script/merge`, 0.2.2): cov run over a
//! corpus in three shards, merged by `cannonball merge -s cov.wasm`, against the per-run
//! reports: hit counts summed, `lcov -a` of the runs' cov.info, the union of their drcov
//! blocks, and the single run over the whole corpus. A 0.2.0 script has no merge step and
//! keeps its reports side by side; a merge that fails is one error line and exit status 1.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cannonball_tests::{TempDir, cli, program, script};

fn corpus(work: &TempDir) {
    let dir = work.join("corpus");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in [
        ("hello", "hello world"),
        ("numbers", "12345"),
        ("crash", "crash now"),
        ("seven", "exit 7"),
        ("vowels", "aeiou"),
        ("digits", "9876"),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

fn cannonball(args: &[&str], work: &TempDir) -> Output {
    cannonball_tests::watchdog::output(
        Command::new(cli()).args(args).current_dir(work.path()).env_remove("RUST_BACKTRACE"),
    )
}

fn run_corpus(work: &TempDir, script: &Path, out: &str, shard: Option<&str>) -> Output {
    let prog = program("corpus_target");
    let mut args = vec!["run", "--corpus", "corpus", "--timeout", "10", "--jobs", "2", "-s", script.to_str().unwrap()];
    if let Some(shard) = shard {
        args.extend(["--shard", shard]);
    }
    args.extend(["-o", out, "--", prog.to_str().unwrap(), "@@"]);
    let output = cannonball(&args, work);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output
}

/// Every run directory under the out directories.
fn run_dirs(work: &TempDir, outs: &[&str]) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for out in outs {
        for entry in std::fs::read_dir(work.join(out).join("runs")).unwrap() {
            dirs.push(entry.unwrap().path());
        }
    }
    dirs.sort();
    dirs
}

/// cov.txt as (function header, address) -> hits.
fn listing(text: &str) -> BTreeMap<(String, u64), u64> {
    let mut counts = BTreeMap::new();
    let mut function = String::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(h) = line.strip_prefix("// symbol ") {
            function = h.to_owned();
            continue;
        }
        let mut f = line.split_whitespace();
        let address = u64::from_str_radix(f.next().unwrap().trim_start_matches("0x"), 16).unwrap();
        let hits: u64 = f.next().unwrap().parse().unwrap();
        *counts.entry((function.clone(), address)).or_default() += hits;
    }
    counts
}

/// A tracefile as file -> (line -> count, function -> calls).
type Tracefile = BTreeMap<String, (BTreeMap<u32, u64>, BTreeMap<String, u64>)>;

fn tracefile(text: &str) -> Tracefile {
    let mut files = Tracefile::new();
    let mut file = String::new();
    for line in text.lines() {
        let (key, value) = line.split_once(':').unwrap_or((line, ""));
        match key {
            "SF" => {
                file = value.to_owned();
                files.entry(file.clone()).or_default();
            }
            "DA" => {
                let mut f = value.split(',');
                let (line, count) = (f.next().unwrap().parse().unwrap(), f.next().unwrap().parse::<u64>().unwrap());
                *files.get_mut(&file).unwrap().0.entry(line).or_default() += count;
            }
            "FNDA" => {
                let (calls, name) = value.split_once(',').unwrap();
                *files.get_mut(&file).unwrap().1.entry(name.to_owned()).or_default() += calls.parse::<u64>().unwrap();
            }
            _ => {}
        }
    }
    files
}

/// A drcov file's blocks as (module path, offset, size); checks that every block's module
/// is in the module table and that the table's ids are 0..n.
fn drcov_blocks(bytes: &[u8]) -> BTreeSet<(String, u32, u16)> {
    let at = bytes.windows(10).position(|w| w == b"BB Table: ").expect("BB Table");
    let eol = at + bytes[at..].iter().position(|&b| b == b'\n').unwrap();
    let header = std::str::from_utf8(&bytes[..at]).unwrap();
    let modules: Vec<(u16, String)> = header
        .lines()
        .skip_while(|l| !l.starts_with("Columns:"))
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.splitn(7, ", ").collect();
            (f[0].parse().unwrap(), f[6].to_owned())
        })
        .collect();
    for (i, (id, _)) in modules.iter().enumerate() {
        assert_eq!(*id as usize, i, "module ids in order: {header}");
    }
    let count: usize =
        std::str::from_utf8(&bytes[at + 10..eol]).unwrap().trim().trim_end_matches("bbs").trim().parse().unwrap();
    let records = &bytes[eol + 1..];
    assert_eq!(records.len(), count * 8);
    records
        .chunks_exact(8)
        .map(|r| {
            let id = u16::from_le_bytes([r[6], r[7]]) as usize;
            assert!(id < modules.len(), "block of module {id} outside the table");
            (modules[id].1.clone(), u32::from_le_bytes(r[0..4].try_into().unwrap()), u16::from_le_bytes([r[4], r[5]]))
        })
        .collect()
}

#[test]
fn cov_merges_shards_into_summed_counts_lcov_and_the_drcov_union() {
    let work = TempDir::new("merge-step");
    corpus(&work);
    let cov = script("cov");
    let shards = ["shard-1", "shard-2", "shard-3"];
    for (i, out) in shards.iter().enumerate() {
        run_corpus(&work, &cov, out, Some(&format!("{}/3", i + 1)));
    }
    let merged =
        cannonball(&["merge", "shard-1", "shard-2", "shard-3", "-o", "merged", "-s", cov.to_str().unwrap()], &work);
    let stderr = String::from_utf8_lossy(&merged.stderr);
    assert!(merged.status.success(), "{stderr}");
    assert!(stderr.contains("merged reports in merged: cov.drcov, cov.html, cov.info, cov.txt"), "{stderr}");
    let runs = run_dirs(&work, &shards);
    assert_eq!(runs.len(), 6);
    let read = |p: PathBuf| std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));

    // (a) Hit counts per instruction: the sum over the runs, and what the single run over
    // the whole corpus (which merges at its end) says.
    let mut summed: BTreeMap<(String, u64), u64> = BTreeMap::new();
    for dir in &runs {
        for (key, n) in listing(&String::from_utf8(read(dir.join("cov.txt"))).unwrap()) {
            *summed.entry(key).or_default() += n;
        }
    }
    let merged_txt = String::from_utf8(read(work.join("merged/cov.txt"))).unwrap();
    assert_eq!(listing(&merged_txt), summed);
    assert!(summed.values().any(|&n| n >= 6), "main runs once per input");
    let whole = run_corpus(&work, &cov, "whole", None);
    assert!(String::from_utf8_lossy(&whole.stderr).contains("merged reports in whole"));
    assert_eq!(listing(&String::from_utf8(read(work.join("whole/cov.txt"))).unwrap()), summed);
    let html = String::from_utf8(read(work.join("merged/cov.html"))).unwrap();
    assert!(html.contains("digits") && html.contains("vowels"), "cov.html lists the functions");

    // (b) cov.info: what lcov's own merge (`lcov -a`) makes of the runs' tracefiles.
    let mut lcov = Command::new("lcov");
    for dir in &runs {
        lcov.arg("-a").arg(dir.join("cov.info"));
    }
    let out = lcov.arg("-o").arg(work.join("lcov-a.info")).arg("-q").output().expect("lcov (Debian package lcov)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let oracle = tracefile(&String::from_utf8(read(work.join("lcov-a.info"))).unwrap());
    let ours = tracefile(&String::from_utf8(read(work.join("merged/cov.info"))).unwrap());
    assert_eq!(ours, oracle);
    assert!(ours.keys().any(|f| f.ends_with("corpus_target.c")), "{:?}", ours.keys());

    // (c) cov.drcov: the union of the runs' blocks, in a consistent module table.
    let mut union = BTreeSet::new();
    for dir in &runs {
        union.extend(drcov_blocks(&read(dir.join("cov.drcov"))));
    }
    assert_eq!(drcov_blocks(&read(work.join("merged/cov.drcov"))), union);
    assert!(!union.is_empty());
}

#[test]
fn an_old_script_keeps_its_reports_side_by_side() {
    let work = TempDir::new("merge-step-old");
    corpus(&work);
    let old = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cov-0.2.0.wasm");
    let run = run_corpus(&work, &old, "out", None);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("script cov-0.2.0 has no merge step (built for cannonball:script@0.2.0)"), "{stderr}");
    assert!(!work.join("out/cov.txt").exists());
    for dir in run_dirs(&work, &["out"]) {
        assert!(dir.join("cov.txt").is_file() && dir.join("cov.drcov").is_file(), "{}", dir.display());
    }
    let merged = cannonball(&["merge", "out", "-o", "merged", "-s", old.to_str().unwrap()], &work);
    let stderr = String::from_utf8_lossy(&merged.stderr);
    assert!(merged.status.success(), "{stderr}");
    let line: Vec<&str> = stderr.lines().filter(|l| l.contains("merge step")).collect();
    assert_eq!(
        line,
        [
            "cannonball: script cov-0.2.0 has no merge step (built for cannonball:script@0.2.0): per-input reports stay side by side in out/runs"
        ]
    );
    assert!(work.join("merged/corpus.tsv").is_file());
    assert!(!work.join("merged/cov.txt").exists());
}

#[test]
fn a_failing_merge_is_one_error_line() {
    let work = TempDir::new("merge-step-error");
    corpus(&work);
    let cov = script("cov");
    run_corpus(&work, &cov, "out", None);
    std::fs::write(work.join("out/runs/seven/cov.drcov"), "DRCOV VERSION: 2\ntruncated").unwrap();
    let merged = cannonball(&["merge", "out", "-o", "merged", "-s", cov.to_str().unwrap()], &work);
    assert_eq!(merged.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&merged.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(
        errors,
        ["cannonball: error: script cov: merge failed: cov.drcov of run seven: no BB Table"],
        "{stderr}"
    );
    assert!(!work.join("merged/cov.txt").exists());
}

/// The C SDK's merge step (icount: totals summed) and the AssemblyScript SDK's (syscalls:
/// count tables summed), over one corpus run each.
#[test]
fn c_and_assemblyscript_scripts_merge() {
    let work = TempDir::new("merge-step-sdks");
    corpus(&work);
    let read = |p: PathBuf| std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));

    run_corpus(&work, &script("icount"), "icount", None);
    let mut total = 0u64;
    let runs = run_dirs(&work, &["icount"]);
    for dir in &runs {
        let text = read(dir.join("icount.txt"));
        total += text.lines().next().unwrap().strip_prefix("total ").unwrap().parse::<u64>().unwrap();
    }
    assert_eq!(read(work.join("icount/icount.txt")), format!("total {total}\nruns {}\n", runs.len()));

    run_corpus(&work, &script("syscalls"), "syscalls", None);
    // (calls, errors) per system call, from the count tables.
    let table = |text: &str| -> BTreeMap<String, (u64, u64)> {
        let lines: Vec<&str> = text.lines().collect();
        let at = lines.iter().rposition(|l| l.trim_start().starts_with("calls  errors")).expect("count table");
        lines[at + 1..]
            .iter()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|f| f.len() == 4)
            .map(|f| (format!("{} {}", f[2], f[3]), (f[0].parse().unwrap(), f[1].parse().unwrap())))
            .collect()
    };
    let mut summed: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for dir in run_dirs(&work, &["syscalls"]) {
        for (call, (c, e)) in table(&read(dir.join("syscalls.txt"))) {
            let s = summed.entry(call).or_default();
            s.0 += c;
            s.1 += e;
        }
    }
    let merged = read(work.join("syscalls/syscalls.txt"));
    assert_eq!(table(&merged), summed);
    assert!(summed.keys().any(|k| k.ends_with(" exit_group")), "{merged}");
}

/// `cannonball merge -s` also takes the out directories of single `cannonball run`s.
#[test]
fn single_runs_merge_too() {
    let work = TempDir::new("merge-step-single");
    corpus(&work);
    let cov = script("cov");
    let prog = program("corpus_target");
    let mut summed: BTreeMap<(String, u64), u64> = BTreeMap::new();
    for (out, input) in [("r1", "corpus/hello"), ("r2", "corpus/numbers")] {
        let run = cannonball(
            &["run", "-q", "-s", cov.to_str().unwrap(), "-o", out, "--", prog.to_str().unwrap(), input],
            &work,
        );
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        for (key, n) in listing(&std::fs::read_to_string(work.join(out).join("cov.txt")).unwrap()) {
            *summed.entry(key).or_default() += n;
        }
    }
    let merged = cannonball(&["merge", "r1", "r2", "-o", "m", "-s", cov.to_str().unwrap()], &work);
    assert!(merged.status.success(), "{}", String::from_utf8_lossy(&merged.stderr));
    assert_eq!(listing(&std::fs::read_to_string(work.join("m/cov.txt")).unwrap()), summed);
    assert!(!work.join("m/corpus.tsv").exists());
    // Without a script a single run's directory is refused.
    let refused = cannonball(&["merge", "r1", "-o", "m2"], &work);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("r1 has no corpus.tsv"));
}
