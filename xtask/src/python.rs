//! The Python the tests use: a venv under target/ holding DuckDB and PySpark (to query Parquet
//! files) and kubernetes-validate (Kubernetes' schemas, to check the docs' manifests offline)
//! from PyPI. Debian's own python3 refuses `pip install` outside a venv (PEP 668,
//! EXTERNALLY-MANAGED), so the project makes its own venv, as qemu/build.sh pip-installs
//! meson, and never touches the system's packages.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::Result;
use cannonball_launcher::Tree;

use crate::build;

/// The releases the tests were written against (PyPI), with the module each provides.
const PACKAGES: [(&str, &str); 3] = [
    ("duckdb==2.0.1", "duckdb"),
    ("kubernetes-validate==1.37.0", "kubernetes_validate"),
    ("pyspark==4.0.1", "pyspark"),
];

/// target/py: the tests find its interpreter at target/py/bin/python3.
pub fn venv() -> PathBuf {
    Tree::source().target().join("py")
}

pub fn python() -> PathBuf {
    venv().join("bin").join("python3")
}

/// True when the venv's python imports every package's module.
pub fn has_packages() -> bool {
    let imports = PACKAGES.map(|(_, module)| format!("import {module}")).join("; ");
    Command::new(python())
        .args(["-c", &imports])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Makes target/py with Debian's python3 (package python3-venv) and installs the packages
/// into it, unless they are there already.
pub fn ensure_packages() -> Result<()> {
    if has_packages() {
        return Ok(());
    }
    if !python().exists() {
        eprintln!("xtask: making a Python venv in {} for the tests", venv().display());
        build::run(Command::new("/usr/bin/python3").args(["-m", "venv"]).arg(venv()))?;
    }
    let specs = PACKAGES.map(|(spec, _)| spec);
    eprintln!("xtask: installing {} from PyPI into {}", specs.join(", "), venv().display());
    build::run(Command::new(python()).args(["-m", "pip", "install", "-q"]).args(specs))
}
