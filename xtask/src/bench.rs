//! `cargo xtask bench`: programs of different shapes under QEMU (gzip -9 of text, gzip -9 of
//! already-compressed data, sha256sum with its long blocks), plain and with each capture
//! configuration, Cannonball's (appending and callback paths) and QEMU's own C plugins
//! measured in the same run. Prints one table per program: wall-time medians and the ratio
//! to plain QEMU on that program. Timings are never asserted anywhere.
//! Then start-up: /bin/true plain, with a script compiled afresh, and with it cached
//! (bench/startup.rs). `--only system`: a Linux kernel boot under qemu-system-x86_64
//! (bench/system.rs), measured only when asked for (it takes minutes). Then guests with 1, 2,
//! 4 and as many threads as cores, spread and pinned to one core (bench/threads.rs; alone:
//! `--only threads`). Then the cost of probes (bench/probes.rs; alone: `--only probes`).

mod probes;
mod startup;
mod system;
mod threads;

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use cannonball_launcher::{QemuCommand, Tree, plugin_arg};

use crate::build;

/// Input size for configurations too slow for the full input.
const SMALL_INPUT: usize = 64 << 10;

/// One measured configuration: its name, the `-plugin` arguments, and the target ratio.
struct Config {
    name: &'static str,
    plugins: Vec<String>,
    /// QEMU's environment: `CANNONBALL_CAPTURE=callbacks` measures the callback path on a
    /// QEMU that can append.
    env: Vec<(&'static str, &'static str)>,
    target: Option<f64>,
    /// Too slow for the full input (execlog formats a line per instruction): measured on the
    /// 64 KB input, against plain QEMU on the same input.
    small_input: bool,
}

pub fn run(runs: usize, input_mb: usize, only: Option<&str>) -> Result<()> {
    build::all()?;
    let tree = Tree::source();
    let dir = tree.target().join("bench");
    fs::create_dir_all(&dir)?;
    // Start-up runs are short and noisy: more of them.
    let startup_runs = (runs * 5).max(11);

    // QEMU's C plugins, and libcannonball.so with a script: `-plugin` values with `options`.
    let c = |name: &str, options: &[&str]| plugin_arg(&tree.qemu_plugin(name), options);
    let out = dir.join("out");
    fs::create_dir_all(&out)?;
    let fwd = |kinds: &str| plugin_arg(&tree.plugin(), ["fwd=/dev/null".to_owned(), format!("forward={kinds}")]);
    let cb = |script: &str, options: &[&str]| {
        let run = [format!("script={}", tree.script(script).display()), format!("out={}", out.display())];
        plugin_arg(&tree.plugin(), run.iter().map(String::as_str).chain(options.iter().copied()))
    };
    let drcov_file = dir.join("drcov.log");
    let config = |name, plugins, target| Config { name, plugins, env: vec![], target, small_input: false };
    let by_callbacks = |mut c: Config| {
        c.env = vec![("CANNONBALL_CAPTURE", "callbacks")];
        c
    };
    let configs = vec![
        config("plain QEMU", vec![], None),
        config("cannonball icount (inline per block)", vec![cb("icount", &[])?], Some(1.15)),
        config("C libinsn inline=true (inline per insn)", vec![c("insn", &["inline=true"])?], None),
        config("C libinsn (callback per insn)", vec![c("insn", &[])?], None),
        config("cannonball block hit counts (inline)", vec![cb("census", &["kinds=block-counts"])?], Some(1.15)),
        config("C libbb inline=true (inline per block)", vec![c("bb", &["inline=true"])?], None),
        config("C libbb (callback per block)", vec![c("bb", &[])?], None),
        config("C hotblocks", vec![c("hotblocks", &[])?], None),
        config("cannonball PC trace, every PC into Wasm checksum", vec![cb("census", &["kinds=trace"])?], Some(2.0)),
        by_callbacks(config(
            "cannonball PC trace, every PC into Wasm checksum (callbacks)",
            vec![cb("census", &["kinds=trace"])?],
            None,
        )),
        config("cannonball forward=trace to /dev/null, no script", vec![fwd("trace")?], None),
        config("C drcov", vec![c("drcov", &[&format!("filename={}", drcov_file.display())])?], None),
        config("cannonball memory, every access into Wasm by size", vec![cb("census", &["kinds=memory"])?], Some(3.0)),
        by_callbacks(config(
            "cannonball memory, every access into Wasm by size (callbacks)",
            vec![cb("census", &["kinds=memory"])?],
            None,
        )),
        config(
            "cannonball memory, values declined (census values=false)",
            vec![cb("census", &["kinds=memory", "values=false"])?],
            None,
        ),
        config("cannonball forward=memory to /dev/null, no script", vec![fwd("memory")?], None),
        config("C libmem callback=true", vec![c("mem", &["callback=true"])?], None),
        Config { small_input: true, ..config("C execlog (small input)", vec![c("execlog", &[])?], None) },
    ];

    if only == Some("system") {
        return system::run(runs, &dir);
    }
    if only == Some("threads") {
        return threads::run(runs, &dir);
    }
    if only == Some("probes") {
        return probes::run(runs, &dir);
    }
    let wanted = |name: &str| only.is_none_or(|o| name.contains(o));
    if !configs.iter().any(|c| wanted(c.name)) && !wanted("forwarding") {
        // `--only start-up` (or another text no configuration has): start-up alone.
        return if wanted("start-up") { startup::run(startup_runs, &dir) } else { bail!("--only matches nothing") };
    }
    let workloads = workloads(&dir, input_mb)?;
    for workload in &workloads {
        println!("\n{}, median of {runs} runs (wall time)\n", workload.name);
        let plain_small = median(&time_runs(&workload.program, &workload.small_args, &[], &[], runs)?);
        let mut plain = None;
        println!("| configuration | median s | × plain QEMU | target |");
        println!("|---|---|---|---|");
        for config in &configs {
            if plain.is_some() && only.is_some_and(|o| !config.name.contains(o)) {
                continue;
            }
            let (args, base) =
                if config.small_input { (&workload.small_args, Some(plain_small)) } else { (&workload.args, plain) };
            let t = median(&time_runs(&workload.program, args, &config.plugins, &config.env, runs)?);
            let base = base.unwrap_or(t);
            if plain.is_none() {
                plain = Some(t);
            }
            let ratio = t / base;
            let target = config
                .target
                .map_or(String::new(), |x| format!("≤ {x:.2} {}", if ratio <= x { "met" } else { "MISSED" }));
            println!("| {} | {t:.2} | {ratio:.2} | {target} |", config.name);
        }
    }
    if wanted("forwarding") {
        let gzip = &workloads[0];
        let plain = median(&time_runs(&gzip.program, &gzip.args, &[], &[], runs)?);
        forwarding(&gzip.program, &gzip.input, runs, plain, &dir)?;
    }
    if wanted("start-up") {
        startup::run(startup_runs, &dir)?;
    }
    if only.is_none() {
        threads::run(runs, &dir)?;
        probes::run(runs, &dir)?;
    }
    Ok(())
}

/// Forwarding throughput: every executed block through the Unix socket to `cannonball dump
/// --count` (which expands executions into instruction addresses), lossless-checked: the
/// consumer's frame count must equal the producer's (dump fails otherwise), and the PCs it
/// expanded must equal the producer's own inline instruction count from the end frame.
/// Then the same into `dump --parquet` (every block execution a row), and the Parquet
/// writer alone on a recorded stream (`dump --from`), without QEMU competing for the cores.
fn forwarding(gzip: &Path, input: &Path, runs: usize, plain: f64, dir: &Path) -> Result<()> {
    println!("\nForwarding (forward=trace over a Unix socket to `cannonball dump`), median of {runs}:\n");
    println!(
        "| consumer | median s | × plain QEMU | PC events/s | bytes/s | lossless | Parquet bytes/PC | bytes/block exec | target |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let tables = dir.join("parquet");
    let consumers: [(&str, Vec<String>, f64); 2] = [
        ("dump --count", vec![], 500e6),
        ("dump --parquet", vec!["--parquet".into(), tables.display().to_string()], 200e6),
    ];
    for (name, options, target) in consumers {
        let mut samples = Vec::new();
        for _ in 0..runs {
            let _ = fs::remove_dir_all(&tables);
            samples.push(forward_once(gzip, &gzip_args(input), &options, dir)?);
        }
        samples.sort_by(|a, b| a.seconds.partial_cmp(&b.seconds).unwrap());
        let s = &samples[samples.len() / 2];
        let rate = s.insns / s.seconds;
        let target = format!("≥ {:.0} M/s {}", target / 1e6, if rate >= target { "met" } else { "MISSED" });
        println!(
            "| {name}, {:.2} G PCs | {:.2} | {:.2} | {:.0} M/s | {:.0} MB/s | {} | {} | {} | {target} |",
            s.insns / 1e9,
            s.seconds,
            s.seconds / plain,
            rate / 1e6,
            s.bytes / s.seconds / 1e6,
            if s.insns == s.end { "yes" } else { "NO" },
            per(s.parquet_bytes, s.insns),
            per(s.parquet_bytes, s.execs),
        );
    }
    let _ = fs::remove_dir_all(&tables);
    writer_alone(gzip, input, dir)
}

fn per(bytes: f64, events: f64) -> String {
    if bytes > 0.0 { format!("{:.3}", bytes / events) } else { String::new() }
}

/// CPU seconds (user + system) of this process's waited-for children: fields cutime and
/// cstime of /proc/self/stat, in clock ticks (100 per second on Linux).
pub(crate) fn children_cpu_seconds() -> Result<f64> {
    let stat = fs::read_to_string("/proc/self/stat")?;
    let fields: Vec<&str> = stat.rsplit_once(')').context("/proc/self/stat")?.1.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> { Ok(fields.get(i).context("/proc/self/stat")?.parse::<f64>()?) };
    Ok((ticks(13)? + ticks(14)?) / 100.0)
}

/// One forwarding run's figures, from dump's `--count` summary.
pub(crate) struct Forwarded {
    pub seconds: f64,
    /// Instruction addresses the consumer expanded from the stream.
    pub insns: f64,
    /// The producer's own inline instruction count, from the stream's end frame.
    pub end: f64,
    execs: f64,
    bytes: f64,
    parquet_bytes: f64,
}

fn summary_field(text: &str, key: &str) -> Result<f64> {
    let Some(at) = text.find(&format!("\"{key}\":")) else { return Ok(0.0) };
    let at = at + key.len() + 3;
    Ok(text[at..].split([',', '}']).next().unwrap_or("0").parse()?)
}

/// `program args` under QEMU with `forward=trace` into `cannonball dump --count` (and
/// `options`) over a Unix socket in `dir`.
pub(crate) fn forward_once(program: &Path, args: &[OsString], options: &[String], dir: &Path) -> Result<Forwarded> {
    let tree = Tree::source();
    let sock = dir.join("bench.sock");
    let summary = dir.join("dump.json");
    let mut dump = Command::new(tree.cli())
        .args(["dump", "--count", "--sock"])
        .arg(&sock)
        .arg("-o")
        .arg(&summary)
        .args(options)
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start cannonball dump")?;
    while !sock.exists() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let plugin = plugin_arg(&tree.plugin(), [format!("sock={}", sock.display()), "forward=trace".into()])?;
    let seconds = median(&time_runs(program, args, &[plugin], &[], 1)?);
    if !dump.wait()?.success() {
        bail!("cannonball dump failed: the stream was incomplete");
    }
    let text = fs::read_to_string(&summary)?;
    Ok(Forwarded {
        seconds,
        insns: summary_field(&text, "insns")?,
        end: summary_field(&text, "end_instructions")?,
        execs: summary_field(&text, "block_execs")?,
        bytes: summary_field(&text, "bytes")?,
        parquet_bytes: summary_field(&text, "parquet_bytes")?,
    })
}

/// The Parquet writer on its own: a stream recorded with `fwd=FILE` (gzip of the first
/// MB of the input, to spare the disk) replayed with `dump --parquet --from FILE`. CPU
/// seconds (user + system, all of dump's threads) say what one core sustains.
fn writer_alone(gzip: &Path, input: &Path, dir: &Path) -> Result<()> {
    let tree = Tree::source();
    let part = dir.join("input-1mb.txt");
    let data = fs::read(input)?;
    fs::write(&part, &data[..data.len().min(1 << 20)])?;
    let stream = dir.join("trace.cbal");
    let plugin = plugin_arg(&tree.plugin(), [format!("fwd={}", stream.display()), "forward=trace".into()])?;
    time_runs(gzip, &gzip_args(&part), &[plugin], &[], 1)?;
    let tables = dir.join("parquet");
    let _ = fs::remove_dir_all(&tables);
    let summary = dir.join("replay.json");
    let mut cmd = Command::new(tree.cli());
    cmd.args(["dump", "--count", "--parquet"]).arg(&tables).arg("--from").arg(&stream).arg("-o").arg(&summary);
    let cpu_before = children_cpu_seconds()?;
    let start = Instant::now();
    let status = cmd.status().context("cannot run cannonball dump")?;
    let wall = start.elapsed().as_secs_f64();
    let cpu = children_cpu_seconds()? - cpu_before;
    let _ = fs::remove_file(&stream);
    let _ = fs::remove_dir_all(&tables);
    if !status.success() {
        bail!("dump --from failed");
    }
    let text = fs::read_to_string(&summary)?;
    let insns = summary_field(&text, "insns")?;
    let execs = summary_field(&text, "block_execs")?;
    let bytes = summary_field(&text, "parquet_bytes")?;
    println!(
        "\nThe Parquet writer alone (`dump --parquet --from` a recorded stream of {:.2} G PCs, {:.0} M block executions):\n",
        insns / 1e9,
        execs / 1e6
    );
    println!(
        "| wall s | CPU s | PC events per CPU second | block executions (rows) per CPU second | Parquet bytes/PC | bytes/row |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {wall:.2} | {cpu:.2} | {:.0} M/s | {:.0} M/s | {} | {} |",
        insns / cpu / 1e6,
        execs / cpu / 1e6,
        per(bytes, insns),
        per(bytes, execs)
    );
    Ok(())
}

pub(crate) fn which(program: &str) -> Result<PathBuf> {
    for dir in ["/usr/bin", "/bin"] {
        let p = Path::new(dir).join(program);
        if p.exists() {
            return Ok(p);
        }
    }
    bail!("{program} not found")
}

/// Deterministic, moderately compressible input: words from a small vocabulary in an LCG
/// order, like text, so that gzip does realistic work.
fn make_input(dir: &Path, bytes: usize) -> Result<PathBuf> {
    let path = dir.join(format!("input-{bytes}.txt"));
    if fs::metadata(&path).map(|m| m.len() as usize == bytes).unwrap_or(false) {
        return Ok(path);
    }
    const WORDS: &[&str] = &[
        "cannon", "ball", "qemu", "plugin", "wasm", "trace", "block", "memory", "branch", "syscall", "the", "of",
        "and", "a", "to", "in", "is", "for", "on", "with", "0x7f3a", "insn", "vcpu", "batch",
    ];
    let mut data = Vec::with_capacity(bytes);
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    while data.len() < bytes {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        data.extend_from_slice(WORDS[(x >> 33) as usize % WORDS.len()].as_bytes());
        data.push(if (x >> 20).is_multiple_of(11) { b'\n' } else { b' ' });
        if (x >> 40).is_multiple_of(7) {
            data.extend_from_slice(format!("{}", x % 100_000).as_bytes());
        }
    }
    data.truncate(bytes);
    fs::File::create(&path)?.write_all(&data)?;
    Ok(path)
}

/// A program measured under QEMU, with its arguments for the full and the small input.
struct Workload {
    name: String,
    program: PathBuf,
    /// The full input file (forwarding and the Parquet writer use gzip's).
    input: PathBuf,
    args: Vec<OsString>,
    small_args: Vec<OsString>,
}

/// Three shapes of guest code: gzip on text (short blocks, many memory accesses), gzip on
/// data that does not compress (other paths through deflate), sha256sum (long straight-line
/// blocks of arithmetic).
fn workloads(dir: &Path, input_mb: usize) -> Result<Vec<Workload>> {
    let text = make_input(dir, input_mb << 20)?;
    let small_text = make_input(dir, SMALL_INPUT)?;
    let compressed = compressed_copy(dir, &text)?;
    let small_compressed = compressed_copy(dir, &small_text)?;
    let gzip = which("gzip")?;
    let sha256sum = which("sha256sum")?;
    // The file `times` times over: gzip -c compresses each into one stream, sha256sum hashes
    // each; repeated so that each program runs about as long as gzip on text.
    let args = |pre: &[&str], file: &Path, times: usize| {
        pre.iter().map(OsString::from).chain(std::iter::repeat_n(file.as_os_str().to_owned(), times)).collect()
    };
    let size = |file: &Path| fs::metadata(file).map(|m| m.len() as f64 / f64::from(1 << 20)).unwrap_or(0.0);
    Ok(vec![
        Workload {
            name: format!("gzip -9 of {input_mb} MB of text under qemu-x86_64"),
            program: gzip.clone(),
            input: text.clone(),
            args: args(&["-9", "-c"], &text, 1),
            small_args: args(&["-9", "-c"], &small_text, 1),
        },
        Workload {
            name: format!("gzip -9 of already-compressed data (8 × {:.1} MB) under qemu-x86_64", size(&compressed)),
            program: gzip,
            input: compressed.clone(),
            args: args(&["-9", "-c"], &compressed, 8),
            small_args: args(&["-9", "-c"], &small_compressed, 8),
        },
        Workload {
            name: format!("sha256sum of 16 × {input_mb} MB (long blocks) under qemu-x86_64"),
            program: sha256sum,
            input: text.clone(),
            args: args(&[], &text, 16),
            small_args: args(&[], &small_text, 16),
        },
    ])
}

/// `file` compressed by the host's gzip -1: input that gzip -9 cannot shrink further.
fn compressed_copy(dir: &Path, file: &Path) -> Result<PathBuf> {
    let name = file.file_name().context("input file name")?.to_string_lossy().into_owned();
    let path = dir.join(format!("{name}.gz"));
    if !path.exists() {
        let out = Command::new(which("gzip")?).arg("-1").arg("-c").arg(file).output().context("cannot run gzip")?;
        if !out.status.success() {
            bail!("gzip -1 {} failed", file.display());
        }
        fs::write(&path, out.stdout)?;
    }
    Ok(path)
}

fn gzip_args(input: &Path) -> Vec<OsString> {
    vec!["-9".into(), "-c".into(), input.as_os_str().to_owned()]
}

pub(crate) fn time_runs(
    program: &Path,
    args: &[OsString],
    plugins: &[String],
    env: &[(&str, &str)],
    runs: usize,
) -> Result<Vec<f64>> {
    let mut times = Vec::new();
    for _ in 0..runs {
        // Plugins print through qemu_plugin_outs; -d plugin -D /dev/null keeps that cost
        // (formatting, writing) without filling the disk.
        let mut cmd = QemuCommand::new(Tree::source().qemu("x86_64"), program)
            .plugin_log("/dev/null")
            .plugins(plugins.iter().cloned())
            .args(args.iter().map(OsString::as_os_str))
            .command();
        cmd.envs(env.iter().copied());
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let start = Instant::now();
        let out = cmd.output().context("cannot run qemu")?;
        let elapsed = start.elapsed().as_secs_f64();
        if !out.status.success() {
            bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        times.push(elapsed);
    }
    Ok(times)
}

pub(crate) fn median(times: &[f64]) -> f64 {
    let mut t = times.to_vec();
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    t[t.len() / 2]
}
