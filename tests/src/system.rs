//! System mode: the test firmware (tests/firmware/firmware.c) built with Debian's Linux cross
//! compilers, freestanding, and QEMU's system emulators started on it.

use std::path::{Path, PathBuf};
use std::process::Command;

use cannonball_launcher::Tree;

use crate::{QemuRun, TempDir, watchdog};

/// A board the firmware runs on: the emulator, its machine arguments, and how the firmware is
/// compiled for it.
#[derive(Clone, Copy, Debug)]
pub struct Board {
    /// QEMU's target name: `qemu-system-<arch>`.
    pub arch: &'static str,
    pub machine: &'static [&'static str],
    gcc: &'static str,
    cflags: &'static [&'static str],
    /// Where the firmware's code starts (the board's RAM or flash).
    pub base: u64,
    /// CPUs the firmware is started on (`-smp`).
    pub cpus: u32,
}

/// RISC-V `virt` without firmware (-bios none): every hart starts at the image's entry.
pub const RISCV64: Board = Board {
    arch: "riscv64",
    machine: &["-M", "virt", "-bios", "none"],
    gcc: "riscv64-linux-gnu-gcc",
    cflags: &["-mcmodel=medany", "-Wl,--no-relax"],
    base: 0x8000_0000,
    cpus: 1,
};

/// AArch64 `virt`, a Cortex-A57 at EL1, semihosting for the exit status.
pub const AARCH64: Board = Board {
    arch: "aarch64",
    machine: &["-M", "virt", "-cpu", "cortex-a57", "-semihosting-config", "enable=on,target=native"],
    gcc: "aarch64-linux-gnu-gcc",
    cflags: &["-mgeneral-regs-only"],
    base: 0x4000_0000,
    cpus: 1,
};

/// ARM MPS2 AN385: a Cortex-M3 (Thumb-2, M profile), semihosting for the exit status.
pub const CORTEX_M3: Board = Board {
    arch: "arm",
    machine: &["-M", "mps2-an385", "-semihosting-config", "enable=on,target=native"],
    gcc: "arm-linux-gnueabihf-gcc",
    cflags: &["-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"],
    base: 0,
    cpus: 1,
};

impl Board {
    /// The same board with `cpus` CPUs.
    pub fn smp(self, cpus: u32) -> Board {
        Board { cpus, ..self }
    }

    /// The cross binutils' `tool` for this board (`nm`, `objdump`).
    pub fn binutil(&self, tool: &str) -> String {
        format!("{}{tool}", self.gcc.strip_suffix("gcc").unwrap_or(self.gcc))
    }

    /// `target/qemu/bin/qemu-system-<arch>`.
    pub fn qemu(&self) -> PathBuf {
        let path = Tree::source().qemu_system(self.arch);
        assert!(path.exists(), "{} is missing: run `cargo xtask build`", path.display());
        path
    }

    /// Compiles the test firmware for this board into `work` (`defines`: extra -D flags, e.g.
    /// `FOREVER`), returns the ELF file.
    pub fn firmware(&self, work: &TempDir, defines: &[&str]) -> PathBuf {
        self.compile("firmware", work, defines)
    }

    /// Compiles tests/firmware/traps.c (known interrupts, supervisor calls and user-level
    /// code) for this board.
    pub fn traps_firmware(&self, work: &TempDir) -> PathBuf {
        self.compile("traps", work, &[])
    }

    fn compile(&self, program: &str, work: &TempDir, defines: &[&str]) -> PathBuf {
        let src = Tree::source().root().join("tests/firmware");
        let name = format!(
            "{program}-{}-{}cpu{}",
            self.arch,
            self.cpus,
            defines.iter().map(|d| format!("-{d}")).collect::<String>()
        );
        let out = work.join(&name);
        let mut cmd = Command::new(self.gcc);
        cmd.args(["-O1", "-g", "-nostdlib", "-ffreestanding", "-fno-pic", "-static", "-fno-stack-protector"])
            .args(["-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments"])
            .args(self.cflags)
            .arg("-T")
            .arg(src.join("link.ld"))
            .arg(format!("-Wl,--defsym=BASE={:#x}", self.base))
            .arg("-o")
            .arg(&out)
            .arg(src.join(format!("{program}.c")));
        if self.cpus > 1 {
            cmd.arg("-DSMP");
        }
        for d in defines {
            cmd.arg(format!("-D{d}"));
        }
        let output = cmd.output().unwrap_or_else(|e| panic!("{}: {e} (install Debian's cross compilers)", self.gcc));
        assert!(output.status.success(), "{} failed:\n{}", self.gcc, String::from_utf8_lossy(&output.stderr));
        out
    }

    /// `qemu-system-<arch> <machine> -smp N -kernel FIRMWARE -nographic -monitor none -d plugin
    /// -D LOG -plugin ...` in `work`.
    pub fn command(&self, firmware: &Path, plugins: &[String], log: &Path) -> Command {
        let mut cmd = Command::new(self.qemu());
        cmd.args(self.machine)
            .args(["-smp", &self.cpus.to_string(), "-nographic", "-monitor", "none", "-kernel"])
            .arg(firmware)
            .arg("-d")
            .arg("plugin")
            .arg("-D")
            .arg(log);
        for p in plugins {
            cmd.arg("-plugin").arg(p);
        }
        cmd.stdin(std::process::Stdio::null()).env_remove("RUST_BACKTRACE");
        cmd
    }

    /// Runs the firmware to its end with these plugins.
    pub fn run(&self, firmware: &Path, plugins: &[String], work: &TempDir) -> QemuRun {
        let log = work.join("qemu-plugin.log");
        let _ = std::fs::remove_file(&log);
        let mut cmd = self.command(firmware, plugins, &log);
        cmd.current_dir(work.path());
        let output = watchdog::output(&mut cmd);
        let plugin_log = std::fs::read_to_string(&log).unwrap_or_default();
        QemuRun { output, plugin_log }
    }
}

/// What the firmware prints as its total on a board with `cpus` CPUs, computed here from its
/// source's definition (squares below 1000 + 500·cpu, plus 7·(0 + … + 199) per CPU), in the
/// width of the board's `unsigned long`.
pub fn expected_total(cpus: u32, long_bits: u32) -> u64 {
    let mask = if long_bits == 64 { u64::MAX } else { (1u64 << long_bits) - 1 };
    let mut total = 0u64;
    for cpu in 0..u64::from(cpus) {
        let n = 1000 + 500 * cpu;
        let squares: u64 = (0..n).map(|i| i * i).sum();
        total = total.wrapping_add(squares + 7 * (0..200u64).sum::<u64>()) & mask;
    }
    total
}
