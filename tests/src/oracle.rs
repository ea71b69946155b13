//! Readers for what QEMU's own C plugins print (tests/tcg/plugins, contrib/plugins).
//!
//! Every process of a run (a forked child too) prints its own section when it exits; QEMU runs
//! plugins' exit callbacks in reverse load order, so with libinsn loaded first a section
//! ends with libinsn's `total insns` line. [`sections`] splits a log that way.

use std::collections::BTreeMap;

/// Splits a `-D` log into per-process sections, each ending with `total insns: N`.
pub fn sections(log: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in log.lines() {
        current.push_str(line);
        current.push('\n');
        if line.starts_with("total insns: ") {
            out.push(std::mem::take(&mut current));
        }
    }
    out
}

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
    Insn { per_cpu, total: total.unwrap_or_else(|| panic!("no 'total insns' line from libinsn in:\n{log}")) }
}

/// libtraps.so (contrib/plugins/traps.c): per CPU (interrupts, exceptions, host calls), from
/// its table `VCPU, interrupts, exceptions, hostcalls` then `   0,    5,    8,    1`.
pub fn traps(log: &str) -> BTreeMap<u32, (u64, u64, u64)> {
    // traps.c prints its user-mode note without a newline: the header may follow it.
    let mut lines = log.lines().skip_while(|l| !l.contains("VCPU, interrupts, exceptions, hostcalls"));
    assert!(lines.next().is_some(), "no libtraps table in:\n{log}");
    let mut out = BTreeMap::new();
    for line in lines {
        let fields: Vec<u64> = line.split(',').filter_map(|f| f.trim().parse().ok()).collect();
        match fields.as_slice() {
            [cpu, i, e, h] if line.split(',').count() == 4 => {
                out.insert(*cpu as u32, (*i, *e, *h));
            }
            _ => break,
        }
    }
    out
}

/// libmem.so with `haddr=true`: (accesses to RAM and ROM, accesses to I/O devices).
pub fn mem_ram_io(log: &str) -> (u64, u64) {
    let value = |prefix: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no '{prefix}' line from libmem in:\n{log}"))
            .trim()
            .parse()
            .unwrap()
    };
    (value("mem accesses: "), value("io accesses: "))
}

/// libbb.so: `Total: bb's: N, insns: M`.
pub fn bb_total(log: &str) -> u64 {
    let line =
        log.lines().find(|l| l.starts_with("Total: bb's: ")).unwrap_or_else(|| panic!("no libbb total in:\n{log}"));
    let rest = line.strip_prefix("Total: bb's: ").unwrap();
    rest.split(',').next().unwrap().trim().parse().unwrap()
}

/// Two libmem.so instances loaded as `track=r` then `track=w` (callback counting): their
/// `mem accesses: N` lines, in exit order (writes first).
pub fn mem_reads_writes(log: &str) -> (u64, u64) {
    let counts: Vec<u64> =
        log.lines().filter_map(|l| l.strip_prefix("mem accesses: ")).map(|n| n.trim().parse().unwrap()).collect();
    assert_eq!(counts.len(), 2, "expected two libmem lines in:\n{log}");
    (counts[1], counts[0])
}

/// libsyscall.so statistics: number -> (calls, errors).
pub fn syscalls(log: &str) -> BTreeMap<i64, (u64, u64)> {
    let mut out = BTreeMap::new();
    let mut in_table = false;
    for line in log.lines() {
        if line.starts_with("syscall no.") {
            in_table = true;
            continue;
        }
        if in_table {
            let fields: Vec<_> = line.split_whitespace().collect();
            match fields.as_slice() {
                [num, calls, errors] => {
                    if let (Ok(n), Ok(c), Ok(e)) = (num.parse(), calls.parse(), errors.parse()) {
                        out.insert(n, (c, e));
                        continue;
                    }
                    in_table = false;
                }
                _ => in_table = false,
            }
        }
    }
    out
}

/// contrib execlog.so: `cpu, 0xpc, 0xopcode, "disas"[, load|store, 0xaddr]...` → the PCs, in
/// execution order.
pub fn execlog_pcs(log: &str) -> Vec<u64> {
    log.lines()
        .filter_map(|l| l.split(", ").nth(1))
        .filter_map(|pc| u64::from_str_radix(pc.strip_prefix("0x")?, 16).ok())
        .collect()
}

/// contrib execlog.so: per vCPU, the polynomial hash of its executed PCs in order (`h = h·B +
/// pc` modulo 2^64, B = 0x100000001b3, from 0), counting only PCs `keep` accepts: what census
/// reports as `trace-checksum-vcpu-N`, computed here PC by PC from QEMU's own log.
pub fn execlog_trace_hashes(log: &str, keep: impl Fn(u64) -> bool) -> std::collections::BTreeMap<u32, u64> {
    let mut hashes = std::collections::BTreeMap::new();
    for line in log.lines() {
        let mut fields = line.split(", ");
        let (Some(cpu), Some(pc)) = (fields.next(), fields.next()) else { continue };
        let (Ok(cpu), Some(Ok(pc))) =
            (cpu.trim().parse::<u32>(), pc.strip_prefix("0x").map(|pc| u64::from_str_radix(pc, 16)))
        else {
            continue;
        };
        if keep(pc) {
            let h: &mut u64 = hashes.entry(cpu).or_default();
            *h = h.wrapping_mul(0x100_0000_01b3).wrapping_add(pc);
        }
    }
    hashes
}

/// contrib execlog.so: how many loads and stores each address saw.
pub fn execlog_access_counts(log: &str) -> std::collections::HashMap<u64, u64> {
    let mut per_addr = std::collections::HashMap::new();
    for line in log.lines() {
        let f: Vec<_> = line.split(", ").collect();
        for pair in f.windows(2) {
            if pair[0] == "load" || pair[0] == "store" {
                let addr = u64::from_str_radix(pair[1].trim_start_matches("0x"), 16).unwrap();
                *per_addr.entry(addr).or_default() += 1;
            }
        }
    }
    per_addr
}

/// execlog's count of each executed PC.
pub fn execlog_hits(log: &str) -> std::collections::HashMap<u64, u64> {
    let mut hits = std::collections::HashMap::new();
    for pc in execlog_pcs(log) {
        *hits.entry(pc).or_insert(0) += 1;
    }
    hits
}

/// What QEMU's plugins counted for one process; a count whose plugin a run did not load is 0.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Process {
    pub insns: u64,
    pub bbs: u64,
    pub reads: u64,
    pub writes: u64,
    /// number -> (calls, errors)
    pub syscalls: BTreeMap<i64, (u64, u64)>,
}

impl Process {
    /// One section of a run with libinsn and libsyscall, and where they were loaded libbb and
    /// libmem twice ([`mem_reads_writes`]).
    pub fn of(section: &str) -> Process {
        let has = |prefix: &str| section.lines().any(|l| l.starts_with(prefix));
        let (reads, writes) = if has("mem accesses: ") { mem_reads_writes(section) } else { (0, 0) };
        Process {
            insns: insn(section).total,
            bbs: if has("Total: bb's: ") { bb_total(section) } else { 0 },
            reads,
            writes,
            syscalls: syscalls(section),
        }
    }

    /// A forked child's own part: QEMU's plugins in the child keep counting from the parent's
    /// counters at the fork, so the child's section minus the parent's section, plus what the
    /// parent is known to have run after the fork (`parent_tail`), is what the child ran.
    /// Every term comes from QEMU's plugins or from the program's source.
    pub fn forked_child_own(&self, parent: &Process, parent_tail: &Process) -> Process {
        let own = |child: u64, parent: u64, tail: u64| {
            (child + tail)
                .checked_sub(parent)
                .unwrap_or_else(|| panic!("the child's section {child} is below the parent's {parent} less {tail}"))
        };
        let mut syscalls = self.syscalls.clone();
        for (num, &(calls, errors)) in &parent.syscalls {
            let (tail_calls, tail_errors) = parent_tail.syscalls.get(num).copied().unwrap_or((0, 0));
            let entry = syscalls.entry(*num).or_insert((0, 0));
            *entry = (own(entry.0, calls, tail_calls), own(entry.1, errors, tail_errors));
        }
        syscalls.retain(|_, &mut (calls, _)| calls > 0);
        Process {
            insns: own(self.insns, parent.insns, parent_tail.insns),
            bbs: own(self.bbs, parent.bbs, parent_tail.bbs),
            reads: own(self.reads, parent.reads, parent_tail.reads),
            writes: own(self.writes, parent.writes, parent_tail.writes),
            syscalls,
        }
    }
}

/// What tests/programs/fork_counted.c's parent runs after its fork on `arch`, read from its
/// source: one aligned block of assembly, 3 blocks (ending at the conditional branch and at each
/// system call), no memory access, wait4 and exit_group.
pub fn fork_counted_parent_tail(arch: &str) -> Process {
    let (insns, wait4, exit_group) = match arch {
        "x86_64" => (11, 61, 231),
        "i386" => (11, 114, 252),
        "aarch64" => (9, 260, 94),
        "arm" => (11, 114, 248),
        "riscv64" => (9, 260, 94),
        "mips" | "mipsel" => (11, 4114, 4246),
        "ppc64le" => (10, 114, 234),
        _ => panic!("fork_counted.c has no assembly for {arch}"),
    };
    Process {
        insns,
        bbs: 3,
        reads: 0,
        writes: 0,
        syscalls: [(wait4, (1, 0)), (exit_group, (1, 0))].into_iter().collect(),
    }
}
