//! Reading `block.privilege`: the level is in the architecture's own terms, so that nothing is
//! lost; these name it and tell user code from the rest.

/// True when `level` is user mode on `arch` (`RunInfo::arch`): x86 CPL 3, ARM EL0 (M-profile
/// unprivileged thread mode), RISC-V U-mode.
pub fn is_user(arch: &str, level: u8) -> bool {
    match arch {
        "x86_64" | "i386" => level == 3,
        _ => level == 0,
    }
}

/// A name for `level` on `arch`: "user", "kernel" (x86 ring 0, ARM EL1, RISC-V S-mode),
/// "hypervisor" (ARM EL2), "secure monitor" (ARM EL3), "machine" (RISC-V M-mode), "ring 1",
/// "ring 2", or "level N" for anything else.
pub fn privilege_name(arch: &str, level: u8) -> String {
    let name = match (arch, level) {
        ("x86_64" | "i386", 3) => "user",
        ("x86_64" | "i386", 0) => "kernel",
        ("x86_64" | "i386", 1) => "ring 1",
        ("x86_64" | "i386", 2) => "ring 2",
        ("aarch64" | "arm", 0) | ("riscv64" | "riscv32", 0) => "user",
        ("aarch64" | "arm", 1) | ("riscv64" | "riscv32", 1) => "kernel",
        ("aarch64" | "arm", 2) => "hypervisor",
        ("aarch64" | "arm", 3) => "secure monitor",
        ("riscv64" | "riscv32", 3) => "machine",
        _ => return format!("level {level}"),
    };
    name.to_owned()
}
