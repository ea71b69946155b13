//! branches: for every conditional branch that ran, how often it was taken and not taken;
//! and edge coverage (distinct source -> target transfers). Branches are derived from
//! consecutive block executions (see docs/events.md); a branch is conditional when the
//! mnemonic of the block's last instruction says so (on MIPS the one before the delay slot,
//! whose address the report gives). Writes `branches.txt`.
//!
//! By default only the main binary is traced (`all=true` traces everything).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

use cannonball_sdk::{
    AddressFilter, Args, ArgumentSpec, Block, BlockTable, BranchTracker, EventBatch, EventKinds, RunInfo, RunSummary,
    Script, Subscription, ThreadEvent, export_script, symbolize, write_report,
};

struct Branches {
    arch: String,
    main_only: bool,
    blocks: BlockTable,
    tracker: BranchTracker,
    /// By the address of a block's last instruction: the address and disassembly of its
    /// branch (the last instruction, or on MIPS the one before its delay slot).
    last_insn: HashMap<u64, (u64, String)>,
    /// branch address -> (taken, not taken)
    conditional: BTreeMap<u64, (u64, u64)>,
    edges: BTreeSet<(u64, u64)>,
}

/// ARM and PowerPC condition suffixes.
const ARM_CONDS: &[&str] =
    &["eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le"];
const PPC_CONDS: &[&str] = &["eq", "ne", "lt", "gt", "le", "ge", "so", "ns", "un", "nu", "dnz", "dz", "c"];

/// Whether the instruction `disas` (the block facts' text) is a conditional branch.
fn is_conditional(arch: &str, disas: &str) -> bool {
    let mnemonic = disas.split_whitespace().next().unwrap_or("");
    match arch {
        "x86_64" | "i386" => {
            (mnemonic.starts_with('j') && !mnemonic.starts_with("jmp")) || mnemonic.starts_with("loop")
        }
        "aarch64" => mnemonic.starts_with("b.") || matches!(mnemonic, "cbz" | "cbnz" | "tbz" | "tbnz"),
        "arm" => {
            // b<cond>, bl<cond>, bx<cond>, blx<cond> with an optional .w/.n width; cbz, cbnz.
            let m = mnemonic.trim_end_matches(".w").trim_end_matches(".n");
            matches!(m, "cbz" | "cbnz")
                || ["blx", "bx", "bl", "b"].iter().any(|p| m.strip_prefix(p).is_some_and(|c| ARM_CONDS.contains(&c)))
        }
        "riscv64" => matches!(
            mnemonic.trim_start_matches("c."),
            "beq"
                | "bne"
                | "blt"
                | "bge"
                | "bltu"
                | "bgeu"
                | "beqz"
                | "bnez"
                | "blez"
                | "bgez"
                | "bltz"
                | "bgtz"
                | "bgt"
                | "ble"
                | "bgtu"
                | "bleu"
        ),
        "mips" | "mipsel" => {
            // Every b*/j* but b, bal, j, jal, jr, jalr (and break) tests a condition; the
            // branch-likely forms end in l.
            let m = mnemonic.trim_end_matches('l');
            matches!(m, "beq" | "bne" | "beqz" | "bnez" | "bgez" | "bgtz" | "blez" | "bltz" | "bgeza" | "bltza")
                || matches!(mnemonic, "bgezal" | "bltzal" | "bc1t" | "bc1f" | "bc1tl" | "bc1fl")
        }
        "ppc64le" => {
            // b<cond>[lr|ctr][l][+|-] and bc*; b, bl, blr, bctr(l) are unconditional.
            let m = mnemonic.trim_end_matches(['+', '-']);
            let Some(rest) = m.strip_prefix('b') else { return false };
            let rest = rest.strip_suffix("lrl").or(rest.strip_suffix("lr")).unwrap_or(rest);
            let rest = rest.strip_suffix("ctrl").or(rest.strip_suffix("ctr")).unwrap_or(rest);
            let rest = rest.strip_suffix('l').filter(|r| PPC_CONDS.contains(r)).unwrap_or(rest);
            PPC_CONDS.contains(&rest)
        }
        _ => false,
    }
}

/// MIPS branches and jumps have a delay slot: the instruction after them runs before the
/// transfer, so a block ends with the branch and then its delay slot.
fn has_delay_slot(arch: &str, disas: &str) -> bool {
    let mnemonic = disas.split_whitespace().next().unwrap_or("");
    matches!(arch, "mips" | "mipsel")
        && (mnemonic.starts_with('j') || (mnemonic.starts_with('b') && mnemonic != "break"))
}

impl Script for Branches {
    fn arguments() -> Vec<ArgumentSpec> {
        vec![ArgumentSpec::boolean("all", "trace all code instead of only the main binary")]
    }

    fn init(info: &RunInfo, mut args: Args) -> Result<Self, String> {
        let main_only = !args.flag("all");
        args.finish()?;
        Ok(Branches {
            arch: info.arch.clone(),
            main_only,
            blocks: BlockTable::new(),
            tracker: BranchTracker::new(),
            last_insn: HashMap::new(),
            conditional: BTreeMap::new(),
            edges: BTreeSet::new(),
        })
    }

    fn subscription(&self) -> Subscription {
        Subscription {
            kinds: EventKinds::TRACE | EventKinds::DISASSEMBLY | EventKinds::THREADS,
            filter: self.main_only.then_some(AddressFilter::MainBinary),
        }
    }

    fn on_blocks(&mut self, blocks: &[Block]) {
        self.blocks.add(blocks);
        for b in blocks {
            let Some(info) = self.blocks.get(b.id) else { continue };
            let n = b.disassembly.len();
            let branch = match (n.checked_sub(2), info.insn_addrs.len() == n) {
                (Some(i), true) if has_delay_slot(&self.arch, &b.disassembly[i]) => Some(i),
                _ => n.checked_sub(1),
            };
            if let Some(i) = branch {
                let addr = info.insn_addrs.get(i).copied().unwrap_or(info.last_insn());
                self.last_insn.insert(info.last_insn(), (addr, b.disassembly[i].clone()));
            }
        }
    }

    fn on_events(&mut self, batch: &EventBatch) {
        let (arch, last_insn) = (&self.arch, &self.last_insn);
        let (conditional, edges) = (&mut self.conditional, &mut self.edges);
        self.tracker.for_each_branch(&self.blocks, batch, |br| {
            if br.taken {
                edges.insert((br.source, br.target));
            }
            if let Some((pc, _)) = last_insn.get(&br.source).filter(|(_, d)| is_conditional(arch, d)) {
                let e = conditional.entry(*pc).or_default();
                if br.taken {
                    e.0 += 1;
                } else {
                    e.1 += 1;
                }
            }
        });
    }

    fn on_thread(&mut self, vcpu: u32, event: ThreadEvent) {
        if event == ThreadEvent::Exit {
            self.tracker.forget(vcpu);
        }
    }

    fn finish(&mut self, _summary: &RunSummary) -> Result<(), String> {
        let mut r = String::from("# conditional branches: address, taken, not taken, instruction <function+offset>\n");
        let texts: HashMap<u64, &str> = self.last_insn.values().map(|(pc, d)| (*pc, d.as_str())).collect();
        let mut names = Names::default();
        for (pc, (taken, not_taken)) in &self.conditional {
            writeln!(r, "{pc:#x} {taken} {not_taken} {} <{}>", texts[pc], names.at(*pc)).unwrap();
        }
        writeln!(
            r,
            "# edges: {} distinct taken transfers, source -> target <function+offset -> function+offset>",
            self.edges.len()
        )
        .unwrap();
        for (s, t) in &self.edges {
            writeln!(r, "{s:#x} -> {t:#x} <{} -> {}>", names.at(*s), names.at(*t)).unwrap();
        }
        write_report("branches.txt", r)
    }
}

/// `function+0xoffset` of code addresses (`sub_<offset>` in stripped code, the module's file
/// name and offset outside every function), one host call per function.
#[derive(Default)]
struct Names {
    /// Known functions: start -> (end, name).
    functions: BTreeMap<u64, (u64, String)>,
}

impl Names {
    fn at(&mut self, pc: u64) -> String {
        if let Some((start, (end, name))) = self.functions.range(..=pc).next_back()
            && pc < *end
        {
            return format!("{name}+{:#x}", pc - start);
        }
        match symbolize(pc) {
            Some(loc) => match loc.symbol {
                Some(s) => {
                    let text = format!("{}+{:#x}", s.name, pc - s.start);
                    self.functions.insert(s.start, (s.start + s.size.max(1), s.name));
                    text
                }
                None => format!("{}+{:#x}", loc.module.rsplit('/').next().unwrap_or(&loc.module), loc.offset),
            },
            None => format!("{pc:#x}"),
        }
    }
}

export_script!(Branches);
