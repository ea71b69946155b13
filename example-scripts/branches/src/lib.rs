//! branches: for every conditional branch that ran, how often it was taken and not taken;
//! and edge coverage (distinct source -> target transfers). Branches are derived from
//! consecutive block executions (see docs/events.md); a branch is conditional when the
//! mnemonic of the block's last instruction says so. Writes `branches.txt`.
//!
//! By default only the main binary is traced (`all=true` traces everything).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

use cannonball_sdk::{
    AddressFilter, Args, ArgumentSpec, Block, BlockTable, BranchTracker, EventBatch, EventKinds, RunInfo, RunSummary,
    Script, Subscription, ThreadEvent, export_script, write_report,
};

struct Branches {
    arch: String,
    main_only: bool,
    blocks: BlockTable,
    tracker: BranchTracker,
    /// Disassembly of every block's last instruction, by its address.
    last_insn: HashMap<u64, String>,
    /// source -> (taken, not taken)
    conditional: BTreeMap<u64, (u64, u64)>,
    edges: BTreeSet<(u64, u64)>,
}

fn is_conditional(arch: &str, disas: &str) -> bool {
    let mnemonic = disas.split_whitespace().next().unwrap_or("");
    match arch {
        "x86_64" => (mnemonic.starts_with('j') && !mnemonic.starts_with("jmp")) || mnemonic.starts_with("loop"),
        "aarch64" => mnemonic.starts_with("b.") || matches!(mnemonic, "cbz" | "cbnz" | "tbz" | "tbnz"),
        _ => false,
    }
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
            if let (Some(info), Some(text)) = (self.blocks.get(b.id), b.disassembly.last()) {
                self.last_insn.insert(info.last_insn(), text.clone());
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
            if last_insn.get(&br.source).is_some_and(|d| is_conditional(arch, d)) {
                let e = conditional.entry(br.source).or_default();
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
        let mut r = String::from("# conditional branches: address, taken, not taken, instruction\n");
        for (pc, (taken, not_taken)) in &self.conditional {
            writeln!(r, "{pc:#x} {taken} {not_taken} {}", self.last_insn[pc]).unwrap();
        }
        writeln!(r, "# edges: {} distinct taken transfers, source -> target", self.edges.len()).unwrap();
        for (s, t) in &self.edges {
            writeln!(r, "{s:#x} -> {t:#x}").unwrap();
        }
        write_report("branches.txt", r)
    }
}

export_script!(Branches);
