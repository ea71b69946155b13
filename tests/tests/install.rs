//! The relocatable installation (`cargo xtask install --prefix DIR`, cannonball-launcher's
//! `install`): laid out, moved to another directory, and run from there with no variable set:
//! the command must start the installed QEMU with the installed plugin (strace shows the
//! execve), and the script must run.

use std::process::Command;

use cannonball_launcher::Tree;
use cannonball_tests::{TempDir, program, watchdog};

#[test]
fn an_installation_runs_from_wherever_it_is_moved() {
    let work = TempDir::new("install");
    let first = work.join("first");
    cannonball_launcher::install(&Tree::source(), &first).unwrap();
    let moved = work.join("moved");
    std::fs::rename(&first, &moved).unwrap();

    let trace = work.join("execve.txt");
    let out = work.join("out");
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-v", "-s", "4096", "-e", "trace=execve", "-o"])
        .arg(&trace)
        .arg(moved.join("bin/cannonball"))
        .args(["run", "-q", "-s"])
        .arg(moved.join("target/scripts/icount.wasm"))
        .arg("-o")
        .arg(&out)
        .arg("--")
        .arg(program("demo"))
        .env_remove("CANNONBALL_HOME");
    let run = watchdog::output(&mut cmd);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let execs = std::fs::read_to_string(&trace).unwrap();
    let qemu = execs.lines().find(|l| l.contains("execve(") && l.contains("qemu-x86_64")).expect("QEMU was started");
    let installed = |path: &str| format!("\"{}", moved.join(path).display());
    assert!(qemu.contains(&installed("target/qemu/bin/qemu-x86_64")), "the installed QEMU: {qemu}");
    assert!(
        qemu.contains(&format!("{}", moved.join("target/release/libcannonball.so").display())),
        "the installed plugin: {qemu}"
    );
    assert!(
        !qemu.contains(&Tree::source().target().join("qemu").display().to_string()),
        "nothing from the source tree: {qemu}"
    );
    let log = std::fs::read_to_string(out.join("cannonball.log")).unwrap();
    assert!(log.contains("instructions executed"), "{log}");
}
