//! profile: guest instructions per call stack, per thread, rebuilt from the exact trace — a
//! profile without sampling.
//!
//! Calls and returns are recognised from each block's last instruction (calls.rs, every guest
//! arch), the stacks are rebuilt and resynchronised after tail calls, longjmp and signal
//! handlers (stacks.rs). Functions are named by their ELF symbols, in libraries too (`name
//! [libc.so.6]`). Writes:
//! - `profile.folded`: folded stacks, `[thread N];main;a;c 1234` (instructions executed in
//!   `c` with that stack: its exclusive count there), as inferno and flamegraph.pl read them;
//! - `profile.svg`: the flame graph, rendered here by the inferno crate (width: inclusive
//!   instructions);
//! - `profile.txt`: per function, inclusive and exclusive instructions, largest first.
//!
//! Arguments: `main=true` traces only the main binary (library code is then not counted, and
//! a call into a library returns at once); `privilege=user` or `privilege=kernel` counts only
//! code that ran at user level, or above it (under a system emulator: a process's code apart
//! from its kernel's); `title=TEXT` titles the flame graph.

mod calls;
mod stacks;

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use cannonball_sdk::{
    AddressFilter, Args, ArgumentSpec, Block, EventBatch, EventKinds, RunInfo, RunSummary, Script, Subscription,
    ThreadEvent, export_script, is_user, symbolize, write_report,
};

use stacks::{BlockShape, FuncId, Stack, Tree};

struct Profile {
    arch: String,
    main_only: bool,
    title: String,
    tree: Tree,
    /// By block id.
    shapes: Vec<Option<BlockShape>>,
    /// `privilege=`: Some(true) user-level code only, Some(false) the rest only.
    user_level: Option<bool>,
    /// By block id: the block runs at the level `privilege=` asks for.
    wanted: Vec<bool>,
    /// Function ids by (module, symbol start); by module alone for code without a symbol.
    funcs: HashMap<(String, Option<u64>), FuncId>,
    threads: HashMap<u32, FuncId>,
    stacks: HashMap<u32, Stack>,
}

/// A frame's name: the symbol, with the library's file name for code outside the main
/// binary; `;` separates frames in the folded format, so it cannot appear in a name.
fn frame_name(module: &str, symbol: Option<&str>) -> String {
    let file = module.rsplit('/').next().unwrap_or(module);
    let name = match symbol {
        Some(s) if file.contains(".so") => format!("{s} [{file}]"),
        Some(s) => s.to_owned(),
        None => format!("[{file}]"),
    };
    name.replace([';', '\n', '\r'], ":")
}

impl Profile {
    /// The function containing `addr`, and its extent when it has a symbol.
    fn function_at(&mut self, addr: u64) -> (FuncId, Option<(u64, u64)>) {
        let loc = symbolize(addr);
        let (module, sym) = match &loc {
            Some(l) => (l.module.as_str(), l.symbol.as_ref()),
            None => ("unknown", None),
        };
        let key = (module.to_owned(), sym.map(|s| s.start));
        let id = match self.funcs.get(&key) {
            Some(&id) => id,
            None => {
                let id = self.tree.add_name(frame_name(module, sym.map(|s| s.name.as_str())));
                self.funcs.insert(key, id);
                id
            }
        };
        (id, sym.map(|s| (s.start, s.start + s.size.max(1))))
    }

    fn shape(&mut self, block: &Block) -> BlockShape {
        let (func, extent) = self.function_at(block.vaddr);
        // ppc64 ELFv2 functions have a global entry and, 8 bytes in, a local one that direct
        // calls use.
        let entry_slack = if self.arch.starts_with("ppc64") { 8 } else { 0 };
        let entry = extent.is_some_and(|(start, _)| block.vaddr >= start && block.vaddr - start <= entry_slack);
        let mut runs: Vec<(FuncId, u32)> = Vec::new();
        let (mut addr, mut current) = (block.vaddr, (func, extent));
        for &size in &block.insn_sizes {
            let inside = current.1.is_some_and(|(s, e)| addr >= s && addr < e);
            if !inside && addr != block.vaddr {
                current = self.function_at(addr);
            }
            match runs.last_mut() {
                Some((f, n)) if *f == current.0 => *n += 1,
                _ => runs.push((current.0, 1)),
            }
            addr += u64::from(size);
        }
        if runs.is_empty() {
            runs.push((func, 0));
        }
        let last = calls::block_end(&self.arch, &block.disassembly);
        BlockShape { start: block.vaddr, end: addr, last, entry, named: extent.is_some(), runs }
    }

    /// Per function: (inclusive, exclusive) instructions. A function that recurses counts once
    /// per stack in its inclusive total.
    fn totals(&self) -> HashMap<FuncId, (u64, u64)> {
        let mut totals: HashMap<FuncId, (u64, u64)> = HashMap::new();
        for (node, &count) in self.tree.counts.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let path = self.tree.path(node as u32);
            totals.entry(*path.last().unwrap()).or_default().1 += count;
            let mut seen = HashSet::new();
            for f in path {
                if seen.insert(f) {
                    totals.entry(f).or_default().0 += count;
                }
            }
        }
        totals
    }

    fn folded(&self) -> String {
        let mut lines: Vec<String> = Vec::new();
        for (node, &count) in self.tree.counts.iter().enumerate() {
            if count > 0 {
                let names: Vec<&str> =
                    self.tree.path(node as u32).iter().map(|&f| self.tree.names[f as usize].as_str()).collect();
                lines.push(format!("{} {count}", names.join(";")));
            }
        }
        lines.sort_unstable();
        let mut out = lines.join("\n");
        out.push('\n');
        out
    }
}

impl Script for Profile {
    fn arguments() -> Vec<ArgumentSpec> {
        vec![
            ArgumentSpec::boolean("main", "trace only the main binary's code (libraries are not counted)"),
            ArgumentSpec::text("title", "the flame graph's title").default("Instructions per call stack"),
            ArgumentSpec::text(
                "privilege",
                "user: only code that ran at user level; kernel: only code that ran above it (default: both)",
            ),
        ]
    }

    fn init(info: &RunInfo, mut args: Args) -> Result<Self, String> {
        let main_only = args.flag("main");
        let title = args.take("title").unwrap_or_else(|| "Instructions per call stack".into());
        let user_level = match args.take("privilege").as_deref() {
            None => None,
            Some("user") => Some(true),
            Some("kernel") => Some(false),
            Some(other) => return Err(format!("privilege={other}: expected user or kernel")),
        };
        args.finish()?;
        Ok(Profile {
            arch: info.arch.clone(),
            main_only,
            title,
            tree: Tree::new(),
            shapes: Vec::new(),
            user_level,
            wanted: Vec::new(),
            funcs: HashMap::new(),
            threads: HashMap::new(),
            stacks: HashMap::new(),
        })
    }

    fn subscription(&self) -> Subscription {
        Subscription {
            kinds: EventKinds::TRACE | EventKinds::DISASSEMBLY | EventKinds::THREADS,
            filter: self.main_only.then_some(AddressFilter::MainBinary),
        }
    }

    fn on_blocks(&mut self, blocks: &[Block]) {
        for block in blocks {
            let shape = self.shape(block);
            let id = block.id as usize;
            if self.shapes.len() <= id {
                self.shapes.resize_with(id + 1, || None);
                self.wanted.resize(id + 1, true);
            }
            self.shapes[id] = Some(shape);
            // A block whose level QEMU does not say counts as user code.
            self.wanted[id] = self
                .user_level
                .is_none_or(|user| block.privilege.is_none_or(|level| is_user(&self.arch, level)) == user);
        }
    }

    fn on_events(&mut self, batch: &EventBatch) {
        let vcpu = batch.vcpu;
        let tree = &mut self.tree;
        let thread = *self.threads.entry(vcpu).or_insert_with(|| tree.add_name(format!("[thread {vcpu}]")));
        let stack = self.stacks.entry(vcpu).or_insert_with(|| Stack::new(tree, thread));
        let last = batch.execs.len().wrapping_sub(1);
        for (i, &id) in batch.execs.iter().enumerate() {
            // Code of the other level is left out: to the stacks, a kernel entry and its
            // return look like a jump (they are resynchronised as after a signal handler).
            if self.user_level.is_some() && !self.wanted.get(id as usize).copied().unwrap_or(true) {
                continue;
            }
            let executed = if i == last { batch.cut_short } else { None };
            stack.execute(tree, &self.shapes, id, executed);
        }
    }

    fn on_thread(&mut self, vcpu: u32, event: ThreadEvent) {
        // QEMU may give the index to a later thread: it starts with an empty stack.
        if event == ThreadEvent::Exit {
            self.stacks.remove(&vcpu);
        }
    }

    fn finish(&mut self, _summary: &RunSummary) -> Result<(), String> {
        let folded = self.folded();
        let mut totals: Vec<(FuncId, (u64, u64))> = self.totals().into_iter().collect();
        totals.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut text = String::from("# instructions per function: inclusive, exclusive, function\n");
        for (f, (inclusive, exclusive)) in totals {
            writeln!(text, "{inclusive} {exclusive} {}", self.tree.names[f as usize]).unwrap();
        }
        write_report("profile.txt", text)?;

        let mut options = inferno::flamegraph::Options::default();
        options.title = self.title.clone();
        options.count_name = "instructions".into();
        // Colors from the function names, so that two runs draw alike.
        options.hash = true;
        options.deterministic = true;
        let mut svg = Vec::new();
        let rendered = inferno::flamegraph::from_lines(&mut options, folded.lines(), &mut svg);
        write_report("profile.folded", folded)?;
        rendered.map_err(|e| format!("inferno could not draw the flame graph: {e}"))?;
        write_report("profile.svg", svg)
    }
}

export_script!(Profile);
