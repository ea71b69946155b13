//! The merge step: the reports of several runs (a corpus's inputs, shards) as one.
//!
//! - cov.txt: per function (by name and module), each instruction's hits summed over the
//!   runs. Instructions are matched by their offset in the function, so a library mapped at
//!   another address in another run still adds up; the addresses shown are the first run's.
//! - cov.html: rendered again from the merged listing.
//! - cov.drcov: the union of the runs' blocks, per module (offsets are module-relative); the
//!   module table lists every module any run had.
//! - cov.info: per source file, line and function counts summed (what `lcov -a` does).
//!
//! A run without cov's reports (stopped before its exit) adds nothing; a report that does
//! not parse fails the merge, naming the run.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use cannonball_sdk::{Merge, Report, ReportSet};

use crate::{Cov, Drcov, html, lcov};

impl Merge for Cov {
    fn merge(inputs: Vec<ReportSet>) -> Result<Vec<Report>, String> {
        let mut listing = Listing::default();
        let mut drcov = DrcovUnion::default();
        let mut info: BTreeMap<String, lcov::SourceFile> = BTreeMap::new();
        for set in &inputs {
            let context = |report: &str, e: String| format!("{report} of run {}: {e}", set.run);
            if let Some(text) = set.get("cov.txt") {
                listing.add(&String::from_utf8_lossy(text)).map_err(|e| context("cov.txt", e))?;
            }
            if let Some(bytes) = set.get("cov.drcov") {
                drcov.add(bytes).map_err(|e| context("cov.drcov", e))?;
            }
            if let Some(text) = set.get("cov.info") {
                add_tracefile(&mut info, &String::from_utf8_lossy(text)).map_err(|e| context("cov.info", e))?;
            }
        }
        let mut tracefile = String::new();
        for (path, file) in &info {
            lcov::write_file(&mut tracefile, path, file);
        }
        let mut reports = vec![
            Report::new("cov.txt", listing.render()),
            Report::new("cov.html", listing.html()),
            Report::new("cov.drcov", drcov.drcov().encode()),
        ];
        // As in a single run: no cov.info when no run had source lines.
        if !tracefile.is_empty() {
            reports.push(Report::new("cov.info", tracefile));
        }
        Ok(reports)
    }
}

/// One function's merged listing: offset in the function -> (address, hits, text).
struct Function {
    name: String,
    module: String,
    start: u64,
    insns: BTreeMap<u64, (u64, u64, String)>,
}

/// cov.txt of every run, by (module, name).
#[derive(Default)]
struct Listing {
    functions: BTreeMap<(String, String), Function>,
}

impl Listing {
    fn add(&mut self, text: &str) -> Result<(), String> {
        // The function being read, and this run's address of its first instruction: later
        // runs match instructions by their offset from it.
        let mut current: Option<(&mut Function, Option<u64>)> = None;
        for (n, line) in text.lines().enumerate() {
            let bad = || format!("line {}: cannot read {line:?}", n + 1);
            if line.is_empty() {
                continue;
            }
            if let Some(header) = line.strip_prefix("// symbol ") {
                let (name, module) = header.strip_suffix(')').and_then(|h| h.rsplit_once(" (")).ok_or_else(bad)?;
                let f = self.functions.entry((module.to_owned(), name.to_owned())).or_insert(Function {
                    name: name.to_owned(),
                    module: module.to_owned(),
                    start: u64::MAX,
                    insns: BTreeMap::new(),
                });
                current = Some((f, None));
                continue;
            }
            let (f, run_start) = current.as_mut().ok_or_else(bad)?;
            // "  0xADDR  COUNT  TEXT" (the count right-aligned).
            let (address, rest) = line.trim_start().split_once(' ').ok_or_else(bad)?;
            let rest = rest.trim_start();
            let (count, text) = rest.split_once("  ").unwrap_or((rest, ""));
            let address = address.strip_prefix("0x").and_then(|a| u64::from_str_radix(a, 16).ok()).ok_or_else(bad)?;
            let count: u64 = count.parse().map_err(|_| bad())?;
            let base = *run_start.get_or_insert(address);
            if f.start == u64::MAX {
                f.start = address;
            }
            let entry = f
                .insns
                .entry(address.wrapping_sub(base))
                .or_insert_with(|| (f.start.wrapping_add(address.wrapping_sub(base)), 0, text.to_owned()));
            entry.1 += count;
        }
        Ok(())
    }

    fn sorted(&self) -> Vec<&Function> {
        let mut all: Vec<&Function> = self.functions.values().collect();
        all.sort_by(|a, b| (&a.module, a.start, &a.name).cmp(&(&b.module, b.start, &b.name)));
        all
    }

    fn render(&self) -> String {
        let mut report = String::new();
        for f in self.sorted() {
            writeln!(report, "// symbol {} ({})", f.name, f.module).unwrap();
            for (address, n, text) in f.insns.values() {
                writeln!(report, "  {address:#x}  {n:>10}  {text}").unwrap();
            }
            report.push('\n');
        }
        report
    }

    fn html(&self) -> String {
        let listings: Vec<html::Function> = self
            .sorted()
            .into_iter()
            .map(|f| html::Function {
                name: &f.name,
                module: &f.module,
                insns: f
                    .insns
                    .values()
                    .map(|(address, hits, text)| html::Insn { address: *address, hits: *hits, text: text.clone() })
                    .collect(),
            })
            .collect();
        html::render("cov: hit counts per instruction (merged)", &listings)
    }
}

/// The union of drcov files: per module path, its first base, widest extent and blocks.
#[derive(Default)]
struct DrcovUnion {
    /// path -> (base, extent)
    modules: BTreeMap<String, (u64, u64)>,
    /// Module paths in the order first seen (the ids of the merged table).
    order: Vec<String>,
    blocks: BTreeSet<(usize, u32, u16)>,
}

impl DrcovUnion {
    fn add(&mut self, bytes: &[u8]) -> Result<(), String> {
        const TABLE: &[u8] = b"BB Table: ";
        let at = bytes.windows(TABLE.len()).position(|w| w == TABLE).ok_or("no BB Table")?;
        let eol = at + bytes[at..].iter().position(|&b| b == b'\n').ok_or("truncated BB Table line")?;
        let header = std::str::from_utf8(&bytes[..at]).map_err(|_| "header is not text")?;
        let count: usize = std::str::from_utf8(&bytes[at + TABLE.len()..eol])
            .ok()
            .and_then(|s| s.trim().strip_suffix("bbs"))
            .and_then(|s| s.trim().parse().ok())
            .ok_or("bad BB Table line")?;
        // This file's module ids -> indexes in `order`.
        let mut ids: BTreeMap<u16, usize> = BTreeMap::new();
        let mut in_table = false;
        for line in header.lines() {
            if line.starts_with("Columns:") {
                in_table = true;
                continue;
            }
            if !in_table {
                continue;
            }
            let f: Vec<&str> = line.splitn(7, ", ").collect();
            let [id, base, end, _, _, _, path] = f[..] else { return Err(format!("bad module line {line:?}")) };
            let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
            let (Ok(id), Some(base), Some(end)) = (id.parse::<u16>(), hex(base), hex(end)) else {
                return Err(format!("bad module line {line:?}"));
            };
            let index = match self.order.iter().position(|p| p == path) {
                Some(i) => i,
                None => {
                    self.order.push(path.to_owned());
                    self.order.len() - 1
                }
            };
            let entry = self.modules.entry(path.to_owned()).or_insert((base, 0));
            entry.1 = entry.1.max(end.saturating_sub(base));
            ids.insert(id, index);
        }
        let records = &bytes[eol + 1..];
        if records.len() != count * 8 {
            return Err(format!("BB Table says {count} blocks but has {} bytes", records.len()));
        }
        for r in records.chunks_exact(8) {
            let start = u32::from_le_bytes(r[0..4].try_into().unwrap());
            let size = u16::from_le_bytes(r[4..6].try_into().unwrap());
            let id = u16::from_le_bytes(r[6..8].try_into().unwrap());
            let module = *ids.get(&id).ok_or_else(|| format!("block of unknown module {id}"))?;
            self.blocks.insert((module, start, size));
        }
        Ok(())
    }

    fn drcov(&self) -> Drcov {
        let modules = self
            .order
            .iter()
            .enumerate()
            .map(|(id, path)| {
                let (base, extent) = self.modules[path];
                (path.clone(), (id as u16, base, base + extent))
            })
            .collect();
        let blocks = self.blocks.iter().map(|&(m, start, size)| (start, size, m as u16)).collect();
        Drcov { modules, blocks }
    }
}

/// Adds one tracefile's counts (lines and functions; its record order does not matter).
fn add_tracefile(files: &mut BTreeMap<String, lcov::SourceFile>, text: &str) -> Result<(), String> {
    let mut path: Option<String> = None;
    let mut lines_of: BTreeMap<String, u32> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let bad = || format!("line {}: cannot read {line:?}", n + 1);
        let (key, value) = line.split_once(':').unwrap_or((line, ""));
        match key {
            "SF" => {
                path = Some(value.to_owned());
                lines_of.clear();
                files.entry(value.to_owned()).or_default();
            }
            "FN" | "FNDA" | "DA" => {
                let file = files.get_mut(path.as_deref().ok_or_else(bad)?).expect("SF seen");
                let (a, b) = value.split_once(',').ok_or_else(bad)?;
                match key {
                    "FN" => {
                        let line: u32 = a.parse().map_err(|_| bad())?;
                        lines_of.insert(b.to_owned(), line);
                        file.functions.entry((line, b.to_owned())).or_default();
                    }
                    "FNDA" => {
                        let calls: u64 = a.parse().map_err(|_| bad())?;
                        let line = *lines_of.get(b).ok_or_else(bad)?;
                        *file.functions.entry((line, b.to_owned())).or_default() += calls;
                    }
                    _ => {
                        let line: u32 = a.parse().map_err(|_| bad())?;
                        // DA may carry a checksum after the count.
                        let count: u64 = b.split(',').next().unwrap_or("").parse().map_err(|_| bad())?;
                        *file.lines.entry(line).or_default() += count;
                    }
                }
            }
            "end_of_record" => path = None,
            // TN, FNF, FNH, LF, LH: recomputed when written.
            _ => {}
        }
    }
    Ok(())
}
