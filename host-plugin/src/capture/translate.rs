//! The translation callback: for each new block, decide whether it is instrumented and attach
//! exactly the inline operations and callbacks the script subscribed to.

use super::appended::Appended;
use super::fault::BlockShapes;
use super::{BlockCounters, BlockRegistry, CodeFilter, InstructionCounter, MemoryCounters, memory, trace};
use crate::events::EventKinds;
use crate::qemu::{Counter, Tb};

/// Everything instrumentation needs, built once at install from the script's subscription.
pub struct Capture {
    pub kinds: EventKinds,
    pub filter: CodeFilter,
    pub icount: InstructionCounter,
    /// Instruction sizes of every translated block, to correct counts after a fatal fault on a
    /// QEMU without the cannonball extensions (with them, QEMU reports each cut itself).
    pub shapes: Option<BlockShapes>,
    pub blocks: Option<BlockRegistry>,
    pub block_counts: Option<BlockCounters>,
    pub memory_counts: Option<MemoryCounters>,
    /// Per-vCPU number of instrumented block executions; memory and system-call events read
    /// it to say which execution they belong to (unless appended block records count them).
    pub exec_counter: Option<Counter>,
    /// Trace and memory events appended in generated code, on a QEMU with the extensions'
    /// version 2; `None`: callbacks.
    pub appended: Option<Appended>,
    /// Memory events carry the accessed value (someone wants it: `host.memory-values`).
    pub memory_values: bool,
    /// Memory events carry the physical address and device (`memory-physical`, system mode):
    /// only a memory callback can ask QEMU's TLB, so memory is then captured by callbacks.
    pub memory_physical: bool,
    guest_base_known: std::sync::atomic::AtomicBool,
    /// 32-bit ARM guest: each block's instruction set is remembered for `disassemble`.
    arm: bool,
    /// execve/execveat numbers of the guest architecture (see `plugin::before_exec`).
    pub execve_numbers: [i64; 2],
    /// System calls that change the guest's mappings (`syscalls::mapping_numbers`).
    pub mapping_numbers: Vec<i64>,
    /// The guest architecture's system call facts (pointer width, byte order), to tell an
    /// execve that cannot succeed (`exec_check`); None for architectures without a table.
    pub syscall_arch: Option<&'static super::syscall_arch::Arch>,
    /// Which system call arguments hold strings and buffers: only when subscribed to
    /// `syscall-data`, so that without it no guest memory is read.
    pub syscall_data: Option<super::SyscallTable>,
    /// Every block reached, when the run writes coverage (`coverage=true`).
    pub reached: Option<super::ReachedBlocks>,
    /// The script's probes (`host.add-probe`), if it asked for any.
    pub probes: Option<super::probes::Probes>,
}

/// The syscall-data table of `arch`, or a warning that it has none.
fn syscall_table(arch: &str) -> Option<super::SyscallTable> {
    let table = super::SyscallTable::for_arch(arch);
    if table.is_none() {
        crate::console::warning(&format!(
            "no system call data for {arch} (the generated tables cover x86_64, i386, aarch64, arm, riscv64, mips, mipsel, ppc64le): syscall-data delivers none"
        ));
    }
    table
}

/// System mode: memory reads after the fact are answered from what translation saw
/// (services::code_seen): the block's bytes, and a copy of each page code came from.
fn remember_code(tb: Tb<'_>) {
    use crate::services::code_seen::{self, PAGE};
    let mut bytes = Vec::new();
    tb.insns().for_each(|insn| insn.append_bytes(&mut bytes));
    let (start, end) = (tb.vaddr(), tb.vaddr() + bytes.len() as u64);
    code_seen::record(start, bytes);
    let mut page = start & !(PAGE - 1);
    while page < end {
        if !code_seen::has_page(page)
            && let Some(copy) = tb.read_memory(page, PAGE as usize)
        {
            code_seen::record_page(page, copy);
        }
        page += PAGE;
    }
}

impl Capture {
    pub fn new(
        kinds: EventKinds,
        filter: CodeFilter,
        arch: &str,
        record_reached: bool,
        memory_values: bool,
        probes: Option<super::probes::Probes>,
    ) -> Self {
        let wants_blocks = kinds.intersects(EventKinds::BLOCKS | EventKinds::TRACE | EventKinds::BLOCK_COUNTS);
        // Execution indices order memory and system-call events against the other ordered
        // kinds; with only one ordered kind, column order says it all and the per-event
        // counter read is saved.
        let ordered = [EventKinds::TRACE, EventKinds::MEMORY, EventKinds::SYSCALLS, EventKinds::DISCONTINUITIES];
        // Probe hits are ordered like memory and system-call events.
        let ordered_kinds = ordered.iter().filter(|k| kinds.contains(**k)).count() + usize::from(probes.is_some());
        let wants_exec_index = (kinds
            .intersects(EventKinds::MEMORY | EventKinds::SYSCALLS | EventKinds::DISCONTINUITIES)
            || probes.is_some())
            && ordered_kinds >= 2;
        let trace = kinds.contains(EventKinds::TRACE);
        let memory_physical = kinds.contains(EventKinds::MEMORY_PHYSICAL) && crate::services::system_mode();
        // Appended memory records carry no physical address.
        let memory = kinds.contains(EventKinds::MEMORY) && !memory_physical;
        let appended = (crate::qemu::extensions::appends_available() && (trace || memory))
            .then(|| Appended::new(trace || wants_exec_index, trace, memory, memory_values));
        let exec_counter = (wants_exec_index && appended.is_none()).then(Counter::new);
        Self {
            execve_numbers: super::syscalls::execve_numbers(arch),
            mapping_numbers: super::syscalls::mapping_numbers(arch),
            syscall_arch: super::syscall_data::arch(arch),
            kinds,
            filter,
            icount: InstructionCounter::new(),
            shapes: (!crate::qemu::extensions::available()).then(BlockShapes::new),
            blocks: wants_blocks.then(|| BlockRegistry::new(kinds.contains(EventKinds::DISASSEMBLY), arch)),
            block_counts: kinds.contains(EventKinds::BLOCK_COUNTS).then(BlockCounters::new),
            memory_counts: kinds.contains(EventKinds::MEMORY_COUNTS).then(MemoryCounters::new),
            exec_counter,
            appended,
            memory_values,
            memory_physical,
            guest_base_known: std::sync::atomic::AtomicBool::new(false),
            arm: arch == "arm",
            syscall_data: kinds.contains(EventKinds::SYSCALL_DATA).then(|| syscall_table(arch)).flatten(),
            reached: record_reached.then(super::ReachedBlocks::default),
            probes,
        }
    }

    /// The index of the block execution a vCPU is in (for memory and system-call events).
    pub fn current_exec(&self, vcpu: u32) -> u64 {
        if let Some(appended) = self.appended.as_ref().filter(|a| a.counts_execs()) {
            return appended.current_exec(vcpu);
        }
        self.exec_counter.map_or(0, |c| c.get(vcpu).saturating_sub(1))
    }

    /// Instruments one translated block.
    pub fn instrument(&self, tb: Tb<'_>) {
        if crate::services::system_mode() {
            remember_code(tb);
        } else if !self.guest_base_known.swap(true, std::sync::atomic::Ordering::Relaxed) {
            let insn = tb.insn(0);
            crate::services::set_guest_base(insn.haddr().wrapping_sub(insn.vaddr()));
        }
        if let Some(shapes) = &self.shapes {
            shapes.record(tb);
        }
        if let Some(reached) = &self.reached {
            reached.record(tb);
        }
        if self.arm {
            record_arm_block(tb);
        }
        if let Some(probes) = &self.probes {
            probes.instrument(tb);
        }
        let allowed = self.filter.allows(tb);
        // Totals count all code, filtered or not. A block with its own execution counter
        // needs no second inline op: its instructions are derived from that counter at
        // exit (`instructions_per_vcpu`).
        if !(allowed && self.block_counts.is_some()) {
            self.icount.instrument_block(tb);
        }
        if !allowed {
            return;
        }
        let id = self.blocks.as_ref().map(|b| b.register(tb));
        if let Some(counter) = self.exec_counter {
            tb.add_inline(counter, 1);
        }
        if let (Some(counts), Some(id)) = (&self.block_counts, id) {
            counts.instrument_block(tb, id);
        }
        let mut memory_by_callback = self.kinds.contains(EventKinds::MEMORY);
        if let Some(appended) = &self.appended {
            appended.instrument(tb, id.unwrap_or(0), memory::instrument_insn);
            memory_by_callback &= self.memory_physical;
        } else if let (true, Some(id)) = (self.kinds.contains(EventKinds::TRACE), id) {
            tb.register_exec_cb::<trace::BlockTrace>(id as usize);
        }
        if memory_by_callback || self.memory_counts.is_some() {
            for insn in tb.insns() {
                if memory_by_callback {
                    memory::instrument_insn(insn);
                }
                if let Some(counts) = &self.memory_counts {
                    counts.instrument_insn(insn);
                }
            }
        }
    }

    /// Executed instructions per vCPU: the inline per-block totals, plus the blocks counted by
    /// their own execution counters, minus what fatal faults cut short.
    pub fn instructions_per_vcpu(&self) -> Vec<(u32, u64)> {
        let mut totals = self.icount.per_vcpu();
        if let (Some(counts), Some(blocks)) = (&self.block_counts, &self.blocks) {
            let sizes = blocks.insn_counts();
            for (vcpu, total) in totals.iter_mut() {
                for (id, &n) in sizes.iter().enumerate() {
                    *total += counts.get(id as u32, *vcpu) * u64::from(n);
                }
            }
        }
        for (vcpu, total) in totals.iter_mut() {
            *total = total.saturating_sub(self.icount.correction(*vcpu));
        }
        totals
    }

    /// Forgets everything counted so far: the child of a fork starts from zero.
    pub fn reset_counts(&self) {
        self.icount.reset();
        if let Some(c) = self.exec_counter {
            c.reset();
        }
        if let Some(a) = &self.appended {
            a.reset();
        }
        if let Some(c) = &self.memory_counts {
            c.reset();
        }
        if let Some(c) = &self.block_counts {
            c.reset();
        }
    }
}

/// Remembers whether QEMU translated an arm block as Thumb or ARM, for disassembling code that
/// has no ELF information (`services::arm_isa`).
fn record_arm_block(tb: Tb<'_>) {
    let mut sizes = Vec::with_capacity(tb.n_insns());
    let mut bytes = Vec::new();
    for insn in tb.insns() {
        sizes.push(insn.size() as u8);
        insn.append_bytes(&mut bytes);
    }
    crate::services::arm_isa::record_block(
        tb.vaddr(),
        &sizes,
        &bytes,
        || tb.insn(0).disas(),
        crate::services::disasm::thumb_mnemonic,
    );
}
