//! Probes (new in 0.3.1): name a function, get its arguments at entry and its return value
//! at exit, like bpftrace's uprobes or Frida's Interceptor.
//!
//! Ask in `init` with [`Probe`]; the hits arrive in [`Script::on_probes`](crate::Script::on_probes),
//! right before the `on_events` of the same stretch of the vCPU's execution.
//!
//! ```ignore
//! let malloc = Probe::symbol("malloc").arguments(1).at_return().add()?;
//! // in on_probes: hit.probe == malloc, hit.argument(0) is the size, and at the return
//! // hit.return_value() the pointer; the entry and the return share `hit.call`.
//! ```

use crate::bindings::cannonball::script::host as wit;
pub use wit::ProbeEvent;

/// `data-info` flags above the read's index (bits 0-3).
pub mod flags {
    /// The read stopped at its maximum length (or the length argument) before a NUL.
    pub const TRUNCATED: u8 = 1 << 4;
    /// The address was not readable: no bytes.
    pub const UNREADABLE: u8 = 1 << 5;
}

/// A probe request, built step by step and sent with [`Probe::add`].
#[derive(Clone, Debug)]
pub struct Probe(wit::Probe);

impl Probe {
    /// A function by name: `malloc` in every module that defines it, `libc.so.6:malloc` in
    /// that module only, `sub_1a2b` for an unnamed function of a stripped file.
    pub fn symbol(name: impl Into<String>) -> Self {
        Self::at(wit::ProbeSite::Symbol(name.into()))
    }

    /// The function starting at a guest address.
    pub fn address(address: u64) -> Self {
        Self::at(wit::ProbeSite::Address(address))
    }

    fn at(site: wit::ProbeSite) -> Self {
        Probe(wit::Probe { site, at_return: false, arguments: 0, registers: Vec::new(), reads: Vec::new() })
    }

    /// Captures the first `n` arguments of the calling convention at entry.
    pub fn arguments(mut self, n: u8) -> Self {
        self.0.arguments = n;
        self
    }

    /// Also fires at the return, with the return value.
    pub fn at_return(mut self) -> Self {
        self.0.at_return = true;
        self
    }

    /// Reads register `name` (QEMU's name: `rax`, `x0`, `a0`, ...) at entry and at return.
    pub fn register(mut self, name: impl Into<String>) -> Self {
        self.0.registers.push(name.into());
        self
    }

    /// Reads the C string argument `argument` points to, up to `max` bytes.
    pub fn read_string(self, argument: u8, max: u32) -> Self {
        self.read(argument, max, true, None)
    }

    /// Reads the C string argument `argument` points to, at most as many bytes as argument
    /// `length_argument` says and at most `max`: `strncmp(a, b, n)`.
    pub fn read_string_up_to(self, argument: u8, length_argument: u8, max: u32) -> Self {
        self.read(argument, max, true, Some(length_argument))
    }

    /// Reads `len` bytes at the address argument `argument` holds.
    pub fn read_bytes(self, argument: u8, len: u32) -> Self {
        self.read(argument, len, false, None)
    }

    /// Reads as many bytes as argument `length_argument` says (at most `max`) at the address
    /// argument `argument` holds: `memcmp(a, b, n)`.
    pub fn read_sized(self, argument: u8, length_argument: u8, max: u32) -> Self {
        self.read(argument, max, false, Some(length_argument))
    }

    fn read(mut self, argument: u8, max_length: u32, until_nul: bool, length_argument: Option<u8>) -> Self {
        self.0.reads.push(wit::ProbeRead { argument, max_length, until_nul, length_argument });
        self
    }

    /// Asks the host for the probe (from `init` only); returns its id.
    pub fn add(self) -> Result<u32, String> {
        crate::runtime::probes_asked();
        wit::add_probe(&self.0)
    }
}

/// One probe hit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeHit<'a> {
    /// The probe's id ([`Probe::add`]).
    pub probe: u32,
    /// The block execution it happened in (like `EventBatch::mem_exec`).
    pub exec: u64,
    pub event: ProbeEvent,
    /// The call's number on this vCPU; an entry and its return share it.
    pub call: u64,
    /// Where the call returns to in its caller.
    pub return_address: u64,
    /// The stack pointer at entry.
    pub stack_pointer: u64,
    /// Entry: the arguments, then the registers asked for; return: the return value, then the
    /// registers; unreturned: none.
    pub values: &'a [u64],
    /// The memory reads of an entry: (index in the probe's reads, info byte, bytes).
    pub reads: Vec<(usize, u8, &'a [u8])>,
}

impl ProbeHit<'_> {
    /// Argument `i` of an entry.
    pub fn argument(&self, i: usize) -> Option<u64> {
        (self.event == ProbeEvent::Entry).then(|| self.values.get(i).copied()).flatten()
    }

    /// The return value of a return.
    pub fn return_value(&self) -> Option<u64> {
        (self.event == ProbeEvent::Returned).then(|| self.values.first().copied()).flatten()
    }

    /// The bytes of the probe's `i`-th memory read (none when unreadable).
    pub fn read(&self, i: usize) -> Option<&[u8]> {
        self.reads.iter().find(|r| r.0 == i && r.1 & flags::UNREADABLE == 0).map(|r| r.2)
    }
}

/// The hits of one batch of probe columns, in order.
pub fn hits(batch: &wit::ProbeBatch) -> Vec<ProbeHit<'_>> {
    let mut value_at = 0usize;
    let mut hits: Vec<ProbeHit<'_>> = (0..batch.probe.len())
        .map(|i| {
            let n = usize::from(batch.value_count[i]);
            let values = batch.values.get(value_at..value_at + n).unwrap_or(&[]);
            value_at += n;
            ProbeHit {
                probe: batch.probe[i],
                exec: batch.exec[i],
                event: batch.event[i],
                call: batch.call[i],
                return_address: batch.return_address[i],
                stack_pointer: batch.stack_pointer[i],
                values,
                reads: Vec::new(),
            }
        })
        .collect();
    let mut at = 0usize;
    for ((&hit, &info), &len) in batch.data_hit.iter().zip(&batch.data_info).zip(&batch.data_len) {
        let bytes = batch.data.get(at..at + len as usize).unwrap_or(&[]);
        at += len as usize;
        if let Some(h) = hits.get_mut(hit as usize) {
            h.reads.push((usize::from(info & 0xf), info, bytes));
        }
    }
    hits
}

/// The guest CPU's register names as QEMU gives them; empty during `init` (QEMU creates the
/// CPU afterwards).
pub fn register_names() -> Vec<String> {
    wit::register_names()
}
