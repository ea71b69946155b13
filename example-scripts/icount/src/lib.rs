//! icount: the number of guest instructions executed, in total and per vCPU.
//! Writes `icount.txt` to the out directory and logs the total.

use std::fmt::Write;

use cannonball_sdk::{Args, RunInfo, RunSummary, Script, export_script, log, write_report};

struct Icount;

impl Script for Icount {
    fn init(_info: &RunInfo, args: Args) -> Result<Self, String> {
        args.finish()?;
        Ok(Icount)
    }

    fn finish(&mut self, summary: &RunSummary) -> Result<(), String> {
        let total: u64 = summary.instructions.iter().map(|v| v.instructions).sum();
        let mut report = format!("total {total}\n");
        for v in summary.instructions.iter().filter(|v| v.instructions > 0) {
            writeln!(report, "vcpu {} {}", v.vcpu, v.instructions).unwrap();
        }
        write_report("icount.txt", &report)?;
        log::info(format!("{total} instructions executed"));
        Ok(())
    }
}

export_script!(Icount);
