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
use super::syscall_data::{Layout, Memory, info, read_c_string};

/// Longest single argument or environment string Linux accepts (32 pages).
const MAX_ARG_STRLEN: usize = 32 * 4096;
/// Reads of guest arrays stop here (far beyond any ARG_MAX).
const MAX_STRINGS: usize = 1 << 20;

/// The NUL-terminated string at `addr`, if readable and at most `cap` bytes long.
fn string(mem: &mut impl Memory, addr: u64, cap: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    (read_c_string(mem, addr, cap, &mut out) == 0).then_some(out)
}

/// The arguments of execve (`path, argv, envp`) or execveat (`dirfd, path, argv, envp,
/// flags`), by which of the two `number` is.
pub fn exec_may_succeed(arch: &Arch, number: i64, args: &[u64; 6], mem: &mut impl Memory) -> bool {
    let execveat = number != arch.execve[0];
    let (path, argv, envp) = if execveat { (args[1], args[2], args[3]) } else { (args[0], args[1], args[2]) };
    let Some(path) = string(mem, path, 4096) else { return true };
    // execveat with a path relative to a directory descriptor, or the descriptor itself
    // (AT_EMPTY_PATH): not predicted.
    if execveat && (path.is_empty() || (path[0] != b'/' && args[0] as i32 != libc::AT_FDCWD)) {
        return true;
    }
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
fn arguments_fit(arch: &Arch, argv: u64, envp: u64, mem: &mut impl Memory) -> bool {
    // SAFETY: sysconf only reads a limit.
    let arg_max = usize::try_from(unsafe { libc::sysconf(libc::_SC_ARG_MAX) }).unwrap_or(usize::MAX);
    let layout = Layout::of(arch);
    let mut total = 0usize;
    for array in [argv, envp] {
        if array == 0 {
            continue;
        }
        for i in 0..MAX_STRINGS {
            let Some(ptr) = layout.read_pointer(mem, array + (i * layout.bytes) as u64) else { return true };
            if ptr == 0 {
                break;
            }
            let mut s = Vec::new();
            match read_c_string(mem, ptr, MAX_ARG_STRLEN, &mut s) {
                0 if s.len() < MAX_ARG_STRLEN => {}
                0 | info::TRUNCATED => return false, // the string and its NUL exceed the limit
                _ => return true,                    // unreadable: not predicted
            }
            total += s.len() + 1 + std::mem::size_of::<usize>();
            if total > arg_max {
                return false;
            }
        }
    }
    true
}
