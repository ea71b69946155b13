//! Corpus runs at their edges, as a job array meets them: more shards than inputs (an empty
//! shard succeeds with an empty table, and the merge of every shard still runs), and a merge
//! given a path that is no run's directory (a shell glob that matched nothing) refused in one
//! line.

use std::process::Output;

use cannonball_tests::{TempDir, cli, program, script, watchdog};

fn cannonball(args: &[&str], work: &TempDir) -> Output {
    let mut cmd = std::process::Command::new(cli());
    cmd.args(args).current_dir(work.path()).env_remove("RUST_BACKTRACE");
    watchdog::output(&mut cmd)
}

/// The input rows of a corpus.tsv: (input, ending).
fn rows(table: &str) -> Vec<(String, String)> {
    table
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_owned(), f[1].to_owned())
        })
        .collect()
}

#[test]
fn more_shards_than_inputs_all_succeed_and_merge() {
    let work = TempDir::new("corpus-empty-shards");
    std::fs::create_dir_all(work.join("corpus")).unwrap();
    std::fs::write(work.join("corpus/only"), "42").unwrap();
    let demo = program("demo");
    let cov = script("cov");
    let mut shards = Vec::new();
    for i in 1..=8 {
        let out = format!("shard-{i}");
        let run = cannonball(
            &[
                "run",
                "--corpus",
                "corpus",
                "--shard",
                &format!("{i}/8"),
                "-q",
                "-s",
                cov.to_str().unwrap(),
                "-o",
                &out,
                "--",
                demo.to_str().unwrap(),
            ],
            &work,
        );
        assert!(run.status.success(), "shard {i}/8: {}", String::from_utf8_lossy(&run.stderr));
        shards.push(out);
    }
    let tables: Vec<Vec<(String, String)>> =
        shards.iter().map(|s| rows(&std::fs::read_to_string(work.join(s).join("corpus.tsv")).unwrap())).collect();
    assert_eq!(tables.iter().filter(|t| t.is_empty()).count(), 7, "seven empty shards: {tables:?}");
    assert_eq!(tables.concat(), [("only".to_owned(), "exit 0".to_owned())]);

    let mut args = vec!["merge"];
    args.extend(shards.iter().map(String::as_str));
    args.extend(["-o", "merged", "-s", cov.to_str().unwrap()]);
    let merged = cannonball(&args, &work);
    assert!(merged.status.success(), "{}", String::from_utf8_lossy(&merged.stderr));
    let table = rows(&std::fs::read_to_string(work.join("merged/corpus.tsv")).unwrap());
    assert_eq!(table, [("only".to_owned(), "exit 0".to_owned())]);
    let listing = std::fs::read_to_string(work.join("merged/cov.txt")).unwrap();
    assert!(listing.contains("// symbol main "), "the one run's coverage: {listing}");
}

#[test]
fn merge_refuses_what_is_not_a_run_directory() {
    let work = TempDir::new("corpus-merge-bad");
    std::fs::create_dir_all(work.join("empty")).unwrap();
    let cov = script("cov");
    for (dir, expected) in [("shard-*", "shard-*: no such directory"), ("empty", "empty is empty")] {
        let out = cannonball(&["merge", dir, "-o", "merged", "-s", cov.to_str().unwrap()], &work);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{dir}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!work.join("merged/cov.txt").exists(), "nothing written for {dir}");
    }
}
