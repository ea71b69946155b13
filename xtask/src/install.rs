//! `cargo xtask install --prefix DIR`: builds what is missing, then lays out a relocatable
//! installation (cannonball-launcher's `install`).

use std::path::Path;

use anyhow::Result;
use cannonball_launcher::Tree;

use crate::build;

pub fn run(prefix: &Path) -> Result<()> {
    build::all()?;
    eprintln!("xtask: installing into {}", prefix.display());
    let link = cannonball_launcher::install(&Tree::source(), prefix)?;
    eprintln!(
        "xtask: installed; run {} (AssemblyScript builds need `npm ci` in guest-sdk/assemblyscript there)",
        link.display()
    );
    Ok(())
}
