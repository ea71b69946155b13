//! `cannonball run --corpus DIR`: the program once per input, N at a time, each in its own
//! directory under the out directory (`runs/<input>/`: the script's reports, the guest's
//! output, coverage.blocks); then one table (corpus.tsv: per input its ending, time, blocks
//! reached and blocks it alone reached, crashes and timeouts first) and the union of the
//! coverage (coverage.blocks). `--shard I/N` runs a deterministic share, and `cannonball merge`
//! combines shards' directories into the table one run would have made.

mod inputs;
mod runner;
mod table;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Result, bail};

use crate::locate::Guest;
pub use inputs::Shard;

#[derive(clap::Args, Debug, Default)]
pub struct CorpusArgs {
    /// Run the program once per file under DIR: `@@` in its arguments becomes the input's
    /// path, else the input is its stdin.
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
    /// Runs at a time (default: the machine's cores).
    #[arg(long, requires = "corpus")]
    pub jobs: Option<usize>,
    /// Stop a run after this many seconds (its reports are kept).
    #[arg(long, value_name = "SECONDS", requires = "corpus")]
    pub timeout: Option<f64>,
    /// Run only shard I of N (e.g. one task of a Slurm job array); `cannonball merge` combines.
    #[arg(long, value_name = "I/N", requires = "corpus")]
    pub shard: Option<Shard>,
    /// Count every module's blocks in the table, not only the program's own (library
    /// coverage varies between runs of the same input under QEMU: see docs/corpus.md).
    #[arg(long, requires = "corpus")]
    pub all_modules: bool,
}

/// One corpus run as `cannonball run --corpus` asked for it.
pub struct Plan<'a> {
    pub corpus: &'a CorpusArgs,
    /// The program and its arguments (`@@` for the input's path).
    pub guest: &'a Guest,
    /// The plugin's options, the same for every input (`out=` is added per run).
    pub plugin_options: &'a [String],
    /// Where `runs/`, corpus.tsv and coverage.blocks go.
    pub out: &'a Path,
    /// The script, whose merge step folds the runs' reports at the end.
    pub script: Option<&'a Path>,
    pub quiet: bool,
}

/// Runs every input; returns the exit status for `cannonball run` (0 when every input ran,
/// whatever the guest did: crashes are findings, not errors).
pub fn run(plan: &Plan<'_>) -> Result<i32> {
    let counted = if plan.corpus.all_modules {
        table::Counted::All
    } else {
        table::Counted::Module(plan.guest.program().canonicalize()?.to_string_lossy().into_owned())
    };
    let rows = run_inputs(plan)?;
    let (tsv, reached) = table::write(&rows, &counted, plan.out)?;
    if !plan.quiet {
        eprint!("{}", tsv.replace('\t', "  "));
        eprintln!(
            "cannonball: {} inputs, {} crashed, {} timed out; {reached} blocks reached in all; table in {}",
            rows.len(),
            rows.iter().filter(|r| r.ending.rank() == 0).count(),
            rows.iter().filter(|r| r.ending.rank() == 1).count(),
            plan.out.join("corpus.tsv").display()
        );
    }
    if let Some(script) = plan.script.filter(|_| !rows.is_empty()) {
        let outcome = crate::merge_step::merge(script, &runs_of(&rows), plan.out)?;
        if !plan.quiet {
            let side_by_side = plan.out.join("runs").display().to_string();
            eprintln!("{}", crate::merge_step::describe(&outcome, plan.out, &side_by_side));
        }
    }
    Ok(0)
}

/// The program once per input of the plan's corpus (or shard), `jobs` at a time: a row per
/// input, in the inputs' order. The first error that is not the guest's stops the rest.
fn run_inputs(plan: &Plan<'_>) -> Result<Vec<table::Row>> {
    let corpus = plan.corpus;
    let dir = corpus.corpus.as_deref().expect("corpus set");
    let inputs = inputs::list(dir, corpus.shard)?;
    if inputs.is_empty() {
        // A shard may get no input (more tasks than inputs): an empty table, not a failure,
        // so that a job array's merge step still runs. A corpus without inputs is a mistake.
        if corpus.shard.is_some() && !inputs::list(dir, None)?.is_empty() {
            return Ok(Vec::new());
        }
        bail!("corpus {} has no inputs", dir.display());
    }
    let jobs = corpus.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let timeout = match corpus.timeout {
        Some(t) if !(t > 0.0 && t.is_finite()) => bail!("--timeout must be a positive number of seconds"),
        t => t.map(Duration::from_secs_f64),
    };
    let progress = progress_bar(inputs.len(), plan.quiet);
    let next = AtomicUsize::new(0);
    let rows: Mutex<Vec<Option<table::Row>>> = Mutex::new(vec![None; inputs.len()]);
    let crashes = AtomicUsize::new(0);
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(inputs.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(input) = inputs.get(i) else { break };
                    let run_dir = plan.out.join("runs").join(inputs::run_dir_name(&input.name));
                    match runner::run_one(plan.guest, plan.plugin_options, input, &run_dir, timeout) {
                        Ok((ending, seconds)) => {
                            if ending.rank() == 0 {
                                crashes.fetch_add(1, Ordering::Relaxed);
                            }
                            rows.lock().unwrap()[i] =
                                Some(table::Row { input: input.name.clone(), ending, seconds, dir: run_dir });
                        }
                        Err(err) => {
                            failure.lock().unwrap().get_or_insert(err.context(format!("input {}", input.name)));
                            next.store(inputs.len(), Ordering::Relaxed);
                        }
                    }
                    progress.set_message(format!("{} crashes", crashes.load(Ordering::Relaxed)));
                    progress.inc(1);
                }
            });
        }
    });
    progress.finish_and_clear();
    if let Some(err) = failure.into_inner().unwrap() {
        return Err(err);
    }
    Ok(rows.into_inner().unwrap().into_iter().flatten().collect())
}

/// The runs' names and directories, for the script's merge step.
fn runs_of(rows: &[table::Row]) -> Vec<(String, PathBuf)> {
    rows.iter().map(|r| (r.input.clone(), r.dir.clone())).collect()
}

/// `cannonball merge DIR... -o OUT`: the table and coverage of several corpus runs (shards)
/// as one run over all their inputs would have made them. With a script, its merge step
/// folds the runs' reports into OUT; then a DIR may also be the out directory of a single
/// `cannonball run` (no corpus.tsv), which counts as one run named by its path.
pub fn merge(dirs: &[PathBuf], out: &Path, script: Option<&Path>) -> Result<()> {
    // A shell glob that matched nothing arrives as itself: refuse it rather than merge nothing.
    for dir in dirs {
        if !dir.is_dir() {
            bail!("{}: no such directory (not the out directory of a run)", dir.display());
        }
        if std::fs::read_dir(dir)?.next().is_none() {
            bail!("{} is empty: not the out directory of a run", dir.display());
        }
    }
    let (corpora, single): (Vec<&PathBuf>, Vec<&PathBuf>) = dirs.iter().partition(|d| d.join("corpus.tsv").is_file());
    if script.is_none()
        && let Some(dir) = single.first()
    {
        bail!(
            "{} has no corpus.tsv: not the out directory of a corpus run (give -s SCRIPT to merge the reports of single runs)",
            dir.display()
        );
    }
    let mut rows = Vec::new();
    let mut counted = None;
    for dir in &corpora {
        rows.extend(table::read(dir)?);
        let this = table::read_counted(dir)?;
        if counted.as_ref().is_some_and(|c| *c != this) {
            bail!(
                "{} counted other modules than the first directory (another program, or --all-modules)",
                dir.display()
            );
        }
        counted = Some(this);
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = rows.iter().find(|r| !seen.insert(r.input.clone())) {
        bail!("input {} appears in more than one of the directories (overlapping shards?)", dup.input);
    }
    if let Some(counted) = counted {
        let (_, reached) = table::write(&rows, &counted, out)?;
        eprintln!(
            "cannonball: merged {} inputs from {} directories; {reached} blocks reached in all; table in {}",
            rows.len(),
            corpora.len(),
            out.join("corpus.tsv").display()
        );
    }
    if let Some(script) = script {
        let mut runs = runs_of(&rows);
        runs.extend(single.iter().map(|d| (d.display().to_string(), d.to_path_buf())));
        let outcome = crate::merge_step::merge(script, &runs, out)?;
        let mut places: Vec<String> = corpora.iter().map(|d| d.join("runs").display().to_string()).collect();
        places.extend(single.iter().map(|d| d.display().to_string()));
        eprintln!("{}", crate::merge_step::describe(&outcome, out, &places.join(", ")));
    }
    Ok(())
}

/// The live line: inputs done/total, rate, crashes so far (indicatif draws only on a terminal).
fn progress_bar(total: usize, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("cannonball: {pos}/{len} inputs, {per_sec}, {msg}, {elapsed}")
    {
        bar.set_style(style);
    }
    bar
}
