//! calls: every call of the functions named in `at=` (`+` between names, `MODULE:NAME` for
//! one module, `0x...` for an address), one line each in `calls.txt`, per thread in order:
//!
//! ```text
//! 4242 #0 entry fact(5) from 0x401234
//! 4242 #1 entry fact(4) from 0x40117c
//! 4242 #1 return fact = 24
//! 4242 #0 return fact = 120
//! ```
//!
//! `args=N` arguments (default 0), `ret=true` return values, `regs=rax+rbx` registers at
//! entry and return, `string=I` the C string argument I points to (up to 256 bytes).
//! `count=true`: only how many times each function was called, and returned (bpftrace's
//! `@[probe] = count()`), in `calls.txt`.

use std::collections::HashMap;
use std::fmt::Write;

use cannonball_sdk::{
    Args, ArgumentSpec, Probe, ProbeEvent, ProbeHit, RunInfo, RunSummary, Script, thread_id, write_report,
};

struct Calls {
    names: HashMap<u32, String>,
    /// `count=true`: per probe, entries and returns.
    counts: Option<HashMap<u32, (u64, u64)>>,
    arguments: usize,
    registers: Vec<String>,
    out: String,
}

fn parse_address(text: &str) -> Option<u64> {
    u64::from_str_radix(text.strip_prefix("0x")?, 16).ok()
}

impl Script for Calls {
    fn arguments() -> Vec<ArgumentSpec> {
        vec![
            ArgumentSpec::text("at", "functions to probe, `+` between them: NAME, MODULE:NAME or 0xADDRESS")
                .default("main"),
            ArgumentSpec::integer("args", "arguments to show").default("0"),
            ArgumentSpec::boolean("ret", "show return values").default("false"),
            ArgumentSpec::text("regs", "registers to show at entry and return, `+` between them").default(""),
            ArgumentSpec::integer("string", "show the C string this argument (0-based) points to").default("-1"),
            ArgumentSpec::boolean("count", "only count calls and returns per function").default("false"),
        ]
    }

    fn init(_info: &RunInfo, mut args: Args) -> Result<Self, String> {
        let at = args.take("at").unwrap_or_default();
        let arguments: u8 = args.parse_or("args", 0u8)?;
        let at_return = args.flag("ret");
        let regs = args.take("regs").unwrap_or_default();
        let string: i64 = args.parse_or("string", -1i64)?;
        let count = args.flag("count");
        args.finish()?;
        let registers: Vec<String> = regs.split('+').filter(|r| !r.is_empty()).map(str::to_owned).collect();
        let mut names = HashMap::new();
        for name in at.split('+').filter(|n| !n.is_empty()) {
            let mut probe = match parse_address(name) {
                Some(address) => Probe::address(address),
                None => Probe::symbol(name),
            };
            probe = probe.arguments(arguments);
            if at_return {
                probe = probe.at_return();
            }
            for r in &registers {
                probe = probe.register(r.clone());
            }
            if let Ok(i) = u8::try_from(string) {
                probe = probe.read_string(i, 256);
            }
            names.insert(probe.add()?, name.rsplit(':').next().unwrap_or(name).to_owned());
        }
        let counts = count.then(HashMap::new);
        Ok(Calls { names, counts, arguments: usize::from(arguments), registers, out: String::new() })
    }

    fn on_probes(&mut self, vcpu: u32, hits: &[ProbeHit<'_>]) {
        if let Some(counts) = &mut self.counts {
            for hit in hits {
                let c = counts.entry(hit.probe).or_default();
                match hit.event {
                    ProbeEvent::Entry => c.0 += 1,
                    ProbeEvent::Returned => c.1 += 1,
                    ProbeEvent::Unreturned => {}
                }
            }
            return;
        }
        let tid = thread_id(vcpu).unwrap_or(-1);
        for hit in hits {
            let name = self.names.get(&hit.probe).map_or("?", String::as_str);
            let _ = write!(self.out, "{tid} #{} ", hit.call);
            match hit.event {
                ProbeEvent::Entry => {
                    let (args, regs) = hit.values.split_at(self.arguments.min(hit.values.len()));
                    let args: Vec<String> = args.iter().map(|v| format!("{v}")).collect();
                    let _ = write!(self.out, "entry {name}({}) from {:#x}", args.join(", "), hit.return_address);
                    if let Some(s) = hit.read(0) {
                        let _ = write!(self.out, " {:?}", String::from_utf8_lossy(s));
                    }
                    self.registers_text(regs);
                }
                ProbeEvent::Returned => {
                    let (ret, regs) = hit.values.split_at(1.min(hit.values.len()));
                    let _ = write!(self.out, "return {name} = {}", ret.first().copied().unwrap_or(0) as i64);
                    self.registers_text(regs);
                }
                ProbeEvent::Unreturned => {
                    let _ = write!(self.out, "unreturned {name}");
                }
            }
            self.out.push('\n');
        }
    }

    fn finish(&mut self, _summary: &RunSummary) -> Result<(), String> {
        if let Some(counts) = &self.counts {
            let mut names: Vec<(&u32, &String)> = self.names.iter().collect();
            names.sort();
            for (id, name) in names {
                let (calls, returns) = counts.get(id).copied().unwrap_or_default();
                let _ = writeln!(self.out, "{name} {calls} calls, {returns} returns");
            }
        }
        write_report("calls.txt", &self.out)
    }
}

impl Calls {
    fn registers_text(&mut self, values: &[u64]) {
        for (name, v) in self.registers.iter().zip(values) {
            let _ = write!(self.out, " {name}={v:#x}");
        }
    }
}

cannonball_sdk::export_script!(Calls);
