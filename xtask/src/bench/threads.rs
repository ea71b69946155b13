//! `cargo xtask bench --only threads`: a static guest whose N threads each run the same CPU and
//! memory loop (the guest's work grows with N), at 1, 2, 4 threads and as many as the machine
//! has cores, plain and with each capture configuration, ours and QEMU's C plugins, in the same
//! run. QEMU is started as users start it from a harness (a spawned process, not a shell's own
//! fork), and once more pinned to one core (`taskset -c 0`): a configuration much slower spread
//! over the cores than pinned to one fights over shared cache lines, not over work.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use cannonball_launcher::{QemuCommand, Tree, plugin_arg};

const SOURCE: &str = r#"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
static unsigned long iters;
static void *work(void *arg) {
    volatile unsigned long cells[64];
    unsigned long x = (unsigned long)arg + 1;
    for (unsigned long i = 0; i < iters; i++) {
        x = x * 6364136223846793005ul + 1;
        cells[i & 63] += x;
    }
    return (void *)(x ^ cells[3]);
}
int main(int argc, char **argv) {
    int n = atoi(argv[1]);
    iters = strtoul(argv[2], 0, 10);
    pthread_t t[256];
    for (int i = 0; i < n; i++) pthread_create(&t[i], 0, work, (void *)(long)i);
    unsigned long s = 0;
    for (int i = 0; i < n; i++) {
        void *r;
        pthread_join(t[i], &r);
        s ^= (unsigned long)r;
    }
    printf("%lx\n", s);
    return 0;
}
"#;

/// Loop iterations per thread: about half a second per thread under plain QEMU here.
const ITERATIONS: &str = "100000000";

pub fn run(runs: usize, dir: &Path) -> Result<()> {
    let tree = Tree::source();
    let dir = dir.join("threads");
    std::fs::create_dir_all(&dir)?;
    let src = dir.join("threads.c");
    std::fs::write(&src, SOURCE)?;
    let program = dir.join("threads");
    let built = Command::new("gcc").args(["-O2", "-static", "-pthread", "-o"]).arg(&program).arg(&src).status()?;
    if !built.success() {
        bail!("gcc could not build the threaded bench program");
    }
    let out = dir.join("out");
    std::fs::create_dir_all(&out)?;
    let c = |name: &str, options: &[&str]| plugin_arg(&tree.qemu_plugin(name), options);
    let cb = |script: &str, options: &[&str]| {
        let base = [format!("script={}", tree.script(script).display()), format!("out={}", out.display())];
        plugin_arg(&tree.plugin(), base.iter().map(String::as_str).chain(options.iter().copied()))
    };
    let configs: Vec<(&str, Vec<String>)> = vec![
        ("plain QEMU", vec![]),
        ("cannonball icount", vec![cb("icount", &[])?]),
        ("C libbb inline=true", vec![c("bb", &["inline=true"])?]),
        ("C libbb (callback per block)", vec![c("bb", &[])?]),
        ("cannonball census kinds=trace", vec![cb("census", &["kinds=trace"])?]),
        (
            "cannonball forward=trace to /dev/null",
            vec![plugin_arg(&tree.plugin(), ["fwd=/dev/null", "forward=trace"])?],
        ),
        ("cannonball census kinds=memory values=false", vec![cb("census", &["kinds=memory", "values=false"])?]),
    ];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut counts = vec![1, 2, 4];
    if cores > 4 {
        counts.push(cores);
    }
    println!("\nN threads of the same loop ({ITERATIONS} iterations each), {cores} cores, median of {runs} runs");
    println!("(wall seconds; × plain QEMU at the same N; pinned: the same run under taskset -c 0)\n");
    let header: Vec<String> =
        counts.iter().map(|&n| format!("{n} thread{} | pinned", if n == 1 { "" } else { "s" })).collect();
    println!("| configuration | {} |", header.join(" | "));
    println!("|---|{}", "---|---|".repeat(counts.len()));
    let mut plain = Vec::new();
    let mut cpu_rows = Vec::new();
    for (name, plugins) in &configs {
        let (mut cells, mut cpu_cells) = (Vec::new(), Vec::new());
        for (i, n) in counts.iter().enumerate() {
            let (spread, spread_cpu) = medians(&times(&program, *n, plugins, false, runs)?);
            let (pinned, pinned_cpu) = medians(&times(&program, *n, plugins, true, runs)?);
            if plain.len() <= i {
                plain.push((spread, pinned));
            }
            let (base, base_pinned) = plain[i];
            cells.push(format!("{spread:.2} ({:.2}×) | {pinned:.2} ({:.2}×)", spread / base, pinned / base_pinned));
            cpu_cells.push(format!("{spread_cpu:.2} | {pinned_cpu:.2} ({:.2}×)", spread_cpu / pinned_cpu));
        }
        println!("| {name} | {} |", cells.join(" | "));
        cpu_rows.push(format!("| {name} | {} |", cpu_cells.join(" | ")));
    }
    // The same runs' CPU time: work done pinned to one core cannot fight over cache lines, so
    // CPU seconds that grow when the threads spread over the cores are contention (lines
    // moving between cores, futex wake-ups), not the guest's work.
    println!("\nCPU seconds of the same runs (user + system, median), and spread over pinned\n");
    let header: Vec<String> = counts
        .iter()
        .map(|&n| format!("{n} thread{} | pinned (spread ÷ pinned)", if n == 1 { "" } else { "s" }))
        .collect();
    println!("| configuration | {} |", header.join(" | "));
    println!("|---|{}", "---|---|".repeat(counts.len()));
    for row in cpu_rows {
        println!("{row}");
    }
    forwarding(&program, &counts, runs, &dir)
}

/// The trace of every vCPU through one socket to `cannonball dump --count` (one writer for
/// all vCPUs): the rate in instruction addresses per second at each thread count, and
/// whether the consumer expanded exactly the producer's own instruction count.
fn forwarding(program: &Path, counts: &[usize], runs: usize, dir: &Path) -> Result<()> {
    println!("\nforward=trace over a Unix socket to `cannonball dump --count`, median of {runs}\n");
    println!("| threads | wall s | PCs | PC events/s | per thread | lossless |");
    println!("|---|---|---|---|---|---|");
    for &n in counts {
        let args = [std::ffi::OsString::from(n.to_string()), ITERATIONS.into()];
        let mut samples = Vec::new();
        for _ in 0..runs {
            samples.push(super::forward_once(program, &args, &[], dir)?);
        }
        samples.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        let s = &samples[samples.len() / 2];
        let rate = s.insns / s.seconds;
        println!(
            "| {n} | {:.2} | {:.2} G | {:.0} M/s | {:.0} M/s | {} |",
            s.seconds,
            s.insns / 1e9,
            rate / 1e6,
            rate / 1e6 / n as f64,
            if s.insns == s.end { "yes" } else { "NO" }
        );
    }
    Ok(())
}

/// `runs` (wall, CPU) seconds of the program with `threads` threads under `plugins`, pinned to
/// core 0 or not; QEMU spawned as a harness spawns it.
fn times(program: &Path, threads: usize, plugins: &[String], pinned: bool, runs: usize) -> Result<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    for _ in 0..runs {
        let qemu = QemuCommand::new(Tree::source().qemu("x86_64"), program)
            .plugin_log("/dev/null")
            .plugins(plugins.iter().cloned())
            .args([threads.to_string(), ITERATIONS.to_string()])
            .command();
        let mut cmd = if pinned {
            let mut taskset = Command::new("taskset");
            taskset.args(["-c", "0"]).arg(qemu.get_program()).args(qemu.get_args());
            for (key, value) in qemu.get_envs() {
                match value {
                    Some(value) => taskset.env(key, value),
                    None => taskset.env_remove(key),
                };
            }
            taskset
        } else {
            qemu
        };
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let (start, cpu_before) = (Instant::now(), super::children_cpu_seconds()?);
        let result = cmd.output().context("cannot run qemu")?;
        out.push((start.elapsed().as_secs_f64(), super::children_cpu_seconds()? - cpu_before));
        if !result.status.success() {
            bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&result.stderr));
        }
    }
    Ok(out)
}

/// The medians of the wall and the CPU times.
fn medians(times: &[(f64, f64)]) -> (f64, f64) {
    let (wall, cpu): (Vec<f64>, Vec<f64>) = times.iter().copied().unzip();
    (super::median(&wall), super::median(&cpu))
}
