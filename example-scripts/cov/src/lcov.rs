//! `cov.info`: source-line coverage as an lcov tracefile, for genhtml and every tool that
//! reads gcov's coverage through lcov (IDE gutters, codecov, diff-cover).
//!
//! Lines come from the modules' DWARF (`source_lines`, one host call per function); counts
//! from the block counters, which give each instruction's executions exactly.
//!
//! A line's count is the sum, over the line's *runs* (maximal sequences of consecutive
//! instructions of a function that the line table gives to that line), of the executions of
//! the run's first instruction: how many times control entered the line's code. That is
//! what gcov counts (its line count sums the arcs into the line's blocks from other lines,
//! plus the line's own cycles): a `for (i = 0; i < n; i++)` line at -O0 has two runs, the
//! initialisation (once) and the increment with the test (n times after each pass of the
//! body), so n + 1, as gcov says. Summing every instruction's count instead would count a
//! line once per instruction; taking only its first run would say 1 for that loop. One
//! correction: an unconditional jump from one run of a line to the start of another run of
//! the same line is not an entry (GCC's -O0 `while` jumps from the loop's start to its test,
//! both on the `while` line), so its count is taken off. What cannot agree: a loop that
//! never leaves its line (`while (*p) p++;` on one line) counts one entry here, gcov adds its
//! iterations; and a jump into the middle of a run from another line is an entry gcov counts
//! and a run start cannot see.
//!
//! Functions (FN/FNDA): every function of a covered module that has line information, also
//! those that never ran (found by walking the module's symbols from its first executed
//! function), at the line of its first instruction that has one, with that instruction's
//! count as calls. GCC's line table puts a function's first instruction on its opening `{`
//! where gcov names the line of the declarator: on a function whose `{` has a line of its
//! own, FN and the first DA line are one line below gcov's.
//!
//! No branch records (BRDA): block counts give how often each instruction ran, not which way
//! a conditional branch went when its two successors are also entered from elsewhere, and
//! the `branches` example's exact counts need a full trace. gcov's branches are moreover
//! arcs of GCC's flow graph (with exception and fake arcs) that no binary-level view has.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

use cannonball_sdk::{disassemble, read_memory, source_lines, symbolize};

/// Longest run of bytes without a symbol the walk steps through before it stops: the end of
/// the module's code.
const MAX_GAP: u64 = 4096;

/// Whether `module` (a path) is a shared library rather than the main program.
pub fn is_library(module: &str) -> bool {
    let name = module.rsplit('/').next().unwrap_or(module);
    name.ends_with(".so") || name.contains(".so.")
}

/// One function found in a module.
struct Func {
    name: String,
    start: u64,
    size: u64,
}

/// Line data of one source file.
#[derive(Default)]
pub struct SourceFile {
    /// line -> count
    pub lines: BTreeMap<u32, u64>,
    /// (line, name) -> calls
    pub functions: BTreeMap<(u32, String), u64>,
}

/// The tracefile for `modules` (paths), with `executed` the start addresses of executed
/// blocks and `hits` the executions of each instruction address.
pub fn tracefile(modules: &BTreeSet<String>, executed: &[u64], hits: &HashMap<u64, u64>) -> String {
    let mut files: BTreeMap<String, SourceFile> = BTreeMap::new();
    for module in modules {
        let Some(lowest) = executed
            .iter()
            .copied()
            .filter(|&a| symbolize(a).is_some_and(|l| &l.module == module && l.symbol.is_some()))
            .min()
        else {
            continue;
        };
        for f in functions_from(lowest, module) {
            add_function(&f, hits, &mut files);
        }
    }
    let mut out = String::new();
    for (path, file) in &files {
        write_file(&mut out, path, file);
    }
    out
}

/// The symbols of `module` from `from` on, walking symbol by symbol (and byte by byte
/// through padding) until the module ends or `MAX_GAP` bytes pass without a symbol.
fn functions_from(from: u64, module: &str) -> Vec<Func> {
    let mut out = Vec::new();
    let (mut at, mut gap) = (from, 0);
    while gap < MAX_GAP {
        let Some(loc) = symbolize(at) else { break };
        if loc.module != module {
            break;
        }
        match loc.symbol {
            Some(s) if s.start <= at && s.size > 0 => {
                out.push(Func { name: s.name, start: s.start, size: s.size });
                at = s.start + s.size;
                gap = 0;
            }
            _ => {
                at += 1;
                gap += 1;
            }
        }
    }
    out
}

/// Adds the lines and the function record of `f` (nothing for data objects and code without
/// line information).
fn add_function(f: &Func, hits: &HashMap<u64, u64>, files: &mut BTreeMap<String, SourceFile>) {
    let Ok(code) = read_memory(f.start, f.size as u32) else { return };
    let insns = disassemble(f.start, &code);
    if insns.is_empty() {
        return;
    }
    let addrs: Vec<u64> = insns.iter().map(|i| i.address).collect();
    let cols = source_lines(&addrs);
    let at = |i: usize| match cols.file_index[i] {
        u32::MAX => None,
        _ if cols.line[i] == 0 => None,
        fi => Some((fi, cols.line[i])),
    };
    let count = |i: usize| hits.get(&addrs[i]).copied().unwrap_or(0);
    // The function's record goes to the file of its first instruction with a line.
    let Some(first) = (0..addrs.len()).find(|&i| at(i).is_some()) else { return };
    let (fi, line) = at(first).unwrap();
    // ppc64le: a function that uses its TOC starts with the global entry point's two
    // instructions that set r2; calls from the same module enter after them (the local entry
    // point), so the function's entries are counted there.
    let toc_setup = |i: usize| {
        let text = |k: usize| insns.get(k).map_or("", |x| x.text.as_str());
        (text(i).starts_with("lis r2,") || text(i).starts_with("addis r2,")) && text(i + 1).starts_with("addi r2,")
    };
    let entry_insn = if toc_setup(first) { first + 2 } else { first };
    let count = |i: usize| if i == first { hits.get(&addrs[entry_insn]).copied().unwrap_or(0) } else { count(i) };
    let entry = files.entry(cols.files[fi as usize].clone()).or_default();
    *entry.functions.entry((line, f.name.clone())).or_default() += count(first);

    let index: HashMap<u64, usize> = addrs.iter().enumerate().map(|(i, &a)| (a, i)).collect();
    let run_start = |i: usize| at(i).is_some() && (i == 0 || at(i - 1) != at(i));
    let mut previous = None;
    for i in 0..addrs.len() {
        let here = at(i);
        if let Some((fi, line)) = here {
            let lines = &mut files.entry(cols.files[fi as usize].clone()).or_default().lines;
            let n = lines.entry(line).or_default();
            // A run starts where the line differs from the previous instruction's.
            if previous != here {
                *n += count(i);
            }
            // A jump to another run of this line brings no new entry.
            let target = jump_target(&insns[i].text).and_then(|t| index.get(&t).copied());
            if let Some(t) = target
                && run_start(t)
                && at(t) == here
                && !(t <= i && (t..=i).all(|k| at(k) == here))
            {
                *n = n.saturating_sub(count(i));
            }
        }
        previous = here;
    }
}

/// The target of an unconditional direct jump (`jmp 0x401020`, `b #0x10400`, `j 0x...`),
/// from the disassembly.
fn jump_target(text: &str) -> Option<u64> {
    let (mnemonic, operand) = text.split_once(char::is_whitespace)?;
    if !matches!(mnemonic, "jmp" | "b" | "j" | "b.w" | "b.n" | "c.j") {
        return None;
    }
    let operand = operand.trim().trim_start_matches('#');
    u64::from_str_radix(operand.strip_prefix("0x")?, 16).ok()
}

pub fn write_file(out: &mut String, path: &str, file: &SourceFile) {
    writeln!(out, "TN:").unwrap();
    writeln!(out, "SF:{path}").unwrap();
    for (line, name) in file.functions.keys() {
        writeln!(out, "FN:{line},{name}").unwrap();
    }
    for ((_, name), calls) in &file.functions {
        writeln!(out, "FNDA:{calls},{name}").unwrap();
    }
    writeln!(out, "FNF:{}", file.functions.len()).unwrap();
    writeln!(out, "FNH:{}", file.functions.values().filter(|&&c| c > 0).count()).unwrap();
    for (line, count) in &file.lines {
        writeln!(out, "DA:{line},{count}").unwrap();
    }
    writeln!(out, "LF:{}", file.lines.len()).unwrap();
    writeln!(out, "LH:{}", file.lines.values().filter(|&&c| c > 0).count()).unwrap();
    writeln!(out, "end_of_record").unwrap();
}
