//! The Python the tests query Parquet files with: a venv under target/ holding DuckDB from
//! PyPI. Debian's own python3 refuses `pip install` outside a venv (PEP 668,
//! EXTERNALLY-MANAGED), so the project makes its own venv, as qemu/build.sh pip-installs
//! meson, and never touches the system's packages.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::Result;
use cannonball_launcher::Tree;

use crate::build;

/// The DuckDB release the tests were written against (PyPI).
const DUCKDB: &str = "duckdb==2.0.1";

/// target/py: the tests find its interpreter at target/py/bin/python3.
pub fn venv() -> PathBuf {
    Tree::source().target().join("py")
}

pub fn python() -> PathBuf {
    venv().join("bin").join("python3")
}

/// True when the venv's python imports duckdb.
pub fn has_duckdb() -> bool {
    Command::new(python())
        .args(["-c", "import duckdb"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Makes target/py with Debian's python3 (package python3-venv) and installs DuckDB into it,
/// unless it is there already.
pub fn ensure_duckdb() -> Result<()> {
    if has_duckdb() {
        return Ok(());
    }
    if !python().exists() {
        eprintln!("xtask: making a Python venv in {} for DuckDB", venv().display());
        build::run(Command::new("/usr/bin/python3").args(["-m", "venv"]).arg(venv()))?;
    }
    eprintln!("xtask: installing {DUCKDB} from PyPI into {}", venv().display());
    build::run(Command::new(python()).args(["-m", "pip", "install", "-q", DUCKDB]))
}
