//! malloc-stats: a heap profile from probes on `malloc`, `calloc`, `realloc` and `free`.
//!
//! Reports: `malloc-stats.txt` (calls and bytes per function, a size histogram, peak live
//! bytes, leaks: allocations never freed, by allocation site), `malloc-live.csv` (live bytes
//! after every 64th call, and at the peak), and with `calls=true` `malloc-calls.txt`: every
//! call in ltrace's notation (`TID CALLER->malloc(24) = 0x4052a0`), per thread in order.
//!
//! Only calls from outside the allocator count: glibc's `realloc(NULL, n)` calls `malloc`
//! itself, which is not the program's allocation.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use cannonball_sdk::{
    Args, ArgumentSpec, Probe, ProbeEvent, ProbeHit, RunInfo, RunSummary, Script, symbolize, thread_id, write_report,
};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Func {
    Malloc,
    Calloc,
    Realloc,
    Free,
}

const FUNCS: [(Func, &str, u8, bool); 4] = [
    (Func::Malloc, "malloc", 1, true),
    (Func::Calloc, "calloc", 2, true),
    (Func::Realloc, "realloc", 2, true),
    (Func::Free, "free", 1, false),
];

/// An allocator call whose return is awaited.
struct Open {
    func: Func,
    args: [u64; 2],
    caller: u64,
    /// Made by the allocator itself (inside another allocator call of the thread).
    nested: bool,
}

#[derive(Default)]
struct Totals {
    calls: u64,
    bytes: u64,
}

struct MallocStats {
    /// Probe id -> function.
    probes: HashMap<u32, Func>,
    log_calls: bool,
    calls_log: String,
    /// Per vCPU: open allocator calls by call number.
    open: HashMap<u32, BTreeMap<u64, Open>>,
    /// Live allocations: pointer -> (size, allocation site).
    live: HashMap<u64, (u64, u64)>,
    live_bytes: u64,
    peak: (u64, u64),
    series: String,
    totals: [Totals; 4],
    /// log2 bucket -> allocations.
    histogram: BTreeMap<u32, u64>,
    completed: u64,
    /// Frees of pointers never allocated under our eyes (allocated before, or by other means).
    unknown_frees: u64,
}

impl MallocStats {
    fn caller_name(&self, address: u64) -> String {
        symbolize(address)
            .map(|l| l.module.rsplit('/').next().unwrap_or(&l.module).to_owned())
            .unwrap_or_else(|| "?".into())
    }

    fn site(address: u64) -> String {
        match symbolize(address) {
            Some(l) => {
                let module = l.module.rsplit('/').next().unwrap_or(&l.module).to_owned();
                match l.symbol {
                    Some(s) => format!("{module}!{}+{:#x}", s.name, address - s.start),
                    None => format!("{module}+{:#x}", l.offset),
                }
            }
            None => format!("{address:#x}"),
        }
    }

    fn log(&mut self, vcpu: u32, caller: u64, text: std::fmt::Arguments<'_>) {
        if self.log_calls {
            let tid = thread_id(vcpu).unwrap_or(-1);
            let who = self.caller_name(caller);
            let _ = writeln!(self.calls_log, "{tid} {who}->{text}");
        }
    }

    fn allocated(&mut self, ptr: u64, size: u64, site: u64) {
        if ptr == 0 {
            return;
        }
        if let Some((old, _)) = self.live.insert(ptr, (size, site)) {
            self.live_bytes -= old;
        }
        self.live_bytes += size;
        *self.histogram.entry(64 - size.leading_zeros()).or_default() += 1;
    }

    fn freed(&mut self, ptr: u64) {
        if ptr == 0 {
            return;
        }
        match self.live.remove(&ptr) {
            Some((size, _)) => self.live_bytes -= size,
            None => self.unknown_frees += 1,
        }
    }

    fn completed_call(&mut self) {
        self.completed += 1;
        if self.live_bytes > self.peak.1 {
            self.peak = (self.completed, self.live_bytes);
        }
        if self.completed % 64 == 0 {
            let _ = writeln!(self.series, "{},{}", self.completed, self.live_bytes);
        }
    }

    fn entry(&mut self, vcpu: u32, hit: &ProbeHit<'_>, func: Func) {
        let open = self.open.entry(vcpu).or_default();
        // Inside another allocator call: the allocator's own work, logged but not counted.
        let nested = !open.is_empty();
        let args = [hit.values.first().copied().unwrap_or(0), hit.values.get(1).copied().unwrap_or(0)];
        if func != Func::Free {
            open.insert(hit.call, Open { func, args, caller: hit.return_address, nested });
            return;
        }
        self.log(vcpu, hit.return_address, format_args!("free({:#x})", args[0]));
        if !nested {
            self.totals[3].calls += 1;
            self.freed(args[0]);
            self.completed_call();
        }
    }

    fn returned(&mut self, vcpu: u32, hit: &ProbeHit<'_>) {
        let Some(call) = self.open.get_mut(&vcpu).and_then(|o| o.remove(&hit.call)) else { return };
        let ptr = hit.return_value().unwrap_or(0);
        let [a, b] = call.args;
        let (index, asked) = match call.func {
            Func::Malloc => {
                self.log(vcpu, call.caller, format_args!("malloc({a}) = {ptr:#x}"));
                (0, a)
            }
            Func::Calloc => {
                self.log(vcpu, call.caller, format_args!("calloc({a}, {b}) = {ptr:#x}"));
                (1, a.wrapping_mul(b))
            }
            Func::Realloc => {
                self.log(vcpu, call.caller, format_args!("realloc({a:#x}, {b}) = {ptr:#x}"));
                (2, b)
            }
            Func::Free => return,
        };
        if call.nested {
            return;
        }
        self.totals[index].calls += 1;
        self.totals[index].bytes += asked;
        // A failed realloc leaves the old block; size 0 frees it.
        if call.func == Func::Realloc && (ptr != 0 || b == 0) {
            self.freed(a);
        }
        self.allocated(ptr, asked, call.caller);
        self.completed_call();
    }
}

impl Script for MallocStats {
    fn arguments() -> Vec<ArgumentSpec> {
        vec![
            ArgumentSpec::boolean("calls", "also write malloc-calls.txt: every call, ltrace's notation")
                .default("false"),
        ]
    }

    fn init(_info: &RunInfo, mut args: Args) -> Result<Self, String> {
        let log_calls = args.flag("calls");
        args.finish()?;
        let mut probes = HashMap::new();
        for (func, name, arguments, at_return) in FUNCS {
            let mut probe = Probe::symbol(name).arguments(arguments);
            if at_return {
                probe = probe.at_return();
            }
            probes.insert(probe.add()?, func);
        }
        Ok(MallocStats {
            probes,
            log_calls,
            calls_log: String::new(),
            open: HashMap::new(),
            live: HashMap::new(),
            live_bytes: 0,
            peak: (0, 0),
            series: String::from("call,live_bytes\n"),
            totals: Default::default(),
            histogram: BTreeMap::new(),
            completed: 0,
            unknown_frees: 0,
        })
    }

    fn on_probes(&mut self, vcpu: u32, hits: &[ProbeHit<'_>]) {
        for hit in hits {
            let Some(&func) = self.probes.get(&hit.probe) else { continue };
            match hit.event {
                ProbeEvent::Entry => self.entry(vcpu, hit, func),
                ProbeEvent::Returned => self.returned(vcpu, hit),
                ProbeEvent::Unreturned => {
                    if let Some(o) = self.open.get_mut(&vcpu) {
                        o.remove(&hit.call);
                    }
                }
            }
        }
    }

    fn finish(&mut self, _summary: &RunSummary) -> Result<(), String> {
        let mut out = String::new();
        let names = ["malloc", "calloc", "realloc", "free"];
        let _ = writeln!(out, "{:<8} {:>10} {:>14}", "function", "calls", "bytes asked");
        for (name, t) in names.iter().zip(&self.totals) {
            let _ = writeln!(out, "{name:<8} {:>10} {:>14}", t.calls, t.bytes);
        }
        let _ = writeln!(out, "\npeak live: {} bytes after call {}", self.peak.1, self.peak.0);
        let _ = writeln!(out, "frees of blocks not allocated under the probes: {}", self.unknown_frees);
        let _ = writeln!(out, "\nsizes (allocations per power of two):");
        for (&bucket, &n) in &self.histogram {
            let (low, high) = if bucket == 0 { (0, 0) } else { (1u64 << (bucket - 1), (1u64 << bucket) - 1) };
            let _ = writeln!(out, "  {low:>10} .. {high:<10} {n}");
        }
        let mut sites: HashMap<u64, (u64, u64)> = HashMap::new();
        for &(size, site) in self.live.values() {
            let e = sites.entry(site).or_default();
            e.0 += 1;
            e.1 += size;
        }
        let mut sites: Vec<_> = sites.into_iter().collect();
        sites.sort_by(|a, b| b.1.1.cmp(&a.1.1).then(a.0.cmp(&b.0)));
        let leaked: u64 = sites.iter().map(|s| s.1.1).sum();
        let _ = writeln!(out, "\nleaks: {} blocks, {leaked} bytes never freed, by allocation site:", self.live.len());
        for (site, (blocks, bytes)) in sites {
            let _ = writeln!(out, "  {bytes:>10} bytes in {blocks:>6} blocks  {}", Self::site(site));
        }
        let _ = writeln!(self.series, "{},{}", self.completed, self.live_bytes);
        write_report("malloc-stats.txt", out)?;
        write_report("malloc-live.csv", &self.series)?;
        if self.log_calls {
            write_report("malloc-calls.txt", &self.calls_log)?;
        }
        Ok(())
    }
}

cannonball_sdk::export_script!(MallocStats);
