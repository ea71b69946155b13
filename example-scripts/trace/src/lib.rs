//! trace: the in-order address of every executed instruction, one `vcpu address` line each,
//! appended to `trace.txt` batch by batch (so the trace never has to fit in the script's
//! memory). Lines of one vCPU are in execution order; batches of different vCPUs interleave.
//!
//! Arguments: `module=NAME` or `start=`/`end=` limit the trace (at translation time: other
//! code runs without callbacks).

use std::fmt::Write;

use cannonball_sdk::{
    AddressFilter, AddressRange, Args, ArgumentSpec, Block, BlockTable, EventBatch, EventKinds, RunInfo, RunSummary,
    Script, Subscription, append_report, export_script, log,
};

struct Trace {
    filter: Option<AddressFilter>,
    blocks: BlockTable,
    lines: u64,
}

impl Script for Trace {
    fn arguments() -> Vec<ArgumentSpec> {
        vec![
            ArgumentSpec::text("module", "trace only code of this module (file name or path)"),
            ArgumentSpec::address("start", "trace only blocks starting at or after this address (with end=)"),
            ArgumentSpec::address("end", "... and before this address"),
        ]
    }

    fn init(_info: &RunInfo, mut args: Args) -> Result<Self, String> {
        let module = args.take("module");
        let range = (args.number("start")?, args.number("end")?);
        args.finish()?;
        let filter = match (module, range) {
            (Some(_), (Some(_), _) | (_, Some(_))) => return Err("give module= or start=/end=, not both".into()),
            (Some(m), _) => Some(AddressFilter::Module(m)),
            (None, (Some(start), Some(end))) => Some(AddressFilter::Ranges(vec![AddressRange { start, end }])),
            (None, (None, None)) => None,
            (None, _) => return Err("start= and end= go together".into()),
        };
        Ok(Trace { filter, blocks: BlockTable::new(), lines: 0 })
    }

    fn subscription(&self) -> Subscription {
        Subscription { kinds: EventKinds::TRACE, filter: self.filter.clone() }
    }

    fn on_blocks(&mut self, blocks: &[Block]) {
        self.blocks.add(blocks);
    }

    fn on_events(&mut self, batch: &EventBatch) {
        let mut text = String::with_capacity(batch.execs.len() * 64);
        let mut n = 0;
        self.blocks.for_each_pc(batch, |pc| {
            writeln!(text, "{} {pc:#x}", batch.vcpu).unwrap();
            n += 1;
        });
        self.lines += n;
        if let Err(e) = append_report("trace.txt", text) {
            log::error(e);
        }
    }

    fn finish(&mut self, _summary: &RunSummary) -> Result<(), String> {
        // An empty trace still leaves a file behind.
        append_report("trace.txt", "")?;
        log::info(format!("{} instructions traced to trace.txt", self.lines));
        Ok(())
    }
}

export_script!(Trace);
