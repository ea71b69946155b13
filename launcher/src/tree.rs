//! Where the built artifacts are.

use std::path::{Path, PathBuf};

/// The file that marks the root of an installation (`cargo xtask install`).
pub const INSTALL_MARKER: &str = ".cannonball-install";

/// A Cannonball tree: the sources, and in `target/` what `cargo xtask build` made of them.
///
/// Paths are computed, never checked: whether a missing artifact is an error, a panic or a
/// reason to build is the caller's decision.
#[derive(Clone, Debug)]
pub struct Tree {
    root: PathBuf,
}

impl Tree {
    /// The source tree this crate was compiled in: the workspace root.
    pub fn source() -> Tree {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        Tree::at(manifest.parent().expect("the launcher crate lives in the workspace"))
    }

    /// `$CANNONBALL_HOME` when set, else the installation the running executable belongs to
    /// ([`Tree::installed`]), else [`Tree::source`].
    pub fn from_env() -> Tree {
        match std::env::var_os("CANNONBALL_HOME") {
            Some(home) => Tree::at(home),
            None => Tree::installed().unwrap_or_else(Tree::source),
        }
    }

    /// The installation (`cargo xtask install --prefix DIR`) the running executable belongs to:
    /// it is `DIR/target/release/NAME` (found through any link, e.g. `DIR/bin/cannonball`) and
    /// DIR holds [`INSTALL_MARKER`]. Wherever DIR was moved or mounted.
    pub fn installed() -> Option<Tree> {
        let exe = std::env::current_exe().ok()?.canonicalize().ok()?;
        let root = exe.parent()?.parent()?.parent()?;
        root.join(INSTALL_MARKER).is_file().then(|| Tree::at(root))
    }

    /// The tree whose root is `root`.
    pub fn at(root: impl Into<PathBuf>) -> Tree {
        Tree { root: root.into() }
    }

    /// The root: `wit/`, `guest-sdk/`, `cli/templates/`, `tests/` and `target/` are in it.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `target/`: everything built.
    pub fn target(&self) -> PathBuf {
        self.root.join("target")
    }

    /// `target/qemu/bin/qemu-ARCH`, QEMU in user mode as qemu/build.sh builds it.
    pub fn qemu(&self, arch: &str) -> PathBuf {
        self.target().join("qemu/bin").join(format!("qemu-{arch}"))
    }

    /// `target/qemu/bin/qemu-system-ARCH`, a system emulator as qemu/build.sh builds it.
    pub fn qemu_system(&self, arch: &str) -> PathBuf {
        self.target().join("qemu/bin").join(format!("qemu-system-{arch}"))
    }

    /// `target/release/libcannonball.so`.
    pub fn plugin(&self) -> PathBuf {
        self.target().join("release/libcannonball.so")
    }

    /// One of QEMU's own C plugins, `target/qemu/plugins/libNAME.so`: the tests' oracles and
    /// the benchmark's baselines.
    pub fn qemu_plugin(&self, name: &str) -> PathBuf {
        self.target().join("qemu/plugins").join(format!("lib{name}.so"))
    }

    /// `target/release/cannonball`, the command.
    pub fn cli(&self) -> PathBuf {
        self.target().join("release/cannonball")
    }

    /// `target/scripts/`: the example scripts, one `NAME.wasm` each.
    pub fn scripts(&self) -> PathBuf {
        self.target().join("scripts")
    }

    /// `target/scripts/NAME.wasm`.
    pub fn script(&self, name: &str) -> PathBuf {
        self.scripts().join(format!("{name}.wasm"))
    }

    /// `target/programs/`: the guest programs compiled from `tests/programs/*.c`.
    pub fn programs(&self) -> PathBuf {
        self.target().join("programs")
    }

    /// `target/programs/NAME`.
    pub fn program(&self, name: &str) -> PathBuf {
        self.programs().join(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_tree_is_the_workspace() {
        let tree = Tree::source();
        assert!(tree.root().join("Cargo.toml").is_file());
        assert!(tree.root().join("launcher").is_dir());
        assert_eq!(tree.qemu("x86_64"), tree.root().join("target/qemu/bin/qemu-x86_64"));
        assert_eq!(tree.qemu_plugin("insn"), tree.root().join("target/qemu/plugins/libinsn.so"));
        assert_eq!(tree.script("cov"), tree.root().join("target/scripts/cov.wasm"));
    }
}
