//! `cargo xtask bench --only system`: Debian's x86_64 kernel booting to an initramfs whose init
//! makes a thousand getppid calls and powers the machine off (tests/src/kernel_boot.rs), under
//! `qemu-system-x86_64`, plain and with each capture configuration: ours and QEMU's C plugins,
//! in the same run. Wall time from start to QEMU's exit, median of `runs`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use cannonball_launcher::{Tree, plugin_arg};
use cannonball_tests::kernel_boot;

pub fn run(runs: usize, dir: &Path) -> Result<()> {
    let tree = Tree::source();
    let dir = dir.join("system");
    std::fs::create_dir_all(&dir)?;
    let initrd = kernel_boot::build_initramfs(&dir);
    let kallsyms = kernel_boot::kallsyms(&dir, &initrd);
    let out = dir.join("out");
    std::fs::create_dir_all(&out)?;
    let c = |name: &str, options: &[&str]| plugin_arg(&tree.qemu_plugin(name), options);
    let cb = |script: &str, options: &[String]| {
        let base = [format!("script={}", tree.script(script).display()), format!("out={}", out.display())];
        plugin_arg(&tree.plugin(), base.iter().chain(options))
    };
    let symbols = format!("symbols={}", kallsyms.display());
    let configs: Vec<(&str, Vec<String>)> = vec![
        ("plain QEMU", vec![]),
        ("cannonball icount", vec![cb("icount", &[])?]),
        ("cannonball cov (block counts, kallsyms symbols)", vec![cb("cov", std::slice::from_ref(&symbols))?]),
        ("cannonball PC trace, every PC into Wasm", vec![cb("census", &["kinds=trace".into()])?]),
        ("cannonball memory, every access into Wasm", vec![cb("census", &["kinds=memory".into()])?]),
        ("C libinsn inline=true", vec![c("insn", &["inline=true"])?]),
        ("C libinsn (callback per insn)", vec![c("insn", &[])?]),
        ("C libbb inline=true", vec![c("bb", &["inline=true"])?]),
        ("C libmem callback=true", vec![c("mem", &["callback=true"])?]),
    ];
    println!(
        "\nLinux {} boot to power-off under qemu-system-x86_64, median of {runs} runs (wall time)\n",
        kernel_name()?
    );
    println!("| configuration | median s | × plain QEMU |");
    println!("|---|---|---|");
    let mut plain = None;
    for (name, plugins) in &configs {
        let mut times = Vec::new();
        for _ in 0..runs {
            times.push(boot_once(&initrd, plugins)?);
        }
        times.sort_by(|a, b| a.total_cmp(b));
        let t = times[times.len() / 2];
        let base = *plain.get_or_insert(t);
        println!("| {name} | {t:.2} | {:.2} |", t / base);
    }
    Ok(())
}

fn kernel_name() -> Result<String> {
    let package = Tree::source().target().join("kernel/package");
    Ok(std::fs::read_to_string(&package).with_context(|| format!("{}", package.display()))?.trim().to_owned())
}

fn boot_once(initrd: &Path, plugins: &[String]) -> Result<f64> {
    let mut cmd = Command::new(kernel_boot::qemu());
    cmd.args(kernel_boot::machine_args(initrd, "cannonball_getppid=1000")).args(["-d", "plugin", "-D", "/dev/null"]);
    for p in plugins {
        cmd.arg("-plugin").arg(p);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let out = cmd.output().context("cannot run qemu-system-x86_64")?;
    let elapsed = start.elapsed().as_secs_f64();
    if !out.status.success() || !String::from_utf8_lossy(&out.stdout).contains("getppid calls done") {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(elapsed)
}
