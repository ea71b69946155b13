//! Start-up cost: `qemu-x86_64 /bin/true` plain, and with a script compiled afresh (cache=off)
//! or loaded from the cache of compiled scripts (warm). A fuzzing corpus starts QEMU ten
//! thousand times; what matters there is the warm start's distance from plain QEMU.

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use cannonball_launcher::{QemuCommand, Tree, plugin_arg};

use super::median;

/// A warm start may cost this much over plain QEMU (the target).
const WARM_TARGET_MS: f64 = 30.0;

/// The scripts measured: one per guest language.
const SCRIPTS: &[(&str, &str)] = &[("icount", "C"), ("cov", "Rust"), ("syscalls", "AssemblyScript")];

pub fn run(runs: usize, dir: &Path) -> Result<()> {
    let tree = Tree::source();
    let truth = Path::new("/bin/true");
    let out = dir.join("startup-out");
    let cache = dir.join("startup-cache");
    // A cold cache for the first warm run: what was cached before belongs to another build.
    let _ = fs::remove_dir_all(&cache);
    fs::create_dir_all(&out)?;
    println!("\nStart-up: qemu-x86_64 /bin/true, median of {runs} runs (wall time)\n");
    let plain = median(&time(&tree, truth, None, runs)?);
    println!("plain QEMU: {:.1} ms\n", plain * 1e3);
    println!("| script | language | cold (cache=off) ms | warm ms | warm − plain ms | cold ÷ warm | target |");
    println!("|---|---|---|---|---|---|---|");
    for (name, lang) in SCRIPTS {
        let options = |cache_value: &str| {
            let run = [
                format!("script={}", tree.script(name).display()),
                format!("out={}", out.display()),
                format!("cache={cache_value}"),
            ];
            plugin_arg(&tree.plugin(), run)
        };
        let cold = median(&time(&tree, truth, Some(options("off")?), runs)?);
        let warm_plugin = options(cache.to_str().context("cache path is not UTF-8")?)?;
        time(&tree, truth, Some(warm_plugin.clone()), 1)?; // fills the cache
        let warm = median(&time(&tree, truth, Some(warm_plugin), runs)?);
        let over = (warm - plain) * 1e3;
        let target = format!("≤ {WARM_TARGET_MS:.0} ms {}", if over <= WARM_TARGET_MS { "met" } else { "MISSED" });
        println!(
            "| {name} | {lang} | {:.1} | {:.1} | {over:.1} | {:.1} | {target} |",
            cold * 1e3,
            warm * 1e3,
            cold / warm
        );
    }
    Ok(())
}

/// Wall times of `runs` runs of `program` under QEMU, with `plugin` if given.
fn time(tree: &Tree, program: &Path, plugin: Option<String>, runs: usize) -> Result<Vec<f64>> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let mut cmd = QemuCommand::new(tree.qemu("x86_64"), program)
            .plugin_log("/dev/null")
            .plugins(plugin.iter().cloned())
            .command();
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let start = Instant::now();
        let output = cmd.output().context("cannot run qemu")?;
        let elapsed = start.elapsed().as_secs_f64();
        if !output.status.success() {
            bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        times.push(elapsed);
    }
    Ok(times)
}
