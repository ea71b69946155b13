//! Foreign guest architectures: Debian's cross compiler and library root for each QEMU target
//! the project builds, and compiling a test program for it (static or dynamically linked).
//!
//! The packages (`gcc-<triple>`, `libc6-dev-<arch>-cross`) are installed by `cargo xtask test`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One guest architecture: QEMU's target name and Debian's cross toolchain for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cross {
    /// QEMU's target name (`qemu-<arch>`), also what a script sees in `run-info.arch`.
    pub arch: &'static str,
    /// GNU triple: the compiler is `<triple>-gcc`, the library root `/usr/<triple>`.
    pub triple: &'static str,
    /// Debian's architecture name in `libc6-dev-<deb>-cross`.
    pub deb: &'static str,
    /// Extra compiler flags (e.g. to get Thumb-2 code on arm).
    pub cflags: &'static [&'static str],
}

/// Every foreign target, in the order the tests report them.
pub const FOREIGN: &[Cross] = &[
    Cross { arch: "i386", triple: "i686-linux-gnu", deb: "i386", cflags: &[] },
    Cross { arch: "aarch64", triple: "aarch64-linux-gnu", deb: "arm64", cflags: &[] },
    Cross { arch: "arm", triple: "arm-linux-gnueabihf", deb: "armhf", cflags: &[] },
    Cross { arch: "riscv64", triple: "riscv64-linux-gnu", deb: "riscv64", cflags: &[] },
    Cross { arch: "mips", triple: "mips-linux-gnu", deb: "mips", cflags: &[] },
    Cross { arch: "mipsel", triple: "mipsel-linux-gnu", deb: "mipsel", cflags: &[] },
    Cross { arch: "ppc64le", triple: "powerpc64le-linux-gnu", deb: "ppc64el", cflags: &[] },
];

impl Cross {
    pub fn by_arch(arch: &str) -> Cross {
        *FOREIGN.iter().find(|c| c.arch == arch).unwrap_or_else(|| panic!("no cross toolchain for {arch}"))
    }

    pub fn gcc(&self) -> String {
        format!("{}-gcc", self.triple)
    }

    pub fn objdump(&self) -> String {
        format!("{}-objdump", self.triple)
    }

    /// The guest library root for dynamically linked programs (QEMU's `-L`).
    pub fn sysroot(&self) -> PathBuf {
        PathBuf::from("/usr").join(self.triple)
    }

    /// The Debian packages that provide the compiler and the library root.
    pub fn packages(&self) -> String {
        format!("gcc-{} libc6-dev-{}-cross", self.triple, self.deb)
    }

    /// Compiles tests/programs/`name`.c (or any C file) into `out`, with `-O1 -g -pthread
    /// -no-pie`, plus `-static` when `linking` says so.
    pub fn compile(&self, src: &Path, out: &Path, linking: Linking, extra: &[&str]) {
        let mut cmd = Command::new(self.gcc());
        cmd.args(["-O1", "-g", "-pthread", "-no-pie"]).args(self.cflags).args(extra);
        if linking == Linking::Static {
            cmd.arg("-static");
        }
        let result = cmd.arg("-o").arg(out).arg(src).output();
        let output = result.unwrap_or_else(|e| panic!("{} not found ({e}): install {}", self.gcc(), self.packages()));
        assert!(
            output.status.success(),
            "{} failed on {}: {}\n(install {})",
            self.gcc(),
            src.display(),
            String::from_utf8_lossy(&output.stderr),
            self.packages()
        );
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linking {
    Static,
    Dynamic,
}
