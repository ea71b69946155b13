//! Checks, before any test runs, that every tool the tests use works — each failure one line
//! that names the Debian package to install. Packages are installed without their
//! recommendations, so a tool can be present and still unusable (a cross compiler without
//! its libc headers): the checks use the tools, not just find them.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Result, bail};

use cannonball_launcher::{BUILT, Target, Tree};

/// A check: what it runs, and which package provides what it needs.
struct Check {
    what: &'static str,
    package: &'static str,
    run: fn(&Path) -> bool,
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Compiles a program that includes libc headers with `cc`, statically linked.
fn compiles_with(cc: &str, dir: &Path) -> bool {
    compiles(cc, dir, &["-static"])
}

fn compiles(cc: &str, dir: &Path, flags: &[&str]) -> bool {
    let src = dir.join("preflight.c");
    let written = std::fs::write(&src, "#include <stdio.h>\n#include <pthread.h>\nint main(void) { puts(\"ok\"); }\n");
    written.is_ok()
        && succeeds(Command::new(cc).args(flags).args(["-pthread", "-o"]).arg(dir.join("preflight")).arg(&src))
}

/// The guest targets besides the host's own, with Debian's cross toolchains.
pub fn foreign_targets() -> impl Iterator<Item = &'static Target> {
    BUILT.into_iter().filter(|t| t.qemu != std::env::consts::ARCH)
}

/// A cross toolchain works when it links a program statically and dynamically (the latter
/// needs the cross C library's shared objects: the root QEMU gets as `-L`) and its objdump
/// and nm run (the listing tests' oracles).
fn cross_toolchain_works(target: &Target, dir: &Path) -> bool {
    let tool = |name: &str| format!("{}-{name}", target.triple);
    compiles(&tool("gcc"), dir, &["-static"])
        && compiles(&tool("gcc"), dir, &[])
        && Path::new("/usr").join(target.triple).join("lib").is_dir()
        && succeeds(Command::new(tool("objdump")).arg("--version"))
        && succeeds(Command::new(tool("nm")).arg("--version"))
}

/// A --coverage program runs, lcov captures its counts, genhtml renders them and Chromium
/// draws the page.
fn lcov_and_chromium_work(dir: &Path) -> bool {
    let dir = dir.join("lcov");
    let _ = std::fs::remove_dir_all(&dir);
    let src = dir.join("p.c");
    let (info, html, png) = (dir.join("p.info"), dir.join("html"), dir.join("p.png"));
    std::fs::create_dir_all(&dir).is_ok()
        && std::fs::write(&src, "int main(void) { return 0; }\n").is_ok()
        && succeeds(Command::new("gcc").args(["--coverage", "-O0", "-o"]).arg(dir.join("p")).arg(&src))
        && succeeds(&mut Command::new(dir.join("p")))
        && succeeds(Command::new("lcov").args(["--quiet", "--capture", "--directory"]).arg(&dir).arg("-o").arg(&info))
        && succeeds(Command::new("genhtml").arg("--quiet").arg("-o").arg(&html).arg(&info))
        && succeeds(
            Command::new("chromium")
                .args(["--headless", "--no-sandbox", "--disable-gpu", "--window-size=400,300"])
                .arg(format!("--screenshot={}", png.display()))
                .arg(format!("file://{}", html.join("index.html").display())),
        )
        && png.exists()
}

const CHECKS: &[Check] = &[
    Check { what: "gcc compiles a C program", package: "gcc libc6-dev", run: |d| compiles_with("gcc", d) },
    Check {
        what: "strace runs",
        package: "strace",
        run: |_| succeeds(Command::new("strace").args(["-o", "/dev/null", "true"])),
    },
    Check {
        what: "ltrace traces a library call",
        package: "ltrace",
        run: |_| succeeds(Command::new("ltrace").args(["-o", "/dev/null", "-L", "-x", "malloc", "true"])),
    },
    Check {
        what: "/usr/bin/python3.11 imports CPython's test suite",
        package: "python3.11 libpython3.11-testsuite",
        run: |_| succeeds(Command::new("/usr/bin/python3.11").args(["-c", "import test.test_signal"])),
    },
    Check {
        what: "lcov collects gcov's counts and genhtml and headless chromium render them",
        package: "lcov chromium fonts-dejavu-core",
        run: lcov_and_chromium_work,
    },
    Check {
        what: "tar, find, sort and bash run",
        package: "tar findutils coreutils bash",
        run: |_| ["tar", "find", "sort", "bash"].iter().all(|tool| succeeds(Command::new(tool).arg("--version"))),
    },
    Check {
        what: "headless chromium renders a page",
        package: "chromium",
        run: |d| {
            let page = d.join("preflight.html");
            std::fs::write(&page, "<p>ok</p>").is_ok()
                && succeeds(
                    Command::new("chromium")
                        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
                        .arg(format!("--user-data-dir={}", d.join("chromium").display()))
                        .arg(format!("file://{}", page.display())),
                )
        },
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
    if !crate::python::has_packages() {
        bail!(
            "{} does not import duckdb, kubernetes_validate and pyspark: install the Debian package python3-venv, \
             then {} -m pip install duckdb kubernetes-validate pyspark (cargo xtask test does both)",
            crate::python::python().display(),
            crate::python::python().display()
        );
    }
    for target in foreign_targets() {
        if !cross_toolchain_works(target, &dir) {
            bail!(
                "{}-gcc does not build static and dynamic programs with <stdio.h>: install the Debian packages \
                 gcc-{} libc6-dev-{}-cross (qemu/deps.sh does)",
                target.triple,
                target.triple,
                target.deb
            );
        }
    }
    Ok(())
}
