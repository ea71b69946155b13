//! {{name}}: a hit count per executed instruction of the main binary, from inline block
//! counters. Build: `cannonball build . -o {{name}}.wasm`; run:
//! `cannonball run --script {{name}}.wasm -- /path/to/program`.

use std::collections::BTreeMap;

use cannonball_sdk::*;

#[derive(Default)]
struct Hits {
    blocks: BlockTable,
}

impl Script for Hits {
    fn init(_: &RunInfo, args: Args) -> Result<Self, String> {
        args.finish()?;
        Ok(Hits::default())
    }

    fn subscription(&self) -> Subscription {
        Subscription { kinds: EventKinds::BLOCK_COUNTS, filter: Some(AddressFilter::MainBinary) }
    }

    fn on_blocks(&mut self, blocks: &[Block]) {
        self.blocks.add(blocks);
    }

    fn finish(&mut self, s: &RunSummary) -> Result<(), String> {
        let mut hits = BTreeMap::<u64, u64>::new();
        for (&id, &n) in s.block_ids.iter().zip(&s.block_execs) {
            for &pc in &self.blocks.get(id).unwrap().insn_addrs {
                *hits.entry(pc).or_default() += n;
            }
        }
        write_report("{{name}}.txt", hits.iter().map(|(pc, n)| format!("{pc:#x} {n}\n")).collect::<String>())
    }
}

export_script!(Hits);
