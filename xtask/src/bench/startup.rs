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
    let cache_value = cache.to_str().context("cache path is not UTF-8")?.to_owned();
    let plugin = |name: &str, cache: &str| {
        let run = [
            format!("script={}", tree.script(name).display()),
            format!("out={}", out.display()),
            format!("cache={cache}"),
        ];
        plugin_arg(&tree.plugin(), run)
    };
    // Configurations: plain, then each script cold and warm. Rounds interleave them, so that
    // a busy moment of a shared machine falls on all of them alike.
    let mut configs: Vec<Option<String>> = vec![None];
    for (name, _) in SCRIPTS {
        configs.push(Some(plugin(name, "off")?));
        configs.push(Some(plugin(name, &cache_value)?));
        time(&tree, truth, configs.last().unwrap().clone(), 1)?; // fills the cache
    }
    let mut samples = vec![Vec::new(); configs.len()];
    for _ in 0..runs {
        for (config, times) in configs.iter().zip(&mut samples) {
            times.extend(time(&tree, truth, config.clone(), 1)?);
        }
    }
    let medians: Vec<f64> = samples.iter().map(|t| median(t) * 1e3).collect();
    let plain = medians[0];
    println!("\nStart-up: qemu-x86_64 /bin/true, median of {runs} interleaved runs (wall time)\n");
    println!("plain QEMU: {plain:.1} ms\n");
    println!("| script | language | cold (cache=off) ms | warm ms | warm − plain ms | cold ÷ warm | target |");
    println!("|---|---|---|---|---|---|---|");
    for (i, (name, lang)) in SCRIPTS.iter().enumerate() {
        let (cold, warm) = (medians[1 + 2 * i], medians[2 + 2 * i]);
        let over = warm - plain;
        let target = format!("≤ {WARM_TARGET_MS:.0} ms {}", if over <= WARM_TARGET_MS { "met" } else { "MISSED" });
        println!("| {name} | {lang} | {cold:.1} | {warm:.1} | {over:.1} | {:.1} | {target} |", cold / warm);
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
