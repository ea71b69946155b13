//! Whether an `execve` the guest is about to make can replace the process. A successful
//! execve ends this QEMU process without an exit callback, so the analysis must finish at the
//! call's entry (`plugin::before_exec`); a failed one returns and the process goes on, so
//! finishing there would lose everything after it (CPython's test_os lost half its
//! instructions that way). The kernel decides before its point of no return; this module
//! predicts a failure only where the kernel's answer is certain from the outside:
//!
//! - the path does not exist, is not a regular file, or is not executable (ENOENT, EACCES);
//! - the file starts neither with `#!` nor with an ELF header the host kernel loads, and no
//!   binfmt_misc handler is registered (ENOEXEC);
//! - an argument or environment string is longer than MAX_ARG_STRLEN, or all of them with
//!   their pointers exceed ARG_MAX (E2BIG).
//!
//! Anything else counts as a success: at worst a failure the kernel finds later ends the
//! analysis early, as before, and says so (`capture::syscalls`).

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::syscall_arch::Arch;

/// Longest single argument or environment string Linux accepts (32 pages).
const MAX_ARG_STRLEN: usize = 32 * 4096;
/// Reads of guest arrays stop here (far beyond any ARG_MAX).
const MAX_STRINGS: usize = 1 << 20;

/// Guest memory as the check reads it: `len` bytes at `addr` appended to `out`, false if
/// any is unreadable.
pub trait GuestRead {
    fn read(&mut self, addr: u64, len: usize, out: &mut Vec<u8>) -> bool;

    /// The NUL-terminated string at `addr` without its NUL, at most `cap` bytes (read page
    /// by page: a string may end right before an unmapped page).
    fn string(&mut self, addr: u64, cap: usize) -> Option<Vec<u8>> {
        const PAGE: u64 = 4096;
        let mut out = Vec::new();
        let mut at = addr;
        while out.len() < cap {
            let chunk = ((PAGE - at % PAGE) as usize).min(cap - out.len());
            let before = out.len();
            if !self.read(at, chunk, &mut out) {
                return None;
            }
            if let Some(nul) = out[before..].iter().position(|&b| b == 0) {
                out.truncate(before + nul);
                return Some(out);
            }
            at = at.wrapping_add(chunk as u64);
        }
        Some(out)
    }

    /// The guest pointer at `addr`, `bytes` wide, in the guest's byte order.
    fn pointer(&mut self, addr: u64, bytes: usize, big_endian: bool) -> Option<u64> {
        let mut word = Vec::with_capacity(8);
        if !self.read(addr, bytes, &mut word) {
            return None;
        }
        let mut b = [0u8; 8];
        Some(if big_endian {
            b[8 - bytes..].copy_from_slice(&word);
            u64::from_be_bytes(b)
        } else {
            b[..bytes].copy_from_slice(&word);
            u64::from_le_bytes(b)
        })
    }
}

impl GuestRead for crate::qemu::GuestMemory<'_> {
    fn read(&mut self, addr: u64, len: usize, out: &mut Vec<u8>) -> bool {
        crate::qemu::GuestMemory::read(self, addr, len, out)
    }
}

/// The arguments of execve (`path, argv, envp`) or execveat (`dirfd, path, argv, envp,
/// flags`), by which of the two `number` is.
pub fn exec_may_succeed(arch: &Arch, number: i64, args: &[u64; 6], mem: &mut impl GuestRead) -> bool {
    let (path, argv, envp) = if number == arch.execve[0] {
        (args[0], args[1], args[2])
    } else {
        // execveat: a path relative to a directory descriptor, or the descriptor itself
        // (AT_EMPTY_PATH): not predicted.
        let Some(path) = mem.string(args[1], 4096) else { return true };
        if path.is_empty() || (path[0] != b'/' && args[0] as i32 != libc::AT_FDCWD) {
            return true;
        }
        (args[1], args[2], args[3])
    };
    let Some(path) = mem.string(path, 4096) else { return true };
    if path.is_empty() {
        return false; // ENOENT
    }
    let path = PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(path));
    file_may_execute(&path) && arguments_fit(arch, argv, envp, mem)
}

/// ENOENT, EACCES and ENOEXEC, decided from the file as the host kernel will see it.
fn file_may_execute(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else { return false };
    if !meta.is_file() {
        return false;
    }
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else { return false };
    // SAFETY: a valid C string; access only reads the file system.
    if unsafe { libc::access(c_path.as_ptr(), libc::X_OK) } != 0 {
        return false;
    }
    let mut head = [0u8; 64];
    let Ok(n) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
    else {
        return true; // executable but not readable: the kernel may still run it
    };
    let head = &head[..n];
    head.starts_with(b"#!") || host_loads_elf(head) || binfmt_misc_registered()
}

/// An ELF header the host kernel's loader accepts: its class, byte order and machine, an
/// executable or shared object, program headers of the right size.
fn host_loads_elf(head: &[u8]) -> bool {
    if head.len() < 64 || !head.starts_with(b"\x7fELF") || head[5] != 1 {
        return false; // not ELF, or big-endian on a little-endian host
    }
    let u16_at = |at: usize| u16::from_le_bytes([head[at], head[at + 1]]);
    let (e_type, machine) = (u16_at(16), u16_at(18));
    let (phentsize, host_machines): (u16, &[u16]) = match (head[4], std::env::consts::ARCH) {
        (2, "x86_64") => (u16_at(54), &[62]),   // EM_X86_64
        (1, "x86_64") => (u16_at(42), &[3]),    // EM_386 (the kernel runs i386 programs)
        (2, "aarch64") => (u16_at(54), &[183]), // EM_AARCH64
        (1, "aarch64") => (u16_at(42), &[40]),  // EM_ARM
        _ => return true,                       // another host: not predicted
    };
    let expected_phentsize = if head[4] == 2 { 56 } else { 32 };
    matches!(e_type, 2 | 3) && host_machines.contains(&machine) && phentsize == expected_phentsize
}

/// Whether binfmt_misc may run files the ELF loader does not (a registered handler, e.g.
/// Debian's qemu-user-binfmt).
fn binfmt_misc_registered() -> bool {
    std::fs::read_dir("/proc/sys/fs/binfmt_misc")
        .map(|dir| dir.flatten().any(|e| !matches!(e.file_name().to_str(), Some("register" | "status"))))
        .unwrap_or(false)
}

/// E2BIG: one string too long, or all of them with their pointers over ARG_MAX.
fn arguments_fit(arch: &Arch, argv: u64, envp: u64, mem: &mut impl GuestRead) -> bool {
    // SAFETY: sysconf only reads a limit.
    let arg_max = usize::try_from(unsafe { libc::sysconf(libc::_SC_ARG_MAX) }).unwrap_or(usize::MAX);
    let pointer = arch.bits as usize / 8;
    let mut total = 0usize;
    for array in [argv, envp] {
        if array == 0 {
            continue;
        }
        for i in 0..MAX_STRINGS {
            let Some(ptr) = mem.pointer(array + (i * pointer) as u64, pointer, arch.big_endian) else { return true };
            if ptr == 0 {
                break;
            }
            let Some(s) = mem.string(ptr, MAX_ARG_STRLEN + 1) else { return true };
            if s.len() >= MAX_ARG_STRLEN {
                return false;
            }
            total += s.len() + 1 + std::mem::size_of::<usize>();
            if total > arg_max {
                return false;
            }
        }
    }
    true
}
