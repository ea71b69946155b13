//! Corpus runs: `cannonball run --corpus DIR` on tests/programs/corpus_target.c, whose inputs
//! crash, hang, exit with a status or take one of two paths; the plugin's coverage.blocks
//! against QEMU's own drcov plugin; 4 shards run as separate processes and merged with
//! `cannonball merge` against one run over the whole corpus.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use cannonball_tests::{TempDir, cli, oracle_plugin, plugin, plugin_arg, program, run_qemu, script};

/// Seconds before a corpus run stops an input: the hanging one always reaches it, the others
/// finish in well under a second even on a loaded machine (the 3 s this once was left too
/// little room there).
const TIMEOUT: &str = "10";

/// The corpus: (name, content).
const INPUTS: [(&str, &str); 8] = [
    ("hello", "hello world"),
    ("numbers", "12345"),
    ("crash", "crash now"),
    ("hang", "hang forever"),
    ("seven", "exit 7"),
    ("more/vowels", "aeiou"),
    ("more/digits", "9876"),
    ("more/text", "some more text"),
];

/// A corpus of named inputs.
fn corpus(work: &TempDir) -> std::path::PathBuf {
    let dir = work.join("corpus");
    std::fs::create_dir_all(dir.join("more")).unwrap();
    for (name, text) in INPUTS {
        std::fs::write(dir.join(name), text).unwrap();
    }
    std::fs::write(dir.join(".hidden"), "crash").unwrap();
    dir
}

fn cannonball(args: &[&str], work: &TempDir) -> Output {
    cannonball_tests::watchdog::output(
        Command::new(cli()).args(args).current_dir(work.path()).env_remove("RUST_BACKTRACE"),
    )
}

/// corpus.tsv rows without the time column: (input, ending, blocks, alone).
fn table(dir: &Path) -> Vec<(String, String, u64, u64)> {
    std::fs::read_to_string(dir.join("corpus.tsv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_owned(), f[1].to_owned(), f[3].parse().unwrap(), f[4].parse().unwrap())
        })
        .collect()
}

fn run_corpus(work: &TempDir, out: &str, extra: &[&str], file_argument: bool) -> Output {
    let prog = program("corpus_target");
    let cov = script("cov");
    let mut args = vec![
        "run",
        "-q",
        "--corpus",
        "corpus",
        "--timeout",
        TIMEOUT,
        "--jobs",
        "2",
        "-s",
        cov.to_str().unwrap(),
        "-o",
        out,
    ];
    args.extend(extra);
    args.extend(["--", prog.to_str().unwrap()]);
    if file_argument {
        args.push("@@");
    }
    cannonball(&args, work)
}

#[test]
fn every_input_runs_with_its_ending_and_coverage() {
    let work = TempDir::new("corpus");
    corpus(&work);
    for (out, file_argument) in [("by-file", true), ("by-stdin", false)] {
        let run = run_corpus(&work, out, &[], file_argument);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let rows = table(&work.join(out));
        let endings: Vec<(&str, &str)> = rows.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
        // Crashes first, then timeouts, then by name; hidden files are not inputs.
        assert_eq!(
            endings,
            [
                ("crash", "signal 11"),
                ("hang", "timeout"),
                ("hello", "exit 0"),
                ("more/digits", "exit 0"),
                ("more/text", "exit 0"),
                ("more/vowels", "exit 0"),
                ("numbers", "exit 0"),
                ("seven", "exit 7"),
            ],
            "{out}"
        );
        let runs = work.join(out).join("runs");
        assert_eq!(std::fs::read_to_string(runs.join("more__vowels/guest.stdout")).unwrap(), "vowels 5\n", "{out}");
        assert_eq!(std::fs::read_to_string(runs.join("numbers/guest.stdout")).unwrap(), "digits 5\n", "{out}");
        // The stopped and the crashed runs kept their reports.
        for name in ["hang", "crash"] {
            let listing = std::fs::read_to_string(runs.join(name).join("cov.txt")).unwrap();
            assert!(listing.contains("// symbol main "), "{out}/{name}: {listing}");
        }
        // Only the digit inputs reach digits(); "numbers" and "more/digits" share it, so
        // neither reaches those blocks alone, but the union has them.
        let union = std::fs::read_to_string(work.join(out).join("coverage.blocks")).unwrap();
        let digits = digits_offset();
        let in_run = |name: &str| {
            std::fs::read_to_string(runs.join(name).join("coverage.blocks"))
                .unwrap()
                .lines()
                .any(|l| l.starts_with(&format!("{digits:#x} ")))
        };
        assert!(in_run("numbers") && in_run("more__digits") && !in_run("hello") && !in_run("more__vowels"), "{out}");
        assert!(union.lines().any(|l| l.starts_with(&format!("{digits:#x} "))), "{out}");
        // "seven" alone reached atoi's path; the sum of the per-run counts is at least the union.
        let seven = rows.iter().find(|r| r.0 == "seven").unwrap();
        assert!(seven.3 > 0, "{out}: {seven:?}");
    }
}

/// digits()'s offset in the (non-PIE) program: its address minus the first LOAD's 0x400000.
fn digits_offset() -> u64 {
    let out = Command::new("nm").arg(program("corpus_target")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.ends_with(" digits")).expect("digits in nm's output");
    u64::from_str_radix(line.split_whitespace().next().unwrap(), 16).unwrap() - 0x400000
}

#[test]
fn coverage_blocks_equal_qemu_drcov() {
    let work = TempDir::new("corpus-drcov");
    let input = work.join("input");
    std::fs::write(&input, "12 apples").unwrap();
    let drcov = work.join("qemu.drcov");
    let plugins = [
        plugin_arg(&oracle_plugin("drcov"), &[format!("filename={}", drcov.display())]),
        plugin_arg(
            &plugin(),
            &[
                format!("script={}", script("icount").display()),
                format!("out={}", work.join("out").display()),
                "coverage=true".into(),
            ],
        ),
    ];
    let run = run_qemu("x86_64", &plugins, &program("corpus_target"), &[input.to_str().unwrap()], &work);
    assert!(run.output.status.success(), "{}", run.stderr());
    let theirs = drcov_program_blocks(&drcov);
    let ours = coverage_program_blocks(&work.join("out/coverage.blocks"));
    assert!(theirs.len() > 20, "drcov listed {} blocks of the program", theirs.len());
    assert_eq!(ours, theirs, "the program's blocks = QEMU's drcov");
}

/// contrib drcov's file: the program's executed blocks (absolute start, size), from its
/// {u32 absolute start, u16 size, u16 module} records.
fn drcov_program_blocks(drcov: &Path) -> BTreeSet<(u64, u64)> {
    let bytes = std::fs::read(drcov).unwrap_or_else(|e| panic!("{}: {e}", drcov.display()));
    let table_at = bytes.windows(10).position(|w| w == b"BB Table: ").unwrap();
    let records = &bytes[table_at + bytes[table_at..].iter().position(|&b| b == b'\n').unwrap() + 1..];
    records
        .chunks_exact(8)
        .map(|r| {
            (
                u64::from(u32::from_le_bytes(r[0..4].try_into().unwrap())),
                u64::from(u16::from_le_bytes(r[4..6].try_into().unwrap())),
            )
        })
        .filter(|(start, _)| (0x400000..0x500000).contains(start))
        .collect()
}

/// coverage.blocks (`+0xOFFSET SIZE MODULE` lines): the (non-PIE) program's blocks, at their
/// absolute addresses.
fn coverage_program_blocks(file: &Path) -> BTreeSet<(u64, u64)> {
    let main = program("corpus_target").canonicalize().unwrap();
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ' ');
            let (offset, size, module) = (f.next()?, f.next()?, f.next()?);
            (Path::new(module) == main)
                .then(|| (u64::from_str_radix(&offset[2..], 16).unwrap() + 0x400000, size.parse().unwrap()))
        })
        .collect()
}

/// QEMU's drcov run on each input of the corpus alone: the union of the program's blocks.
/// The hanging input is stopped by SIGTERM after the corpus runs' timeout; QEMU's exit path
/// still runs drcov's exit callback, which writes the file. The others run to their end.
fn drcov_union(work: &TempDir) -> BTreeSet<(u64, u64)> {
    let mut union = BTreeSet::new();
    for (i, (name, _)) in INPUTS.iter().enumerate() {
        let drcov = work.join(&format!("input-{i}.drcov"));
        let mut cmd = Command::new("timeout");
        cmd.arg(if *name == "hang" { TIMEOUT } else { "0" })
            .arg(cannonball_tests::qemu("x86_64"))
            .arg("-plugin")
            .arg(format!("{},filename={}", oracle_plugin("drcov").display(), drcov.display()))
            .arg(program("corpus_target"))
            .arg(work.join("corpus").join(name));
        cannonball_tests::watchdog::output(&mut cmd);
        union.extend(drcov_program_blocks(&drcov));
    }
    union
}

#[test]
fn shards_merge_into_the_single_run() {
    let work = TempDir::new("corpus-shards");
    corpus(&work);
    let whole = run_corpus(&work, "whole", &[], true);
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    // Four shards, each its own process, as four tasks of a job array would run them.
    let shards: Vec<cannonball_tests::watchdog::Watched> = (1..=4)
        .map(|i| {
            let prog = program("corpus_target");
            let cov = script("cov");
            let shard = format!("{i}/4");
            let out = format!("shard-{i}");
            cannonball_tests::watchdog::spawn(
                Command::new(cli())
                    .args([
                        "run",
                        "-q",
                        "--corpus",
                        "corpus",
                        "--timeout",
                        TIMEOUT,
                        "--jobs",
                        "1",
                        "--shard",
                        &shard,
                        "-s",
                    ])
                    .arg(&cov)
                    .args(["-o", &out, "--"])
                    .arg(&prog)
                    .arg("@@")
                    .current_dir(work.path()),
            )
        })
        .collect();
    let mut dirs = Vec::new();
    for (i, mut child) in shards.into_iter().enumerate() {
        let status = child.wait();
        let dir = format!("shard-{}", i + 1);
        if work.join(&dir).join("corpus.tsv").exists() {
            dirs.push(dir);
        } else {
            // A shard with no inputs fails with one line; there are 8 inputs for 4 shards.
            assert!(!status.success());
        }
    }
    let sizes: Vec<usize> = dirs.iter().map(|d| table(&work.join(d)).len()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 8, "every input in exactly one shard: {sizes:?}");
    let mut args = vec!["merge", "-o", "merged"];
    args.extend(dirs.iter().map(String::as_str));
    let merged = cannonball(&args, &work);
    assert!(merged.status.success(), "{}", String::from_utf8_lossy(&merged.stderr));
    assert_eq!(table(&work.join("merged")), table(&work.join("whole")), "the merge equals the single run");
    assert_eq!(
        std::fs::read_to_string(work.join("merged/coverage.blocks")).unwrap(),
        std::fs::read_to_string(work.join("whole/coverage.blocks")).unwrap()
    );
    // And both equal QEMU's drcov, run on each input alone.
    let union = drcov_union(&work);
    assert!(union.len() > 20, "drcov listed {} blocks of the program", union.len());
    assert_eq!(coverage_program_blocks(&work.join("merged/coverage.blocks")), union, "merged blocks = drcov's union");
    // Merging a shard twice is refused.
    let twice = cannonball(&["merge", "-o", "bad", &dirs[0], &dirs[0]], &work);
    assert!(!twice.status.success() && String::from_utf8_lossy(&twice.stderr).contains("more than one"));
}
