//! One vCPU's probe hits being collected, and its calls still open: an entry waits on a
//! stack for the return to its caller, paired by return address and stack pointer, so that
//! recursion pairs innermost first and frames skipped by `longjmp` come out as unreturned.

use crate::events::{ProbeEvent, ProbeBatch};

/// An entry whose probe asked for the return.
struct OpenCall {
    probe: u32,
    call: u64,
    return_address: u64,
    /// The stack pointer at entry: the hit's `stack-pointer`.
    entry_sp: u64,
    /// The stack pointer right after the return (the entry's, plus what `ret` pops).
    sp_after: u64,
}

/// What an entry hit carries, read by the vCPU callback.
pub struct Entry<'a> {
    pub probe: u32,
    pub exec: u64,
    pub return_address: u64,
    pub stack_pointer: u64,
    pub sp_after_return: u64,
    pub wants_return: bool,
    pub values: &'a [u64],
    /// Memory reads: (info, bytes).
    pub reads: &'a [(u8, Vec<u8>)],
}

pub(super) struct ProbeCells {
    pub(super) hits: ProbeBatch,
    open: Vec<OpenCall>,
    next_call: u64,
    /// A return's values, reused.
    scratch: Vec<u64>,
}

/// Flush thresholds for hits and their bytes.
const HITS_CAP: usize = 1 << 12;
const DATA_CAP: usize = 1 << 20;

pub fn empty_hits() -> ProbeBatch {
    ProbeBatch {
        probe: Vec::new(),
        exec: Vec::new(),
        event: Vec::new(),
        call: Vec::new(),
        return_address: Vec::new(),
        stack_pointer: Vec::new(),
        value_count: Vec::new(),
        values: Vec::new(),
        data_hit: Vec::new(),
        data_info: Vec::new(),
        data_len: Vec::new(),
        data: Vec::new(),
    }
}

impl ProbeCells {
    pub(super) fn new() -> Self {
        Self { hits: empty_hits(), open: Vec::new(), next_call: 0, scratch: Vec::new() }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.hits.probe.is_empty()
    }

    /// The columns are full enough to send.
    pub(super) fn full(&self) -> bool {
        self.hits.probe.len() >= HITS_CAP || self.hits.data.len() >= DATA_CAP
    }

    /// The collected hits, leaving empty columns behind.
    pub(super) fn take(&mut self) -> ProbeBatch {
        std::mem::replace(&mut self.hits, empty_hits())
    }

    pub(super) fn reset(&mut self) {
        *self = Self::new();
    }

    fn push(&mut self, probe: u32, exec: u64, event: ProbeEvent, call: u64, ra: u64, sp: u64, values: &[u64]) {
        let h = &mut self.hits;
        h.probe.push(probe);
        h.exec.push(exec);
        h.event.push(event);
        h.call.push(call);
        h.return_address.push(ra);
        h.stack_pointer.push(sp);
        h.value_count.push(values.len() as u8);
        h.values.extend_from_slice(values);
    }

    /// Calls whose frames lie below `sp` (deeper in a stack that grows down) were left
    /// without a return: the thread is now above them.
    fn close_skipped(&mut self, sp: u64, exec: u64) {
        while let Some(top) = self.open.last().filter(|c| c.sp_after < sp) {
            let (probe, call, ra, entry_sp) = (top.probe, top.call, top.return_address, top.entry_sp);
            self.open.pop();
            self.push(probe, exec, ProbeEvent::Unreturned, call, ra, entry_sp, &[]);
        }
    }

    pub(super) fn entry(&mut self, e: &Entry<'_>) {
        // A new call made from a frame above open ones: those were left (longjmp). One made
        // from the same frame as an open call, to another return address, comes after that
        // call ended without a return; to the same one, it is a tail call (`jmp f`), which
        // returns with it.
        self.close_skipped(e.sp_after_return, e.exec);
        while let Some(top) =
            self.open.last().filter(|c| c.sp_after == e.sp_after_return && c.return_address != e.return_address)
        {
            let (probe, call, ra, entry_sp) = (top.probe, top.call, top.return_address, top.entry_sp);
            self.open.pop();
            self.push(probe, e.exec, ProbeEvent::Unreturned, call, ra, entry_sp, &[]);
        }
        let call = self.next_call;
        self.next_call += 1;
        self.push(e.probe, e.exec, ProbeEvent::Entry, call, e.return_address, e.stack_pointer, e.values);
        let hit = (self.hits.probe.len() - 1) as u32;
        for (info, bytes) in e.reads {
            let h = &mut self.hits;
            h.data_hit.push(hit);
            h.data_info.push(*info);
            h.data_len.push(bytes.len() as u32);
            h.data.extend_from_slice(bytes);
        }
        if e.wants_return {
            self.open.push(OpenCall {
                probe: e.probe,
                call,
                return_address: e.return_address,
                entry_sp: e.stack_pointer,
                sp_after: e.sp_after_return,
            });
        }
    }

    /// The instruction at `address`, a return site of some call, runs with stack pointer
    /// `sp`: a return when the innermost open call returns there with its stack. `values`
    /// reads the return value and registers for the probe that returned.
    pub(super) fn maybe_return(
        &mut self,
        address: u64,
        sp: u64,
        exec: u64,
        values: impl FnOnce(u32, &mut Vec<u64>),
    ) {
        self.close_skipped(sp, exec);
        let mut read = Some(values);
        // Calls that jumped to another probed function (a tail call) return with it, at the
        // same place with the same stack, with the same values.
        while let Some(top) = self.open.last().filter(|c| c.return_address == address && c.sp_after == sp) {
            let (probe, call, entry_sp) = (top.probe, top.call, top.entry_sp);
            self.open.pop();
            if let Some(read) = read.take() {
                self.scratch.clear();
                read(probe, &mut self.scratch);
            }
            let values = std::mem::take(&mut self.scratch);
            self.push(probe, exec, ProbeEvent::Returned, call, address, entry_sp, &values);
            self.scratch = values;
        }
    }

    /// The thread or the process ends: every open call is unreturned.
    pub(super) fn close_all(&mut self, exec: u64) {
        self.close_skipped(u64::MAX, exec);
    }

    /// Whether a return to `address` is awaited (the callback reads registers only then).
    pub(super) fn awaits(&self, address: u64) -> bool {
        self.open.iter().any(|c| c.return_address == address)
    }
}
