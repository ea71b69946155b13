//! One vCPU's probe hits being collected, and its calls still open: an entry waits on a
//! stack for the return to its caller, paired by return address and stack pointer, so that
//! recursion pairs innermost first and frames skipped by `longjmp` come out as unreturned.

use crate::events::{ProbeBatch, ProbeEvent, empty_probe_batch as empty_hits};

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

    #[allow(clippy::too_many_arguments)] // one per column of a hit
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
    pub(super) fn maybe_return(&mut self, address: u64, sp: u64, exec: u64, values: impl FnOnce(u32, &mut Vec<u64>)) {
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

#[cfg(test)]
mod tests {
    //! Pairing without QEMU: what a stack of calls on one thread looks like to the cells.
    use super::*;

    /// An x86-like entry: the stack pointer at entry; the return pops one word.
    fn enter(cells: &mut ProbeCells, probe: u32, ra: u64, sp: u64) {
        cells.entry(&Entry {
            probe,
            exec: 0,
            return_address: ra,
            stack_pointer: sp,
            sp_after_return: sp + 8,
            wants_return: true,
            values: &[sp],
            reads: &[],
        });
    }

    fn ret(cells: &mut ProbeCells, ra: u64, sp: u64) {
        cells.maybe_return(ra, sp, 0, |probe, v| v.push(u64::from(probe) * 100));
    }

    /// (event, call) of every hit so far.
    fn events(cells: &mut ProbeCells) -> Vec<(ProbeEvent, u64)> {
        let hits = cells.take();
        hits.event.into_iter().zip(hits.call).collect()
    }

    use ProbeEvent::{Entry as E, Returned as R, Unreturned as U};

    #[test]
    fn recursion_returns_innermost_first() {
        let mut c = ProbeCells::new();
        enter(&mut c, 0, 0x400100, 0x7000);
        enter(&mut c, 0, 0x400200, 0x6f00);
        enter(&mut c, 0, 0x400200, 0x6e00);
        // The return site runs deeper than any open call (a loop in the innermost): nothing.
        ret(&mut c, 0x400200, 0x6d00);
        ret(&mut c, 0x400200, 0x6e08);
        ret(&mut c, 0x400200, 0x6f08);
        ret(&mut c, 0x400100, 0x7008);
        assert_eq!(events(&mut c), [(E, 0), (E, 1), (E, 2), (R, 2), (R, 1), (R, 0)]);
    }

    #[test]
    fn a_longjmp_past_open_calls_leaves_them_unreturned() {
        let mut c = ProbeCells::new();
        enter(&mut c, 0, 0x400100, 0x7000);
        enter(&mut c, 1, 0x400200, 0x6f00);
        enter(&mut c, 1, 0x400300, 0x6e00);
        // The outermost call returns: the thread is above the inner two, which never will.
        ret(&mut c, 0x400100, 0x7008);
        assert_eq!(events(&mut c), [(E, 0), (E, 1), (E, 2), (U, 2), (U, 1), (R, 0)]);
    }

    #[test]
    fn a_call_from_the_same_frame_ends_the_open_one() {
        let mut c = ProbeCells::new();
        enter(&mut c, 0, 0x400100, 0x7000);
        // longjmp back into the caller, which calls again from elsewhere at the same depth.
        enter(&mut c, 0, 0x400180, 0x7000);
        assert_eq!(events(&mut c), [(E, 0), (U, 0), (E, 1)]);
    }

    #[test]
    fn a_tail_call_returns_with_its_caller() {
        let mut c = ProbeCells::new();
        enter(&mut c, 0, 0x400100, 0x7000);
        // `jmp g`: the same return address and stack.
        enter(&mut c, 1, 0x400100, 0x7000);
        ret(&mut c, 0x400100, 0x7008);
        let hits = c.take();
        let events: Vec<(ProbeEvent, u64)> = hits.event.iter().copied().zip(hits.call.iter().copied()).collect();
        assert_eq!(events, [(E, 0), (E, 1), (R, 1), (R, 0)]);
        // Both returns carry the value read once (for the innermost probe, 1).
        assert_eq!(&hits.values[2..], [100, 100]);
    }

    #[test]
    fn the_end_of_a_thread_leaves_open_calls_unreturned() {
        let mut c = ProbeCells::new();
        enter(&mut c, 0, 0x400100, 0x7000);
        enter(&mut c, 0, 0x400200, 0x6f00);
        c.close_all(0);
        assert_eq!(events(&mut c), [(E, 0), (E, 1), (U, 1), (U, 0)]);
        assert!(!c.awaits(0x400100));
    }
}
