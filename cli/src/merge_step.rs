//! The script's optional merge step (WIT `cannonball:script/merge`, new in 0.2.2): the
//! reports of several runs folded into one set by the script itself, outside QEMU. Used by
//! `cannonball merge DIR... -o OUT -s SCRIPT` and at the end of `cannonball run --corpus ...
//! -s SCRIPT`. A script without the export (0.2.1 and older, or one that does not merge)
//! leaves the per-run reports side by side.
//!
//! The merge runs with WASI that grants nothing, and of the host services only `log` (to
//! stderr) and `write-report` / `append-report` (added to the returned reports); the others
//! need a guest and fail the call.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cannonball_script_host::component;
use cannonball_script_host::offline::{self, Merged, Report, ReportSet};

/// What the merge step did.
pub enum Outcome {
    /// The script merged; these reports were written.
    Merged(Vec<String>),
    /// The script has no merge step: the line to show.
    NoMergeStep(String),
}

/// Merges the reports of `runs` (a name and the run's directory each) with `script`'s merge
/// step into `out`.
pub fn merge(script: &Path, runs: &[(String, PathBuf)], out: &Path) -> Result<Outcome> {
    let name = component::name(script);
    let compiled = component::compile_for_qemu_runs(script)?;
    let mut sets = Vec::with_capacity(runs.len());
    for (run, dir) in runs {
        sets.push(ReportSet { run: run.clone(), reports: read_reports(dir)? });
    }
    let all = match offline::merge(&compiled, &name, sets)? {
        Merged::NoMergeStep(why) => return Ok(Outcome::NoMergeStep(why)),
        Merged::Reports(all) => all,
    };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for (report, contents) in &all {
        if report.is_empty() || report.contains('/') || report.starts_with('.') {
            bail!("script {name}: merge returned a report named {report:?} (a plain file name is needed)");
        }
        let path = out.join(report);
        std::fs::write(&path, contents).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(Outcome::Merged(all.into_keys().collect()))
}

/// Every regular file of a run's directory, by name (a run stopped early may have none).
fn read_reports(dir: &Path) -> Result<Vec<Report>> {
    let mut reports = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(reports) };
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let path = entry.path();
        let contents = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        reports.push(Report { name: entry.file_name().to_string_lossy().into_owned(), contents });
    }
    reports.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(reports)
}

/// The one line that says what the merge step did.
pub fn describe(outcome: &Outcome, out: &Path, side_by_side: &str) -> String {
    match outcome {
        Outcome::Merged(names) => format!("cannonball: merged reports in {}: {}", out.display(), names.join(", ")),
        Outcome::NoMergeStep(why) => {
            format!("cannonball: {why}: per-input reports stay side by side in {side_by_side}")
        }
    }
}
