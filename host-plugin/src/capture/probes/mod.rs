//! Probes: a script names functions (or addresses) in `init`; at each call the capture reads
//! the arguments, registers and memory the probe asks for at the function's first instruction,
//! and, where the call returns to its caller, the return value. Both are vCPU callbacks
//! (registers and memory are only right there), recorded in the vCPU's buffer in order with
//! its other events (`buffer::probes` pairs returns with entries).
//!
//! Names resolve per module, the first time QEMU translates code of that module (so also for
//! libraries loaded later and by dlopen); return sites are the return addresses entries saw
//! (`sites`). Without probes none of this is set up.

mod sites;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use self::sites::{EntrySite, Sites};
use crate::buffer::{self, ProbeEntry};
use crate::events::{Probe, ProbeSite};
use crate::qemu::{ExecCallback, GuestMemory, Register, Tb, Vcpu};
use crate::services::calling_convention::{self as convention, Convention, Place, ReturnEvidence, describe_site};

thread_local! {
    /// One hit's values, reused: a probe on a hot function fires millions of times.
    static VALUES: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The return site this vCPU thread watched last (already in the shared set).
    static LAST_WATCHED: std::cell::Cell<u64> = const { std::cell::Cell::new(u64::MAX) };
}

const TRUNCATED: u8 = 1 << 4;
const UNREADABLE: u8 = 1 << 5;

/// One probe, its registers looked up (at the first vCPU).
struct Resolved {
    arguments: Vec<Value>,
    registers: Vec<Register>,
}

/// Where to read a value: a register, or a word at the stack pointer plus an offset.
#[derive(Clone, Copy)]
enum Value {
    Register(Register),
    Stack(u64),
}

/// The convention's registers, looked up.
struct Machine {
    stack_pointer: Register,
    return_value: Register,
    return_address: Value,
    /// The register a return branched through, if the convention has one.
    link_register: Option<Register>,
    /// A return pops its address (x86, ARM's `pop {pc}`).
    pops: bool,
    /// QEMU's PC register: mid-block it holds the block's start, so a probe that asks for
    /// it gets the probed instruction's address instead.
    pc: Option<Register>,
    probes: Vec<Resolved>,
}

pub struct Probes {
    requests: Vec<Probe>,
    convention: &'static Convention,
    machine: OnceLock<Machine>,
    sites: Sites,
    /// Per probe: some module defined it (reported at exit otherwise).
    found: Vec<AtomicBool>,
    /// Some probe waits for returns (its own, or an IFUNC resolver's): return sites are watched.
    any_return: bool,
}

impl Probes {
    /// The probes of `init`, for guest `arch` (each was validated by `add-probe`).
    pub fn new(arch: &str, requests: Vec<Probe>) -> Option<Self> {
        if requests.is_empty() {
            return None;
        }
        let convention = convention::for_arch(arch).ok()?;
        let sites = Sites::new(&requests);
        Some(Self {
            found: requests.iter().map(|p| AtomicBool::new(matches!(p.site, ProbeSite::Address(_)))).collect(),
            any_return: requests.iter().any(|p| p.at_return || matches!(p.site, ProbeSite::Symbol(_))),
            requests,
            convention,
            machine: OnceLock::new(),
            sites,
        })
    }

    /// At the first vCPU (QEMU lists registers only then): looks up every register the
    /// probes and the convention need; an unknown one ends the run with one line.
    pub fn vcpu_init(&self) {
        if self.machine.get().is_some() {
            return;
        }
        let lookup = |name: &str, whose: &str| {
            crate::qemu::register(name).unwrap_or_else(|| {
                let names = crate::qemu::register_names();
                crate::console::error(&format!(
                    "{whose}: this guest CPU has no register '{name}'; QEMU names: {}",
                    if names.is_empty() { "none (QEMU describes no registers for it)".into() } else { names.join(" ") }
                ));
                std::process::exit(1)
            })
        };
        let c = self.convention;
        let place = |p: Place, whose: &str| match p {
            Place::Register(name) => Value::Register(lookup(name, whose)),
            Place::Stack(offset) => Value::Stack(offset),
        };
        let calling = format!("the {} calling convention", c.name);
        let probes = self
            .requests
            .iter()
            .map(|p| {
                let whose = format!("probe {}", describe_site(&p.site));
                Resolved {
                    arguments: c.arguments[..usize::from(p.arguments)].iter().map(|&a| place(a, &calling)).collect(),
                    registers: p.registers.iter().map(|r| lookup(r, &whose)).collect(),
                }
            })
            .collect();
        let (link, pops) = match c.evidence {
            ReturnEvidence::LinkRegister(r) => (Some(r), false),
            ReturnEvidence::PoppedWord => (None, true),
            ReturnEvidence::Either(r) => (Some(r), true),
        };
        let _ = self.machine.set(Machine {
            stack_pointer: lookup(c.stack_pointer, &calling),
            return_value: lookup(c.return_value, &calling),
            return_address: place(c.return_address, &calling),
            link_register: link.map(|r| lookup(r, &calling)),
            pops,
            pc: ["rip", "eip", "pc"].iter().find_map(|n| crate::qemu::register(n)),
            probes,
        });
    }

    /// Attaches the entry and return callbacks to a block being translated (any block: the
    /// address filter does not apply to probes).
    pub fn instrument(&self, tb: Tb<'_>) {
        self.sites.resolve_module_of(tb.vaddr(), &self.requests, &self.found);
        if self.any_return {
            self.sites.translated(tb.vaddr());
        }
        for insn in tb.insns() {
            let vaddr = insn.vaddr();
            if let Some(site) = self.sites.entry_at(vaddr) {
                insn.register_exec_cb_reading_registers::<OnEntry>(site as *const EntrySite as usize);
            }
            if self.any_return && self.sites.is_return_site(vaddr) {
                insn.register_exec_cb_reading_registers::<OnReturnSite>(vaddr as usize);
            }
        }
    }

    /// Probes on names no module defined, for the warning at exit.
    pub fn never_found(&self) -> Vec<String> {
        self.requests
            .iter()
            .zip(&self.found)
            .filter(|(_, f)| !f.load(Ordering::Relaxed))
            .map(|(p, _)| describe_site(&p.site))
            .collect()
    }

    /// Return sites that QEMU had translated before a call returning there was seen, on a
    /// QEMU that cannot drop translations: their returns went unobserved (reported at exit).
    pub fn unobservable_returns(&self) -> u64 {
        self.sites.late_return_sites()
    }

    /// A value at entry; stack words only on x86, which is little-endian.
    fn read(&self, cpu: Vcpu<'_>, v: Value, sp: u64, memory: &mut GuestMemory<'_>) -> u64 {
        match v {
            Value::Register(r) => cpu.read_register(r).unwrap_or(0),
            Value::Stack(offset) => self.word_at(memory, sp.wrapping_add(offset)).unwrap_or(0),
        }
    }

    /// The little-endian stack word at `address` (x86 and ARM, the conventions that keep
    /// words on the stack here, are little-endian guests).
    fn word_at(&self, memory: &mut GuestMemory<'_>, address: u64) -> Option<u64> {
        let word = usize::from(self.convention.word);
        let mut bytes = Vec::with_capacity(word);
        memory.read(address, word, &mut bytes).then(|| {
            let mut le = [0u8; 8];
            le[..word].copy_from_slice(&bytes);
            u64::from_le_bytes(le)
        })
    }

    fn on_entry(&self, cpu: Vcpu<'_>, site: &EntrySite) {
        let Some(m) = self.machine.get() else { return };
        let capture = super::get();
        super::appended::drain(buffer::Owner::Vcpu(cpu));
        let exec = capture.current_exec(cpu.index());
        let mut memory = GuestMemory::new(cpu);
        let sp = cpu.read_register(m.stack_pointer).unwrap_or(0);
        let mut ra = self.read(cpu, m.return_address, sp, &mut memory);
        if self.convention.clear_bit0 {
            ra &= !1;
        }
        if !site.resolves.is_empty() {
            // An IFUNC resolver: the function it returns is the one to probe.
            self.sites.resolving(cpu.index(), ra, sp.wrapping_add(self.convention.sp_after_return), &site.resolves);
            self.watch_return_site(cpu, ra);
        }
        for &id in &site.probes {
            let request = &self.requests[id as usize];
            let resolved = &m.probes[id as usize];
            VALUES.with_borrow_mut(|values| {
                values.clear();
                values.extend(resolved.arguments.iter().map(|&a| self.read(cpu, a, sp, &mut memory)));
                let reads: Vec<(u8, Vec<u8>)> = request
                    .reads
                    .iter()
                    .enumerate()
                    .map(|(i, r)| read_at(&mut memory, i as u8, r, &values[..resolved.arguments.len()]))
                    .collect();
                values.extend(resolved.registers.iter().map(|&r| read_register(m, cpu, r, site.address)));
                if request.at_return {
                    self.watch_return_site(cpu, ra);
                }
                buffer::record_probe_entry(
                    cpu,
                    &ProbeEntry {
                        probe: id,
                        exec,
                        return_address: ra,
                        stack_pointer: sp,
                        sp_after_return: sp.wrapping_add(self.convention.sp_after_return),
                        wants_return: request.at_return,
                        values,
                        reads: &reads,
                    },
                );
            });
        }
    }

    /// Code at `ra` gets the return callback; code translated there already is translated
    /// again (or, on a QEMU that cannot, its returns are counted as missed).
    fn watch_return_site(&self, cpu: Vcpu<'_>, ra: u64) {
        // A hot function is mostly called from the same place: skip the shared set's lock.
        if LAST_WATCHED.replace(ra) == ra {
            return;
        }
        if self.sites.add_return_site(ra) && !crate::qemu::extensions::flush_translations(cpu) {
            self.sites.missed();
        }
    }

    fn on_return_site(&self, cpu: Vcpu<'_>, address: u64) {
        let Some(m) = self.machine.get() else { return };
        if let Some(ids) = self.sites.resolved(cpu.index(), address, cpu.read_register(m.stack_pointer).unwrap_or(0)) {
            let mut function = cpu.read_register(m.return_value).unwrap_or(0);
            if self.convention.clear_bit0 {
                function &= !1;
            }
            let mut translated = false;
            for id in ids {
                translated |= self.sites.add_entry(function, id, false);
            }
            if translated && !crate::qemu::extensions::flush_translations(cpu) {
                crate::console::warning(&format!(
                    "an IFUNC's implementation at {function:#x} ran before its probe was known: its calls are not seen"
                ));
            }
        }
        // Most executions of a return site come with no call open to it (a loop head).
        if !buffer::awaits_return(cpu, address) {
            return;
        }
        let capture = super::get();
        super::appended::drain(buffer::Owner::Vcpu(cpu));
        let exec = capture.current_exec(cpu.index());
        let sp = cpu.read_register(m.stack_pointer).unwrap_or(0);
        // What the return instruction left behind, or a jump that landed here instead.
        let mut memory = GuestMemory::new(cpu);
        let word = u64::from(self.convention.word);
        let thumb = u64::from(self.convention.clear_bit0);
        let returned = m.link_register.and_then(|r| cpu.read_register(r)).is_some_and(|lr| lr & !thumb == address)
            || (m.pops && self.word_at(&mut memory, sp.wrapping_sub(word)).is_some_and(|w| w & !thumb == address));
        if !returned {
            return;
        }
        buffer::record_probe_return(cpu, address, sp, exec, |id, values| {
            values.push(cpu.read_register(m.return_value).unwrap_or(0));
            values.extend(m.probes[id as usize].registers.iter().map(|&r| read_register(m, cpu, r, address)));
        });
    }
}

/// Register `r`, or for the PC register the instruction's address `pc`.
fn read_register(m: &Machine, cpu: Vcpu<'_>, r: Register, pc: u64) -> u64 {
    if Some(r) == m.pc { pc } else { cpu.read_register(r).unwrap_or(0) }
}

/// One memory read of an entry: `(info, bytes)` for the `data-*` columns.
fn read_at(memory: &mut GuestMemory<'_>, index: u8, r: &crate::events::ProbeRead, args: &[u64]) -> (u8, Vec<u8>) {
    let address = args[usize::from(r.argument)];
    let mut limit = u64::from(r.max_length);
    let mut truncated = false;
    if let Some(len_arg) = r.length_argument {
        let asked = args[usize::from(len_arg)];
        truncated = asked > limit;
        limit = limit.min(asked);
    }
    let mut bytes = Vec::new();
    let mut info = index & 0xf;
    if r.until_nul {
        // A page at a time: a string may end right before unmapped memory.
        let mut at = address;
        loop {
            let left = limit - bytes.len() as u64;
            if left == 0 {
                info |= TRUNCATED;
                break;
            }
            let chunk = left.min(0x1000 - (at & 0xfff));
            let start = bytes.len();
            if !memory.read(at, chunk as usize, &mut bytes) {
                if start == 0 && at == address {
                    info |= UNREADABLE;
                }
                break;
            }
            if let Some(nul) = bytes[start..].iter().position(|&b| b == 0) {
                bytes.truncate(start + nul);
                break;
            }
            at += chunk;
        }
    } else if !memory.read(address, limit as usize, &mut bytes) {
        info |= UNREADABLE;
    } else if truncated {
        info |= TRUNCATED;
    }
    (info, bytes)
}

/// The entry callback: userdata points at the site's leaked `EntrySite`.
struct OnEntry;

impl ExecCallback for OnEntry {
    fn on_exec(vcpu: Vcpu<'_>, userdata: usize) {
        if let Some(p) = &super::get().probes {
            // SAFETY: `instrument` passed a pointer to an `EntrySite` that `Sites` leaked:
            // valid for the rest of the process.
            p.on_entry(vcpu, unsafe { &*(userdata as *const EntrySite) });
        }
    }
}

/// The return-site callback: userdata is the site's address.
struct OnReturnSite;

impl ExecCallback for OnReturnSite {
    fn on_exec(vcpu: Vcpu<'_>, userdata: usize) {
        if let Some(p) = &super::get().probes {
            p.on_return_site(vcpu, userdata as u64);
        }
    }
}
