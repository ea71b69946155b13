//! census: counts every event it subscribes to and writes `census.txt`.
//!
//! Arguments:
//! - `kinds=K1+K2+...`: event kinds to subscribe to, from blocks, trace, memory, syscalls,
//!   threads, disassembly, block-counts, memory-counts, syscall-data, discontinuities,
//!   memory-physical (default: all but disassembly and memory-physical)
//! - `filter=main` | `filter=module:NAME` | `filter=START-END` (hex addresses): which code
//! - `spin=N`: burn N loop iterations per block execution, to make the script slower than the
//!   guest (the tests use it to check that backpressure loses nothing)
//! - `range=START-END`: also count the traced instructions and memory accesses whose
//!   instruction lies in this range (the tests compare filtered and unfiltered runs with it)
//!
//! With `trace`, it folds every executed instruction's address, in order, into its vCPU's
//! checksum (a block execution at a time, `checksum.rs`); with `memory`, it counts accesses
//! by direction and size; with `discontinuities`, interrupts, exceptions and host calls per
//! vCPU (and lists the first ones); with `block-counts`, instructions per privilege level;
//! with `memory-physical`, accesses per device.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

mod checksum;
use checksum::TraceChecksum;

use cannonball_sdk::{
    AddressFilter, AddressRange, Args, ArgumentSpec, Block, BlockTable, DiscontinuityKind, EventBatch, EventKinds,
    RunInfo, RunSummary, Script, Subscription, ThreadEvent, device_name, emit, export_script, memory, write_report,
};

struct Census {
    kinds: EventKinds,
    filter: Option<AddressFilter>,
    range: Option<(u64, u64)>,
    spin: u64,
    emit: bool,
    counts: Counts,
}

#[derive(Default)]
struct Counts {
    table: BlockTable,
    blocks_translated: u64,
    block_execs: u64,
    /// Every vCPU's trace hash (see `checksum`).
    trace: TraceChecksum,
    mem_reads: u64,
    mem_writes: u64,
    /// Accesses by size: index = log2 of the size in bytes (1 to 128).
    mem_by_size: [u64; 8],
    /// number -> (calls, errors, never returned)
    syscalls: BTreeMap<i64, (u64, u64, u64)>,
    threads_started: u64,
    threads_exited: u64,
    range_insns: u64,
    range_mem: u64,
    /// Memory accesses whose execution index does not point at an executed block containing
    /// their pc (checked when the trace is on): must stay 0.
    order_errors: u64,
    /// Per vCPU: (index, block id) of the last execution of the previous batch.
    last_exec: std::collections::HashMap<u32, (u64, u32)>,
    /// Per vCPU: interrupts, exceptions, host calls.
    discontinuities: BTreeMap<u32, [u64; 3]>,
    /// The first discontinuities: (vcpu, kind, from, to).
    disc_list: Vec<(u32, DiscontinuityKind, u64, u64)>,
    /// Exceptions and host calls whose `from` is not an instruction of the block execution
    /// their index names (checked with the trace): must stay 0.
    disc_order_errors: u64,
    /// Block id -> privilege level (None: not said).
    privilege: HashMap<u32, Option<u8>>,
    /// Memory accesses per device number (0: RAM and ROM).
    by_device: BTreeMap<u16, u64>,
}

/// How many discontinuities census.txt lists one by one.
const DISC_LISTED: usize = 200;

fn parse_kinds(text: &str) -> Result<EventKinds, String> {
    let mut kinds = EventKinds::empty();
    for name in text.split('+').filter(|s| !s.is_empty()) {
        kinds |= match name {
            "blocks" => EventKinds::BLOCKS,
            "trace" => EventKinds::TRACE,
            "memory" => EventKinds::MEMORY,
            "syscalls" => EventKinds::SYSCALLS,
            "threads" => EventKinds::THREADS,
            "disassembly" => EventKinds::DISASSEMBLY,
            "block-counts" => EventKinds::BLOCK_COUNTS,
            "memory-counts" => EventKinds::MEMORY_COUNTS,
            "syscall-data" => EventKinds::SYSCALL_DATA,
            "discontinuities" => EventKinds::DISCONTINUITIES,
            "memory-physical" => EventKinds::MEMORY_PHYSICAL,
            "none" => EventKinds::empty(),
            other => return Err(format!("unknown event kind '{other}' in kinds=")),
        };
    }
    Ok(kinds)
}

fn parse_range(text: &str) -> Result<(u64, u64), String> {
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| format!("range {text}: {e}"));
    let (start, end) = text.split_once('-').ok_or_else(|| format!("range {text}: expected START-END"))?;
    Ok((hex(start)?, hex(end)?))
}

fn parse_filter(text: &str) -> Result<AddressFilter, String> {
    if text == "main" {
        return Ok(AddressFilter::MainBinary);
    }
    if let Some(name) = text.strip_prefix("module:") {
        return Ok(AddressFilter::Module(name.to_owned()));
    }
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| format!("filter={text}: {e}"));
    let (start, end) =
        text.split_once('-').ok_or_else(|| format!("filter={text}: expected main, module:NAME or START-END"))?;
    Ok(AddressFilter::Ranges(vec![AddressRange { start: hex(start)?, end: hex(end)? }]))
}

impl Census {
    /// Each access's execution index must name a block execution whose block contains the
    /// accessing instruction: in this batch, or the previous batch's last one.
    fn check_order(&mut self, batch: &EventBatch) {
        let c = &mut self.counts;
        let prev = c.last_exec.get(&batch.vcpu).copied();
        for (&exec, &pc) in batch.mem_exec.iter().zip(&batch.mem_pc) {
            let id = if exec >= batch.first_exec {
                batch.execs.get((exec - batch.first_exec) as usize).copied()
            } else {
                prev.filter(|&(i, _)| i == exec).map(|(_, id)| id)
            };
            let ok = id.and_then(|id| c.table.get(id)).is_some_and(|b| b.insn_addrs.contains(&pc));
            c.order_errors += u64::from(!ok);
        }
        for i in 0..batch.disc_exec.len() {
            if batch.disc_kind[i] == DiscontinuityKind::Interrupt {
                continue; // an interrupt leaves between instructions: `from` runs later
            }
            let exec = batch.disc_exec[i];
            let id = if exec >= batch.first_exec {
                batch.execs.get((exec - batch.first_exec) as usize).copied()
            } else {
                prev.filter(|&(i, _)| i == exec).map(|(_, id)| id)
            };
            let ok = id.and_then(|id| c.table.get(id)).is_some_and(|b| b.insn_addrs.contains(&batch.disc_from[i]));
            c.disc_order_errors += u64::from(!ok);
        }
        if let Some(&last) = batch.execs.last() {
            c.last_exec.insert(batch.vcpu, (batch.first_exec + batch.execs.len() as u64 - 1, last));
        }
    }
}

impl Script for Census {
    fn arguments() -> Vec<ArgumentSpec> {
        vec![
            ArgumentSpec::text(
                "kinds",
                "event kinds joined by '+': blocks, trace, memory, syscalls, threads, disassembly, block-counts, memory-counts, syscall-data, discontinuities, memory-physical, none (default: all but disassembly and memory-physical)",
            ),
            ArgumentSpec::text("filter", "main | module:NAME | START-END (hex): which code to instrument"),
            ArgumentSpec::text(
                "range",
                "START-END (hex): also count traced instructions and memory accesses in this range",
            ),
            ArgumentSpec::integer("spin", "loop iterations to burn per block execution (makes the script slow)")
                .default("0"),
            ArgumentSpec::boolean(
                "emit",
                "forward records: tag 1 per batch (vcpu, executions: two u32), tag 2 at finish (instructions: u64)",
            )
            .default("false"),
            ArgumentSpec::boolean("values", "memory events carry the accessed values (census does not read them)")
                .default("true"),
        ]
    }

    fn init(_info: &RunInfo, mut args: Args) -> Result<Self, String> {
        let all = EventKinds::all() - EventKinds::DISASSEMBLY - EventKinds::MEMORY_PHYSICAL;
        let kinds = match args.take("kinds") {
            Some(k) => parse_kinds(&k)?,
            None => all,
        };
        let filter = args.take("filter").map(|f| parse_filter(&f)).transpose()?;
        let range = args.take("range").map(|r| parse_range(&r)).transpose()?;
        let spin = args.parse_or("spin", 0u64)?;
        let emit = args.flag("emit");
        cannonball_sdk::memory_values(args.flag("values"));
        args.finish()?;
        Ok(Census { kinds, filter, range, spin, emit, counts: Counts::default() })
    }

    fn subscription(&self) -> Subscription {
        Subscription { kinds: self.kinds, filter: self.filter.clone() }
    }

    fn on_blocks(&mut self, blocks: &[Block]) {
        self.counts.blocks_translated += blocks.len() as u64;
        self.counts.table.add(blocks);
        self.counts.trace.add_blocks(blocks);
        self.counts.privilege.extend(blocks.iter().map(|b| (b.id, b.privilege)));
    }

    fn on_events(&mut self, batch: &EventBatch) {
        if self.spin > 0 {
            let mut x = self.counts.block_execs | 1;
            for _ in 0..self.spin * batch.execs.len() as u64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
            }
            std::hint::black_box(x);
        }
        self.counts.block_execs += batch.execs.len() as u64;
        if self.emit {
            let mut record = batch.vcpu.to_le_bytes().to_vec();
            record.extend_from_slice(&(batch.execs.len() as u32).to_le_bytes());
            emit(1, record);
        }
        // Every executed instruction's address, in order, into its vCPU's hash: one
        // multiply-add per block execution (see `checksum`).
        if self.kinds.contains(EventKinds::TRACE) {
            self.counts.trace.fold_batch(&self.counts.table, batch);
        }
        if let Some((start, end)) = self.range {
            let mut in_range = 0;
            self.counts.table.for_each_execution(batch, |pcs| {
                in_range += pcs.iter().filter(|&&pc| pc >= start && pc < end).count() as u64;
            });
            self.counts.range_insns += in_range;
        }
        if let Some((start, end)) = self.range {
            self.counts.range_mem += batch.mem_pc.iter().filter(|&&pc| pc >= start && pc < end).count() as u64;
        }

        if self.kinds.contains(EventKinds::TRACE)
            && self.kinds.intersects(EventKinds::MEMORY | EventKinds::DISCONTINUITIES)
        {
            self.check_order(batch);
        }
        let counts = self.counts.discontinuities.entry(batch.vcpu).or_default();
        for (i, &kind) in batch.disc_kind.iter().enumerate() {
            counts[kind as usize] += 1;
            if self.counts.disc_list.len() < DISC_LISTED {
                self.counts.disc_list.push((batch.vcpu, kind, batch.disc_from[i], batch.disc_to[i]));
            }
        }
        for &device in &batch.mem_device {
            *self.counts.by_device.entry(device).or_default() += 1;
        }
        // A table indexed by the size's log2, not a map: this loop runs once per access.
        for &info in &batch.mem_info {
            self.counts.mem_writes += u64::from(memory::is_store(info));
            self.counts.mem_by_size[(info & 0x7) as usize] += 1;
        }
        self.counts.mem_reads = self.counts.mem_by_size.iter().sum::<u64>() - self.counts.mem_writes;
        for i in 0..batch.sys_number.len() {
            let entry = self.counts.syscalls.entry(batch.sys_number[i]).or_default();
            entry.0 += 1;
            if !batch.sys_returned[i] {
                entry.2 += 1;
            } else if batch.sys_ret[i] < 0 {
                entry.1 += 1;
            }
        }
    }

    fn on_thread(&mut self, _vcpu: u32, event: ThreadEvent) {
        match event {
            ThreadEvent::Start => self.counts.threads_started += 1,
            ThreadEvent::Exit => self.counts.threads_exited += 1,
        }
    }

    fn finish(&mut self, summary: &RunSummary) -> Result<(), String> {
        let mut r = String::new();
        let total: u64 = summary.instructions.iter().map(|v| v.instructions).sum();
        writeln!(r, "instructions {total}").unwrap();
        for v in &summary.instructions {
            writeln!(r, "instructions-vcpu-{} {}", v.vcpu, v.instructions).unwrap();
        }
        writeln!(r, "blocks-translated {}", self.counts.blocks_translated).unwrap();
        writeln!(r, "block-execs {}", self.counts.block_execs).unwrap();
        writeln!(r, "trace-instructions {}", self.counts.trace.instructions()).unwrap();
        writeln!(r, "trace-checksum {:016x}", self.counts.trace.combined()).unwrap();
        for (vcpu, hash) in self.counts.trace.per_vcpu() {
            writeln!(r, "trace-checksum-vcpu-{vcpu} {hash:016x}").unwrap();
        }
        for (vcpu, n) in self.counts.trace.instructions_per_vcpu() {
            writeln!(r, "trace-instructions-vcpu-{vcpu} {n}").unwrap();
        }
        writeln!(r, "block-counts-total {}", summary.block_execs.iter().sum::<u64>()).unwrap();
        writeln!(r, "mem-reads {}", self.counts.mem_reads).unwrap();
        writeln!(r, "mem-writes {}", self.counts.mem_writes).unwrap();
        for (shift, &n) in self.counts.mem_by_size.iter().enumerate().filter(|(_, n)| **n > 0) {
            writeln!(r, "mem-size-{} {n}", 1u32 << shift).unwrap();
        }
        writeln!(r, "inline-reads {}", summary.memory.iter().map(|m| m.reads).sum::<u64>()).unwrap();
        writeln!(r, "inline-writes {}", summary.memory.iter().map(|m| m.writes).sum::<u64>()).unwrap();
        writeln!(r, "syscalls {}", self.counts.syscalls.values().map(|s| s.0).sum::<u64>()).unwrap();
        for (num, (calls, errors, unreturned)) in &self.counts.syscalls {
            writeln!(r, "syscall {num} {calls} {errors} {unreturned}").unwrap();
        }
        if self.range.is_some() {
            writeln!(r, "range-instructions {}", self.counts.range_insns).unwrap();
            writeln!(r, "range-mem {}", self.counts.range_mem).unwrap();
        }
        writeln!(r, "order-errors {}", self.counts.order_errors).unwrap();
        if self.kinds.contains(EventKinds::DISCONTINUITIES) {
            for (vcpu, [interrupts, exceptions, hostcalls]) in &self.counts.discontinuities {
                writeln!(r, "discontinuities-vcpu-{vcpu} {interrupts} {exceptions} {hostcalls}").unwrap();
            }
            for (vcpu, kind, from, to) in &self.counts.disc_list {
                let kind = match kind {
                    DiscontinuityKind::Interrupt => "interrupt",
                    DiscontinuityKind::Exception => "exception",
                    DiscontinuityKind::HostCall => "host-call",
                };
                writeln!(r, "disc {vcpu} {kind} {from:#x} {to:#x}").unwrap();
            }
            writeln!(r, "disc-order-errors {}", self.counts.disc_order_errors).unwrap();
        }
        if self.kinds.contains(EventKinds::BLOCK_COUNTS) {
            let mut by_level: BTreeMap<Option<u8>, u64> = BTreeMap::new();
            for (&id, &n) in summary.block_ids.iter().zip(&summary.block_execs) {
                let insns = self.counts.table.get(id).map_or(0, |b| b.insn_addrs.len() as u64);
                let level = self.counts.privilege.get(&id).copied().flatten();
                *by_level.entry(level).or_default() += n * insns;
            }
            for (level, n) in by_level {
                let name = level.map_or("unknown".to_owned(), |l| l.to_string());
                writeln!(r, "privilege-{name} {n}").unwrap();
            }
        }
        for (&device, &n) in &self.counts.by_device {
            let name = if device == 0 { "RAM".to_owned() } else { device_name(device).unwrap_or_default() };
            writeln!(r, "mem-device {name} {n}").unwrap();
        }
        writeln!(r, "threads-started {}", self.counts.threads_started).unwrap();
        writeln!(r, "threads-exited {}", self.counts.threads_exited).unwrap();
        if self.emit {
            emit(2, total.to_le_bytes());
        }
        write_report("census.txt", r)
    }
}

export_script!(Census);
