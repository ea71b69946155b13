//! Checks, before any test runs, that every tool the tests use works — each failure one line
//! that names the Debian package to install. Packages are installed without their
//! recommendations, so a tool can be present and still unusable (a cross compiler without
//! its libc headers): the checks use the tools, not just find them.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Result, bail};

use cannonball_launcher::Tree;

/// A check: what it runs, and which package provides what it needs.
struct Check {
    what: &'static str,
    package: &'static str,
    run: fn(&Path) -> bool,
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Compiles a program that includes libc headers with `cc`.
fn compiles_with(cc: &str, dir: &Path) -> bool {
    let src = dir.join("preflight.c");
    let written = std::fs::write(&src, "#include <stdio.h>\n#include <pthread.h>\nint main(void) { puts(\"ok\"); }\n");
    written.is_ok()
        && succeeds(Command::new(cc).args(["-static", "-pthread", "-o"]).arg(dir.join("preflight")).arg(&src))
}

const CHECKS: &[Check] = &[
    Check { what: "gcc compiles a C program", package: "gcc libc6-dev", run: |d| compiles_with("gcc", d) },
    Check {
        what: "aarch64-linux-gnu-gcc compiles a C program with <stdio.h>",
        package: "gcc-aarch64-linux-gnu libc6-dev-arm64-cross",
        run: |d| compiles_with("aarch64-linux-gnu-gcc", d),
    },
    Check {
        what: "strace runs",
        package: "strace",
        run: |_| succeeds(Command::new("strace").args(["-o", "/dev/null", "true"])),
    },
    Check {
        what: "/usr/bin/python3.11 imports CPython's test suite",
        package: "python3.11 libpython3.11-testsuite",
        run: |_| succeeds(Command::new("/usr/bin/python3.11").args(["-c", "import test.test_signal"])),
    },
    Check {
        what: "tar, find, sort and bash run",
        package: "tar findutils coreutils bash",
        run: |_| ["tar", "find", "sort", "bash"].iter().all(|tool| succeeds(Command::new(tool).arg("--version"))),
    },
];

pub fn check() -> Result<()> {
    let dir = Tree::source().target().join("preflight");
    std::fs::create_dir_all(&dir)?;
    for check in CHECKS {
        if !(check.run)(&dir) {
            bail!("{} fails: install the Debian package(s) {} (qemu/deps.sh does)", check.what, check.package);
        }
    }
    Ok(())
}
