//! Launching QEMU with libcannonball.so, in one place for every crate that does it: the
//! `cannonball` command (`run`, `dump`, `build`), the end-to-end tests and `cargo xtask`
//! (`demo`, `bench`, `build`).
//!
//! The pieces, each small and independent:
//!
//! - [`Tree`]: where `cargo xtask build` puts QEMU, the plugins, the scripts and the test
//!   programs. These paths are a contract that docs, tests and users rely on.
//! - [`plugin_arg`]: the value of QEMU's `-plugin` option, refusing what QEMU would split.
//! - [`resolve_program`], [`GuestImage`]: the guest program as the shell finds it, the QEMU
//!   target its ELF header asks for (class, byte order, machine, ABI flags) and the library
//!   root its dynamic loader is found in.
//! - [`QemuCommand`]: `qemu-ARCH [-d plugin -D LOG] [-plugin P]... PROGRAM ARGS` as a
//!   [`std::process::Command`] that callers finish (environment, stdio) and spawn.
//! - [`Lang`]: the language of a script project, recognised from its files.
//!
//! What stays with the callers: how a missing artifact is reported (the tests panic, the
//! command explains `cargo xtask build`), which options a run passes, and how its output is
//! read.
//!
//! ```no_run
//! use cannonball_launcher::{QemuCommand, Tree, plugin_arg};
//!
//! let tree = Tree::source();
//! let plugin = plugin_arg(&tree.plugin(), [format!("script={}", tree.script("icount").display())])?;
//! let status = QemuCommand::new(tree.qemu("x86_64"), "/bin/ls").plugin(plugin).command().status()?;
//! # anyhow::Ok(())
//! ```

mod elf;
mod install;
mod lang;
mod plugin_arg;
mod program;
mod qemu;
mod system;
mod tree;

pub use install::install;
pub use lang::Lang;
pub use plugin_arg::plugin_arg;
pub use program::{BUILT, GuestImage, SUPPORTED, Target, arch_of, resolve_program};
pub use qemu::QemuCommand;
pub use system::{SYSTEMS, system_arch_of};
pub use tree::{INSTALL_MARKER, Tree};
