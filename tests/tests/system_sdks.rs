//! The C and AssemblyScript SDKs' 0.3.0 API end to end (census covers the Rust SDK): a script
//! in each (tests/fixtures/sysview/) counts discontinuities by kind, blocks at user level and
//! I/O accesses with their devices' names, built with `cannonball build` and run on
//! tests/firmware/traps.c on three boards, QEMU's libtraps and libmem (`haddr=true`) in the same
//! process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use cannonball_tests::system::{AARCH64, CORTEX_M3, RISCV64};
use cannonball_tests::{TempDir, cli, oracle, oracle_plugin, plugin, plugin_arg, root, watchdog};

/// `cannonball new --lang LANG`, its source replaced by the fixture, `cannonball build`.
fn build(lang: &str, fixture: &str, source: &str, work: &TempDir) -> PathBuf {
    let name = format!("sysview_{lang}");
    let run = |args: &[&str]| {
        let mut cmd = Command::new(cli());
        cmd.args(args).current_dir(work.path());
        let out = watchdog::output(&mut cmd);
        assert!(out.status.success(), "cannonball {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["new", "--lang", lang, &name]);
    std::fs::copy(root().join("tests/fixtures/sysview").join(fixture), work.join(&name).join(source)).unwrap();
    let wasm = format!("{name}.wasm");
    run(&["build", &name, "-o", &wasm]);
    work.join(&wasm)
}

fn report(out: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(out.join("sysview.txt")).unwrap();
    text.lines().filter_map(|l| l.split_once(' ')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

#[test]
fn c_and_assemblyscript_scripts_see_what_libtraps_and_libmem_see() {
    let work = TempDir::new("system-sdks");
    let scripts = [
        ("c", build("c", "sysview.c", "main.c", &work)),
        ("as", build("as", "sysview.ts", "assembly/index.ts", &work)),
    ];
    for board in [RISCV64, AARCH64, CORTEX_M3] {
        let fw = board.traps_firmware(&work);
        let uart = match board.arch {
            "riscv64" => "serial",
            "aarch64" => "pl011",
            _ => "uart",
        };
        for (lang, wasm) in &scripts {
            let what = format!("{lang} on {}", board.arch);
            let out = work.join(&format!("out-{lang}-{}", board.arch));
            let plugins = [
                plugin_arg(&oracle_plugin("traps"), &[]),
                plugin_arg(&oracle_plugin("mem"), &["haddr=true".into(), "callback=true".into()]),
                plugin_arg(&plugin(), &[format!("script={}", wasm.display()), format!("out={}", out.display())]),
            ];
            let run = board.run(&fw, &plugins, &work);
            assert_eq!(run.output.status.code(), Some(0), "{what}: {}", run.stderr());
            let r = report(&out);
            let (interrupts, exceptions, hostcalls) = oracle::traps(&run.plugin_log)[&0];
            let n = |key: &str| r[key].parse::<u64>().unwrap();
            assert_eq!(
                (n("interrupts"), n("exceptions"), n("hostcalls")),
                (interrupts, exceptions, hostcalls),
                "{what}: against libtraps"
            );
            assert_eq!(n("io"), oracle::mem_ram_io(&run.plugin_log).1, "{what}: I/O accesses against libmem");
            assert!(n("user-blocks") > 0, "{what}: user_work's blocks run at user level");
            assert!(r["devices"].split(',').any(|d| d.contains(uart)), "{what}: the UART {uart} in {}", r["devices"]);
        }
    }
}
