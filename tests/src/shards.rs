//! The shard workflow as the docs give it to clusters (docs/corpus.md): a `/shared` directory
//! with an installation (`cargo xtask install`'s layout), the corpus, the script and the
//! target, and the check that a merge of shards equals one unsharded run. Used by the Slurm
//! and the Kubernetes tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use cannonball_launcher::Tree;

use crate::{cli, program, script, watchdog};

/// The corpus: 8 inputs of tests/programs/corpus_target.c, one that crashes, one that hangs.
const INPUTS: [(&str, &str); 8] = [
    ("hello", "hello world"),
    ("numbers", "12345"),
    ("crash", "crash now"),
    ("hang", "hang forever"),
    ("seven", "exit 7"),
    ("vowels", "aeiou"),
    ("digits", "9876"),
    ("text", "some more text"),
];

/// Lays out what the docs call `/shared` (or `/data`) in `dir`: `cannonball/` (an
/// installation), `cov.wasm`, `target` and `corpus/`.
pub fn shared_dir(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    cannonball_launcher::install(&Tree::source(), &dir.join("cannonball")).unwrap();
    std::fs::copy(script("cov"), dir.join("cov.wasm")).unwrap();
    std::fs::copy(program("corpus_target"), dir.join("target")).unwrap();
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    for (name, text) in INPUTS {
        std::fs::write(corpus.join(name), text).unwrap();
    }
    dir.to_path_buf()
}

/// The fenced blocks of language `lang` in docs/corpus.md's section `heading`, in order.
pub fn documented_blocks(heading: &str, lang: &str) -> Vec<String> {
    let doc = std::fs::read_to_string(Tree::source().root().join("docs/corpus.md")).unwrap();
    let section = doc.split(heading).nth(1).unwrap_or_else(|| panic!("docs/corpus.md has no {heading}"));
    let section = section.split("\n### ").next().unwrap().split("\n## ").next().unwrap();
    section.split(&format!("```{lang}\n")).skip(1).map(|b| b.split("```").next().unwrap().to_owned()).collect()
}

/// corpus.tsv without the time column.
pub fn table(dir: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir.join("corpus.tsv")).unwrap_or_else(|_| panic!("{}", dir.display()));
    text.lines()
        .map(|l| l.split('\t').enumerate().filter(|(i, _)| *i != 2).map(|(_, f)| f.to_owned()).collect())
        .collect()
}

/// cov.txt, with the hanging input's loop counts masked: how often it goes round in the 10 s
/// timeout depends on the machine's load.
fn listing(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("cov.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.get(1).and_then(|n| n.parse::<u64>().ok()) {
                Some(n) if n > 1_000_000 => format!("{} (the endless loop) {}", f[0], f[2..].join(" ")),
                _ => l.to_owned(),
            }
        })
        .collect()
}

/// Runs the corpus of `shared` once, unsharded, into `whole`, and checks that `merged` (a
/// merge of shards) equals it: the table, coverage.blocks and cov's listing.
pub fn assert_merged_equals_single_run(shared: &Path, merged: &Path, whole: &Path) {
    let mut cmd = Command::new(cli());
    cmd.args(["run", "--corpus"])
        .arg(shared.join("corpus"))
        .args(["--timeout", "10", "-q", "-s"])
        .arg(shared.join("cov.wasm"))
        .arg("-o")
        .arg(whole)
        .arg("--")
        .arg(shared.join("target"))
        .arg("@@");
    let out = watchdog::output(&mut cmd);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(table(merged), table(whole), "the merged table equals the single run's");
    let rows = table(whole);
    let endings: Vec<(&str, &str)> = rows.iter().skip(1).map(|r| (r[0].as_str(), r[1].as_str())).collect();
    assert!(endings.contains(&("crash", "signal 11")) && endings.contains(&("hang", "timeout")), "{endings:?}");
    assert_eq!(
        std::fs::read_to_string(merged.join("coverage.blocks")).unwrap(),
        std::fs::read_to_string(whole.join("coverage.blocks")).unwrap(),
        "coverage.blocks: merged against the single run"
    );
    assert_eq!(listing(merged), listing(whole), "cov.txt: merged against the single run");
}
