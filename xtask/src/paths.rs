//! The artifact paths: a contract that docs, tests and users rely on.

use std::path::PathBuf;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

pub fn target() -> PathBuf {
    root().join("target")
}

pub fn qemu_bin(arch: &str) -> PathBuf {
    target().join("qemu/bin").join(format!("qemu-{arch}"))
}

pub fn plugin() -> PathBuf {
    target().join("release/libcannonball.so")
}

pub fn scripts() -> PathBuf {
    target().join("scripts")
}

pub fn programs() -> PathBuf {
    target().join("programs")
}
