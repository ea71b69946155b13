//! System call and errno names per guest architecture, for the `syscall-name` and `errno-name`
//! host functions (the table is generated: `syscall_names_table.rs`).

use super::syscall_names_table::NAMES;

/// The name of system call `number` on `arch` (QEMU's target name), as the kernel numbers it.
pub fn syscall_name(arch: &str, number: i64) -> Option<&'static str> {
    let n = NAMES.iter().find(|n| n.arch == arch)?;
    let pick = |base: i64, names: &'static [&'static str]| {
        usize::try_from(number.checked_sub(base)?).ok().and_then(|i| names.get(i)).copied()
    };
    pick(n.base, n.names).or_else(|| pick(n.base2, n.names2)).filter(|s| !s.is_empty())
}

/// The symbolic name of error number `errno` on `arch` ("ENOENT").
pub fn errno_name(arch: &str, errno: i32) -> Option<&'static str> {
    let n = NAMES.iter().find(|n| n.arch == arch)?;
    usize::try_from(errno).ok().and_then(|e| n.errno.get(e)).copied().filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_each_architecture() {
        assert_eq!(syscall_name("x86_64", 1), Some("write"));
        assert_eq!(syscall_name("x86_64", 231), Some("exit_group"));
        assert_eq!(syscall_name("aarch64", 64), Some("write"));
        assert_eq!(syscall_name("mips", 4004), Some("write"));
        assert_eq!(syscall_name("arm", 983045), Some("set_tls"));
        assert_eq!(syscall_name("x86_64", -1), None);
        assert_eq!(syscall_name("x86_64", 100_000), None);
        assert_eq!(errno_name("x86_64", 2), Some("ENOENT"));
        assert_eq!(errno_name("x86_64", 0), None);
        assert_eq!(errno_name("nope", 2), None);
    }
}
