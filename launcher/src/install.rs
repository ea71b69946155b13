//! A relocatable installation (`cargo xtask install --prefix DIR`) for clusters and shared file
//! systems. DIR gets the tree layout the `cannonball` command looks for (`target/release`,
//! `target/qemu/{bin,plugins,share}`, `target/scripts`, `wit/`, `guest-sdk/`,
//! `cli/templates/`), the marker file [`INSTALL_MARKER`], and `bin/cannonball`, a link to
//! `target/release/cannonball`. The command finds the installation from its own location
//! ([`Tree::installed`]), so DIR may be moved or exported at any path, with no variable.
//! Binaries are copied without their debug sections.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::tree::{INSTALL_MARKER, Tree};

/// Lays out an installation of `tree`'s built artifacts under `prefix` (see the module docs);
/// returns the path of `PREFIX/bin/cannonball`.
pub fn install(tree: &Tree, prefix: &Path) -> Result<PathBuf> {
    let prefix = std::path::absolute(prefix)?;
    if prefix.starts_with(tree.root()) && prefix != tree.root() && !prefix.starts_with(tree.target()) {
        bail!(
            "--prefix {}: inside the source tree; choose a directory outside it (or under target/)",
            prefix.display()
        );
    }
    let dest = Tree::at(&prefix);
    fs::create_dir_all(dest.target().join("release"))?;
    for binary in [tree.cli(), tree.plugin()] {
        let to = dest.target().join("release").join(binary.file_name().unwrap());
        let status = Command::new("objcopy")
            .arg("--strip-debug")
            .arg(&binary)
            .arg(&to)
            .status()
            .context("objcopy (binutils)")?;
        if !status.success() {
            bail!("objcopy --strip-debug {} failed", binary.display());
        }
    }
    for dir in ["qemu/bin", "qemu/plugins", "qemu/share", "scripts"] {
        copy_tree(&tree.target().join(dir), &dest.target().join(dir))?;
    }
    // The sources `cannonball new` and `cannonball build` use: what git tracks of them.
    let listed = Command::new("git")
        .current_dir(tree.root())
        .args(["ls-files", "wit", "guest-sdk", "cli/templates"])
        .output()?;
    if !listed.status.success() {
        bail!("git ls-files failed in {}", tree.root().display());
    }
    for file in String::from_utf8_lossy(&listed.stdout).lines() {
        let to = prefix.join(file);
        fs::create_dir_all(to.parent().unwrap())?;
        fs::copy(tree.root().join(file), &to).with_context(|| format!("copying {file}"))?;
    }
    fs::write(prefix.join(INSTALL_MARKER), format!("cannonball {}\n", env!("CARGO_PKG_VERSION")))?;
    fs::create_dir_all(prefix.join("bin"))?;
    let link = prefix.join("bin/cannonball");
    let _ = fs::remove_file(&link);
    std::os::unix::fs::symlink("../target/release/cannonball", &link)?;
    Ok(link)
}

/// Copies the files under `from` to `to`, keeping permissions.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from).with_context(|| format!("{} (run `cargo xtask build`)", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target).with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}
