//! The corpus's result: per input its ending, time and coverage, the blocks it alone reached,
//! and the union of all coverage. Built from the run directories, so that `cannonball merge`
//! computes the same table from shards run on other machines.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::runner::Ending;

/// One row as a run left it.
#[derive(Debug, Clone)]
pub struct Row {
    pub input: String,
    pub ending: Ending,
    pub seconds: f64,
    /// The run's directory (its reports and coverage).
    pub dir: PathBuf,
}

/// A block as coverage.blocks names it: `0xOFFSET SIZE MODULE`.
type Block = String;

/// Which module's blocks the table counts: the program's own (the default) or every one.
///
/// Library coverage is not reproducible between runs: in QEMU user mode a 64-bit guest's
/// mappings land where QEMU's own allocations leave room (they differ with the script cache,
/// the options' lengths...), and the C library branches on addresses. The program's own
/// blocks are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counted {
    Module(String),
    All,
}

impl Counted {
    fn counts(&self, block: &str) -> bool {
        match self {
            Counted::All => true,
            Counted::Module(path) => block.splitn(3, ' ').nth(2) == Some(path.as_str()),
        }
    }

    fn to_text(&self) -> String {
        match self {
            Counted::All => "counted all modules\n".into(),
            Counted::Module(path) => format!("counted module {path}\n"),
        }
    }

    fn parse(text: &str) -> Option<Counted> {
        let line = text.lines().next()?;
        match line.strip_prefix("counted ")? {
            "all modules" => Some(Counted::All),
            rest => rest.strip_prefix("module ").map(|p| Counted::Module(p.to_owned())),
        }
    }
}

/// What `dir`'s table counted (corpus.counted).
pub fn read_counted(dir: &Path) -> Result<Counted> {
    let path = dir.join("corpus.counted");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Counted::parse(&text).with_context(|| format!("{} is damaged", path.display()))
}

/// Every block a run reached: the union of its processes' coverage.blocks files.
fn blocks_of(dir: &Path) -> Result<BTreeSet<Block>> {
    let mut blocks = BTreeSet::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with("coverage.") && name.ends_with(".blocks") {
            let text = std::fs::read_to_string(&path)?;
            blocks.extend(text.lines().map(str::to_owned));
        }
    }
    Ok(blocks)
}

/// Writes `out`/corpus.tsv and `out`/coverage.blocks; returns the table's text for the
/// terminal and the number of blocks reached in all.
pub fn write(rows: &[Row], counted: &Counted, out: &Path) -> Result<(String, usize)> {
    let coverage: Vec<BTreeSet<Block>> = rows
        .iter()
        .map(|r| Ok(blocks_of(&r.dir)?.into_iter().filter(|b| counted.counts(b)).collect()))
        .collect::<Result<_>>()?;
    let mut times_reached: HashMap<&str, u32> = HashMap::new();
    for blocks in &coverage {
        for b in blocks {
            *times_reached.entry(b).or_default() += 1;
        }
    }
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| (rows[a].ending.rank(), &rows[a].input).cmp(&(rows[b].ending.rank(), &rows[b].input)));
    let mut tsv = String::from("input\tending\tseconds\tblocks\talone\n");
    for &i in &order {
        let alone = coverage[i].iter().filter(|b| times_reached[b.as_str()] == 1).count();
        let r = &rows[i];
        let _ = writeln!(tsv, "{}\t{}\t{:.3}\t{}\t{alone}", r.input, r.ending.to_text(), r.seconds, coverage[i].len());
    }
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("corpus.tsv"), &tsv)?;
    std::fs::write(out.join("corpus.counted"), counted.to_text())?;
    let mut union: Vec<&str> = times_reached.keys().copied().collect();
    union.sort_unstable();
    let mut text = union.join("\n");
    text.push('\n');
    std::fs::write(out.join("coverage.blocks"), text)?;
    Ok((tsv, union.len()))
}

/// The rows of a corpus run's directory (its corpus.tsv and run directories).
pub fn read(dir: &Path) -> Result<Vec<Row>> {
    let path = dir.join("corpus.tsv");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (Some(input), Some(ending), Some(seconds)) =
            (f.first(), f.get(1).and_then(|e| Ending::parse(e)), f.get(2).and_then(|s| s.parse().ok()))
        else {
            bail!("{}:{}: not a corpus table row: {line:?}", path.display(), n + 1);
        };
        let run_dir = dir.join("runs").join(super::inputs::run_dir_name(input));
        rows.push(Row { input: input.to_string(), ending, seconds, dir: run_dir });
    }
    Ok(rows)
}
