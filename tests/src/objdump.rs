//! Instruction addresses of a function, from binutils' `objdump -d` (an oracle independent of
//! QEMU and of Cannonball).

use std::path::Path;
use std::process::Command;

/// Every instruction address of function `name` in `binary`.
pub fn function_addresses(binary: &Path, name: &str) -> Vec<u64> {
    let out = Command::new("objdump").args(["-d", "--no-show-raw-insn"]).arg(binary).output().expect("objdump");
    let text = String::from_utf8_lossy(&out.stdout);
    let header = format!("<{name}>:");
    let mut lines = text.lines().skip_while(|l| !l.ends_with(&header)).skip(1);
    let mut addrs = Vec::new();
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
        if let Some((addr, _)) = line.trim().split_once(':') {
            if let Ok(a) = u64::from_str_radix(addr, 16) {
                addrs.push(a);
            }
        }
    }
    assert!(!addrs.is_empty(), "objdump shows no function {name} in {}", binary.display());
    addrs
}

/// Every instruction address objdump disassembles in `binary`'s executable sections.
pub fn all_instruction_addresses(binary: &Path) -> std::collections::BTreeSet<u64> {
    let out = Command::new("objdump").args(["-d", "--no-show-raw-insn"]).arg(binary).output().expect("objdump");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("  "))
        .filter_map(|l| l.trim().split_once(':'))
        .filter_map(|(addr, _)| u64::from_str_radix(addr, 16).ok())
        .collect()
}
