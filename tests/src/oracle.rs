//! Readers for what QEMU's own C plugins print (tests/tcg/plugins, contrib/plugins).

/// libinsn.so: `cpu N insns: X` lines and `total insns: X`.
pub struct Insn {
    pub per_cpu: Vec<(u32, u64)>,
    pub total: u64,
}

pub fn insn(log: &str) -> Insn {
    let mut per_cpu = Vec::new();
    let mut total = None;
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix("cpu ") {
            if let Some((cpu, n)) = rest.split_once(" insns: ") {
                per_cpu.push((cpu.parse().unwrap(), n.trim().parse().unwrap()));
            }
        } else if let Some(n) = line.strip_prefix("total insns: ") {
            total = Some(n.trim().parse().unwrap());
        }
    }
    Insn {
        per_cpu,
        total: total.unwrap_or_else(|| panic!("no 'total insns' line from libinsn in:\n{log}")),
    }
}
