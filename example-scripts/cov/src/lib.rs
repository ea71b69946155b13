//! cov: coverage of every function that ran.
//!
//! For each function with at least one executed instruction, `cov.txt` lists its whole
//! disassembly under a `// symbol NAME` header, with a hit count per instruction (0 for those
//! that never ran). Hit counts come from inline block counters: no callback runs. `cov.drcov`
//! holds the executed blocks in drcov format (module-relative offsets), for Lighthouse,
//! bncov and friends. `cov.html` is the same listing as one self-contained page: a sortable
//! table of functions and each function's disassembly colored by heat (see html.rs).
//!
//! Arguments: `module=NAME` limits coverage to one module (default: the main binary);
//! `all=true` covers all code; `privilege=user` or `privilege=kernel` only code that ran at
//! user level, or above it (a kernel's, a firmware's handlers). `cov.info` is source-line coverage for genhtml (lcov.rs): the
//! main binary's, and with `lcov-libs=true` the covered libraries' too.
//!
//! Merge step (merge.rs): the reports of several runs fold into one set: hit counts summed
//! per instruction (cov.txt, cov.html), the drcov blocks' union, lcov counts summed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

mod html;

use cannonball_sdk::{
    AddressFilter, Args, ArgumentSpec, Block, BlockInfo, BlockTable, EventKinds, Instruction, RunInfo, RunSummary,
    Script, Subscription, disassemble, export_script, is_user, log, read_memory, symbolize, write_report,
};

mod anonymous;
mod lcov;
mod merge;

struct Cov {
    filter: Option<AddressFilter>,
    blocks: BlockTable,
    /// cov.info covers libraries too (`lcov-libs=true`), not only the main binary.
    lcov_libraries: bool,
    /// `privilege=`: Some(true) user-level code only, Some(false) the rest only.
    user_level: Option<bool>,
    arch: String,
}

/// A function that ran, by module and start address.
struct Function {
    name: String,
    module: String,
    start: u64,
    size: u64,
}

impl Script for Cov {
    fn arguments() -> Vec<ArgumentSpec> {
        vec![
            ArgumentSpec::text("module", "cover only this module (file name or path) instead of the main binary"),
            ArgumentSpec::boolean("all", "cover all code: the main binary and every library"),
            ArgumentSpec::boolean(
                "lcov-libs",
                "cov.info: source lines of the covered libraries too (with all=true or module=)",
            ),
            ArgumentSpec::text(
                "privilege",
                "user: only code that ran at user level; kernel: only code that ran above it (default: both)",
            ),
        ]
    }

    fn init(info: &RunInfo, mut args: Args) -> Result<Self, String> {
        let module = args.take("module");
        let all = args.flag("all");
        let lcov_libraries = args.flag("lcov-libs");
        let user_level = match args.take("privilege").as_deref() {
            None => None,
            Some("user") => Some(true),
            Some("kernel") => Some(false),
            Some(other) => return Err(format!("privilege={other}: expected user or kernel")),
        };
        args.finish()?;
        let filter = match (all, module) {
            (true, _) => None,
            (false, Some(m)) => Some(AddressFilter::Module(m)),
            (false, None) => Some(AddressFilter::MainBinary),
        };
        Ok(Cov { filter, blocks: BlockTable::new(), lcov_libraries, user_level, arch: info.arch.clone() })
    }

    fn subscription(&self) -> Subscription {
        Subscription { kinds: EventKinds::BLOCK_COUNTS, filter: self.filter.clone() }
    }

    fn on_blocks(&mut self, blocks: &[Block]) {
        match self.user_level {
            None => self.blocks.add(blocks),
            // Blocks of the other level stay out of the table: their counts are then ignored.
            // A block whose level QEMU does not say counts as user code.
            Some(user) => {
                let wanted: Vec<Block> = blocks
                    .iter()
                    .filter(|b| b.privilege.is_none_or(|level| is_user(&self.arch, level)) == user)
                    .cloned()
                    .collect();
                self.blocks.add(&wanted);
            }
        }
    }

    fn finish(&mut self, summary: &RunSummary) -> Result<(), String> {
        // Hits per instruction address, summed over every translation of every block.
        let mut hits: HashMap<u64, u64> = HashMap::new();
        let mut executed = Vec::new();
        for (&id, &count) in summary.block_ids.iter().zip(&summary.block_execs) {
            let Some(block) = self.blocks.get(id) else { continue };
            if count == 0 {
                continue;
            }
            executed.push(block);
            for &pc in &block.insn_addrs {
                *hits.entry(pc).or_default() += count;
            }
        }

        let mut functions: BTreeMap<(String, u64), Function> = BTreeMap::new();
        // Blocks outside every module's functions (anonymous memory: JIT or generated code).
        let mut anonymous: Vec<&BlockInfo> = Vec::new();
        let mut drcov = Drcov::default();
        for block in &executed {
            let loc = symbolize(block.vaddr);
            if let Some(loc) = &loc {
                drcov.add(&loc.module, loc.module_base, loc.offset, block.end - block.vaddr);
            }
            match loc.and_then(|l| Some((l.symbol?, l.module))) {
                Some((sym, module)) => {
                    functions.entry((module.clone(), sym.start)).or_insert(Function {
                        name: sym.name,
                        module,
                        start: sym.start,
                        size: sym.size,
                    });
                }
                None => anonymous.push(block),
            }
        }

        // cov.info: the source lines of the main binary (and libraries on request), lcov.rs.
        let modules: BTreeSet<String> =
            drcov.modules.keys().filter(|m| self.lcov_libraries || !lcov::is_library(m)).cloned().collect();
        let starts: Vec<u64> = executed.iter().map(|b| b.vaddr).collect();
        let tracefile = lcov::tracefile(&modules, &starts, &hits);
        if tracefile.is_empty() {
            let names: Vec<&str> = modules.iter().map(String::as_str).collect();
            log::info(format!(
                "cov.info not written: no source lines for {} (no DWARF: build with -g, or install the debug file; debug-dir=DIR)",
                if names.is_empty() { "the covered code".to_owned() } else { names.join(", ") }
            ));
        } else {
            write_report("cov.info", tracefile)?;
        }

        // Every function's disassembly, then the anonymous ranges, each with its hit counts.
        let mut sorted_starts = starts;
        sorted_starts.sort_unstable();
        sorted_starts.dedup();
        let mut listed: Vec<(String, &str, Vec<Instruction>)> = Vec::with_capacity(functions.len());
        for f in functions.values() {
            let end = f.start + f.size;
            let within = &sorted_starts
                [sorted_starts.partition_point(|&a| a < f.start)..sorted_starts.partition_point(|&a| a < end)];
            // A function that cannot be read whole (under a system emulator, only the pages code
            // ran from can be read) lists what ran of it, block by block.
            let insns = listing(f.start, f.size, within).unwrap_or_else(|_| {
                let ran: Vec<&BlockInfo> =
                    executed.iter().copied().filter(|b| (f.start..end).contains(&b.vaddr)).collect();
                anonymous::ranges(&ran).into_iter().flat_map(|r| r.insns).collect()
            });
            listed.push((f.name.clone(), &f.module, insns));
        }
        let ranges = anonymous::ranges(&anonymous);
        if !ranges.is_empty() {
            log::info(format!(
                "{} blocks ran outside any module's code (anonymous memory: JIT or generated code, no file to \
                 take functions from); cov.txt lists them as address ranges",
                anonymous.len()
            ));
        }
        listed.extend(ranges.into_iter().map(|r| (r.name, anonymous::MODULE, r.insns)));

        let mut report = String::new();
        let mut listings = Vec::with_capacity(listed.len());
        for (name, module, insns) in &listed {
            writeln!(report, "// symbol {name} ({module})").unwrap();
            let mut shown = Vec::with_capacity(insns.len());
            for insn in insns {
                let n = hits.get(&insn.address).copied().unwrap_or(0);
                writeln!(report, "  {:#x}  {n:>10}  {}", insn.address, insn.text).unwrap();
                shown.push(html::Insn { address: insn.address, hits: n, text: insn.text.clone() });
            }
            report.push('\n');
            listings.push(html::Function { name, module, insns: shown });
        }
        write_report("cov.txt", report)?;
        write_report("cov.html", html::render("cov: hit counts per instruction", &listings))?;
        write_report("cov.drcov", drcov.encode())
    }
}

/// The disassembly of a function. A linear sweep from the function's start can fall out of
/// step with the real instruction boundaries (data in code, padding that decodes as longer
/// instructions): where it passes over the start of a block that ran, the listing restarts
/// decoding there, so every executed instruction is shown where QEMU decoded it.
fn listing(start: u64, size: u64, executed_starts: &[u64]) -> Result<Vec<Instruction>, String> {
    let code = read_memory(start, size as u32)?;
    let whole = disassemble(start, &code);
    let decoded: BTreeSet<u64> = whole.iter().map(|i| i.address).collect();
    if executed_starts.iter().all(|a| decoded.contains(a)) {
        return Ok(whole);
    }
    let mut cuts: Vec<u64> = vec![start];
    cuts.extend(executed_starts.iter().copied().filter(|&a| a > start));
    cuts.push(start + size);
    let mut out = Vec::new();
    for piece in cuts.windows(2) {
        let (from, to) = ((piece[0] - start) as usize, (piece[1] - start) as usize);
        out.extend(disassemble(piece[0], &code[from..to]));
    }
    Ok(out)
}

/// The drcov format (version 2): a text header, the module table, then the executed blocks as
/// raw records of {u32 offset from module base, u16 size, u16 module id}.
#[derive(Default)]
pub(crate) struct Drcov {
    /// path -> (id, base, end)
    pub(crate) modules: BTreeMap<String, (u16, u64, u64)>,
    pub(crate) blocks: Vec<(u32, u16, u16)>,
}

impl Drcov {
    fn add(&mut self, module: &str, base: u64, offset: u64, size: u64) {
        let next_id = self.modules.len() as u16;
        let entry = self.modules.entry(module.to_owned()).or_insert((next_id, base, base));
        entry.2 = entry.2.max(base + offset + size);
        self.blocks.push((offset as u32, size.min(u64::from(u16::MAX)) as u16, entry.0));
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut by_id: Vec<_> = self.modules.iter().collect();
        by_id.sort_by_key(|(_, (id, _, _))| *id);
        let mut text = String::from("DRCOV VERSION: 2\nDRCOV FLAVOR: cannonball\n");
        writeln!(text, "Module Table: version 2, count {}", by_id.len()).unwrap();
        text.push_str("Columns: id, base, end, entry, checksum, timestamp, path\n");
        for (path, (id, base, end)) in by_id {
            // Ends are rounded up to a page: the module's extent as far as it ran.
            let end = (end + 0xfff) & !0xfff;
            writeln!(text, "{id}, {base:#x}, {end:#x}, 0x0, 0x0, 0x0, {path}").unwrap();
        }
        writeln!(text, "BB Table: {} bbs", self.blocks.len()).unwrap();
        let mut out = text.into_bytes();
        for &(start, size, id) in &self.blocks {
            out.extend_from_slice(&start.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&id.to_le_bytes());
        }
        out
    }
}

export_script!(Cov, merge);
