//! `cargo xtask bench --only probes`: what probes cost. Two guests: a program that calls a
//! small function 20 million times and malloc/free a million times (the worst case: a probe
//! on the hottest function there is), and Debian's `sort` of 300,000 lines (a real program's
//! allocation pattern). Rows: plain QEMU; icount (the plugin without probes, which must cost
//! what it always did: nothing of the probe code runs); a probe at entry only and with one
//! argument and the return, the script only counting; the same writing a line per call;
//! malloc-stats (four probes with returns, the statistics in Wasm).

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};
use cannonball_launcher::{Tree, plugin_arg};

const SOURCE: &str = r#"
#include <stdio.h>
#include <stdlib.h>
__attribute__((noipa)) unsigned long hot(unsigned long x) { return x * 2654435761ul + 1; }
/* Out of the compiler's sight, so that malloc and free stay calls. */
__attribute__((noipa)) char *use(char *p, unsigned long i) { p[0] = (char)i; return p; }
int main(int argc, char **argv) {
    unsigned long calls = strtoul(argv[1], 0, 10), s = 0;
    for (unsigned long i = 0; i < calls; i++) s += hot(i);
    for (unsigned long i = 0; i < calls / 20; i++) {
        char *p = use(malloc(16 + (i & 255)), i);
        s += p[0];
        free(p);
    }
    printf("%lx\n", s);
    return 0;
}
"#;

pub fn run(runs: usize, dir: &Path) -> Result<()> {
    let tree = Tree::source();
    let dir = dir.join("probes");
    std::fs::create_dir_all(&dir)?;
    let src = dir.join("calls.c");
    std::fs::write(&src, SOURCE)?;
    let program = dir.join("calls");
    let built = Command::new("gcc").args(["-O2", "-o"]).arg(&program).arg(&src).status()?;
    if !built.success() {
        bail!("gcc could not build the probes bench program");
    }
    let lines = dir.join("lines.txt");
    if !lines.exists() {
        let text: String = (0..300_000u64).map(|i| format!("{}\n", (i * 7919) % 300_007)).collect();
        std::fs::write(&lines, text)?;
    }
    let out = dir.join("out");
    std::fs::create_dir_all(&out)?;
    let cb = |script: &str, options: &[&str]| {
        let base = [format!("script={}", tree.script(script).display()), format!("out={}", out.display())];
        plugin_arg(&tree.plugin(), base.iter().map(String::as_str).chain(options.iter().copied()))
    };
    let workloads: Vec<(String, std::path::PathBuf, Vec<OsString>, &str)> = vec![
        ("20 M calls of a small function, 1 M malloc/free".into(), program, vec!["20000000".into()], "hot"),
        ("Debian's sort of 300,000 lines".into(), super::which("sort")?, vec![lines.into_os_string()], "malloc"),
    ];
    for (name, program, args, hot) in &workloads {
        let at = format!("at={hot}");
        let configs: Vec<(String, Vec<String>)> = vec![
            ("plain QEMU".into(), vec![]),
            ("cannonball icount (no probes)".into(), vec![cb("icount", &[])?]),
            (format!("calls at={hot} count=true (entry only)"), vec![cb("calls", &[&at, "count=true"])?]),
            (
                format!("calls at={hot} args=1 ret=true count=true"),
                vec![cb("calls", &[&at, "args=1", "ret=true", "count=true"])?],
            ),
            (
                format!("calls at={hot} args=1 ret=true, a line per call"),
                vec![cb("calls", &[&at, "args=1", "ret=true"])?],
            ),
            ("malloc-stats (malloc, calloc, realloc, free with returns)".into(), vec![cb("malloc-stats", &[])?]),
        ];
        println!("\nprobes: {name}, median of {runs} runs (wall time)\n");
        println!("| configuration | median s | × plain QEMU |");
        println!("|---|---|---|");
        let mut plain = None;
        for (config, plugins) in &configs {
            let t = super::median(&super::time_runs(program, args, plugins, &[], runs)?);
            let base = *plain.get_or_insert(t);
            println!("| {config} | {t:.2} | {:.2} |", t / base);
        }
    }
    Ok(())
}
