//! `cargo xtask demo` and `cargo xtask test`.

use std::fs;
use std::process::Command;

use anyhow::{Context, Result};

use crate::{build, paths};

pub fn demo() -> Result<()> {
    build::all()?;
    let out = paths::target().join("demo");
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out)?;
    let plugin_arg = format!(
        "{},script={},out={}",
        paths::plugin().display(),
        paths::scripts().join("icount.wasm").display(),
        out.display()
    );
    let program = paths::programs().join("demo");
    eprintln!("\n$ qemu-x86_64 -plugin libcannonball.so,script=icount.wasm,out=target/demo target/programs/demo\n");
    build::run(&mut Command::new(paths::qemu_bin("x86_64")).arg("-plugin").arg(&plugin_arg).arg(&program))?;
    let report = out.join("icount.txt");
    let text = fs::read_to_string(&report).with_context(|| format!("the script wrote no {}", report.display()))?;
    println!("\n{} :\n{text}", report.display());
    Ok(())
}

pub fn test(args: &[String]) -> Result<()> {
    build::all()?;
    eprintln!("xtask: running the tests");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    build::run(
        &mut Command::new(cargo).current_dir(paths::root()).args(["test", "--release", "--workspace"]).args(args),
    )
}
