//! cmplog: what a program compares its data with. Probes on `strcmp`, `strncmp`, `memcmp`
//! and `strcasecmp` read both operands at each call (strings up to their NUL, `n` bytes for
//! the bounded ones, at most 128 bytes: AFL++'s longest dictionary token); `cmplog.dict`
//! lists every distinct operand in AFL++'s dictionary format (`"MAGIC\x00"`), for `afl-fuzz
//! -x` or libFuzzer's `-dict=`. `callers=FILE` keeps only the calls made from that module
//! (the program under test, not its libraries' own comparisons).

use std::collections::BTreeSet;
use std::fmt::Write;

use cannonball_sdk::{
    Args, ArgumentSpec, Probe, ProbeEvent, ProbeHit, RunInfo, RunSummary, Script, symbolize, write_report,
};

const MAX: u32 = 128;

struct Cmplog {
    callers: Option<String>,
    tokens: BTreeSet<Vec<u8>>,
    calls: u64,
}

/// AFL++'s dictionary quoting: printable ASCII as is, `"` and `\` escaped, the rest `\xNN`.
fn quoted(token: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in token {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
    out
}

impl Script for Cmplog {
    fn arguments() -> Vec<ArgumentSpec> {
        vec![ArgumentSpec::text("callers", "only calls made from this module (file name), e.g. the program's")]
    }

    fn init(_info: &RunInfo, mut args: Args) -> Result<Self, String> {
        let callers = args.take("callers");
        args.finish()?;
        Probe::symbol("strcmp").arguments(2).read_string(0, MAX).read_string(1, MAX).add()?;
        Probe::symbol("strcasecmp").arguments(2).read_string(0, MAX).read_string(1, MAX).add()?;
        Probe::symbol("strncmp").arguments(3).read_string_up_to(0, 2, MAX).read_string_up_to(1, 2, MAX).add()?;
        Probe::symbol("memcmp").arguments(3).read_sized(0, 2, MAX).read_sized(1, 2, MAX).add()?;
        Ok(Cmplog { callers, tokens: BTreeSet::new(), calls: 0 })
    }

    fn on_probes(&mut self, _vcpu: u32, hits: &[ProbeHit<'_>]) {
        for hit in hits.iter().filter(|h| h.event == ProbeEvent::Entry) {
            if let Some(module) = &self.callers {
                let caller = symbolize(hit.return_address).map(|l| l.module).unwrap_or_default();
                if caller.rsplit('/').next() != Some(module.as_str()) && caller != *module {
                    continue;
                }
            }
            self.calls += 1;
            for i in 0..2 {
                if let Some(bytes) = hit.read(i).filter(|b| !b.is_empty()) {
                    self.tokens.insert(bytes.to_vec());
                }
            }
        }
    }

    fn finish(&mut self, _summary: &RunSummary) -> Result<(), String> {
        let mut dict = format!("# cmplog: {} comparisons, {} distinct operands\n", self.calls, self.tokens.len());
        for token in &self.tokens {
            dict.push_str(&quoted(token));
            dict.push('\n');
        }
        write_report("cmplog.dict", dict)
    }
}

cannonball_sdk::export_script!(Cmplog);
