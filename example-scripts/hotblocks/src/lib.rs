//! hotblocks: the N most executed blocks, counted inline (no callbacks), with their symbols.
//! Blocks are keyed like QEMU's contrib hotblocks: start address and instruction count, summed
//! over retranslations. Writes `hotblocks.txt`.

use std::collections::HashMap;
use std::fmt::Write;

use cannonball_sdk::{
    Args, ArgumentSpec, Block, BlockTable, EventKinds, RunInfo, RunSummary, Script, Subscription, export_script,
    subscribe, symbolize, write_report,
};

struct Hotblocks {
    top: usize,
    blocks: BlockTable,
}

impl Script for Hotblocks {
    fn arguments() -> Vec<ArgumentSpec> {
        vec![ArgumentSpec::integer("top", "how many blocks to list").default("20")]
    }

    fn init(_info: &RunInfo, mut args: Args) -> Result<Self, String> {
        let top = args.parse_or("top", 20usize)?;
        args.finish()?;
        Ok(Hotblocks { top, blocks: BlockTable::new() })
    }

    fn subscription(&self) -> Subscription {
        subscribe(EventKinds::BLOCK_COUNTS)
    }

    fn on_blocks(&mut self, blocks: &[Block]) {
        self.blocks.add(blocks);
    }

    fn finish(&mut self, summary: &RunSummary) -> Result<(), String> {
        // (start, instructions) -> (executions, translations)
        let mut counts: HashMap<(u64, usize), (u64, u32)> = HashMap::new();
        for (&id, &n) in summary.block_ids.iter().zip(&summary.block_execs) {
            if let Some(b) = self.blocks.get(id) {
                let e = counts.entry((b.vaddr, b.insn_addrs.len())).or_default();
                e.0 += n;
                e.1 += 1;
            }
        }
        let mut ranked: Vec<_> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
        let mut report = String::from("pc, executions, instructions, translations, symbol\n");
        for ((pc, insns), (execs, trans)) in ranked.into_iter().take(self.top) {
            let at = symbolize(pc).map_or(String::new(), |loc| match loc.symbol {
                Some(s) => format!("{}+{:#x}", s.name, pc - s.start),
                None => format!("{}+{:#x}", loc.module.rsplit('/').next().unwrap_or(&loc.module), loc.offset),
            });
            writeln!(report, "{pc:#018x}, {execs}, {insns}, {trans}, {at}").unwrap();
        }
        write_report("hotblocks.txt", report)
    }
}

export_script!(Hotblocks);
