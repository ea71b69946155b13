//! Where probes fire: function entries (addresses given, names resolved per module) and
//! return sites (the return addresses entries saw), looked up at translation time.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use crate::events::{Probe, ProbeSite};
use crate::services::modules::MODULES;

/// The probes at one entry address. Leaked: translated code keeps a pointer to it.
pub struct EntrySite {
    pub address: u64,
    pub probes: Vec<u32>,
    /// An IFUNC resolver: the function it returns is where these probes go.
    pub resolves: Vec<u32>,
}

/// A resolver call waiting for its return (its return value is an implementation).
struct Resolving {
    vcpu: u32,
    return_address: u64,
    sp_after: u64,
    probes: Vec<u32>,
}

#[derive(Default)]
struct Returns {
    sites: HashSet<u64>,
    /// Start addresses of every block translated so far.
    translated: HashSet<u64>,
}

pub struct Sites {
    entries: RwLock<HashMap<u64, &'static EntrySite>>,
    /// Modules whose names were looked up: (path, base).
    scanned: Mutex<HashSet<(String, u64)>>,
    has_names: bool,
    returns: Mutex<Returns>,
    late: AtomicU64,
    resolving: Mutex<Vec<Resolving>>,
    /// How many resolver calls wait: return sites skip the lock when none does.
    resolving_count: std::sync::atomic::AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Sites {
    pub fn new(requests: &[Probe]) -> Self {
        let sites = Self {
            entries: RwLock::new(HashMap::new()),
            scanned: Mutex::new(HashSet::new()),
            has_names: requests.iter().any(|p| matches!(p.site, ProbeSite::Symbol(_))),
            returns: Mutex::new(Returns::default()),
            late: AtomicU64::new(0),
            resolving: Mutex::new(Vec::new()),
            resolving_count: std::sync::atomic::AtomicUsize::new(0),
        };
        for (id, p) in requests.iter().enumerate() {
            if let ProbeSite::Address(a) = p.site {
                sites.add_entry(a, id as u32, false);
            }
        }
        sites
    }

    /// Probe `probe` at `address`: at the function itself, or (`resolver`) at the IFUNC
    /// resolver that returns it. True when QEMU had translated code there already.
    pub fn add_entry(&self, address: u64, probe: u32, resolver: bool) -> bool {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        let (mut probes, mut resolves) =
            entries.get(&address).map(|s| (s.probes.clone(), s.resolves.clone())).unwrap_or_default();
        let list = if resolver { &mut resolves } else { &mut probes };
        if list.contains(&probe) {
            return false;
        }
        list.push(probe);
        // The previous site (if any) stays leaked: code translated before may point at it.
        entries.insert(address, Box::leak(Box::new(EntrySite { address, probes, resolves })));
        drop(entries);
        lock(&self.returns).translated.contains(&address)
    }

    /// A resolver was entered on `vcpu`: its return value goes to `probes`.
    pub fn resolving(&self, vcpu: u32, return_address: u64, sp_after: u64, probes: &[u32]) {
        let mut r = lock(&self.resolving);
        r.push(Resolving { vcpu, return_address, sp_after, probes: probes.to_vec() });
        self.resolving_count.store(r.len(), Ordering::Release);
    }

    /// A return site runs on `vcpu` with stack pointer `sp`: the probes whose resolver
    /// returns now, if one does.
    pub fn resolved(&self, vcpu: u32, address: u64, sp: u64) -> Option<Vec<u32>> {
        if self.resolving_count.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut r = lock(&self.resolving);
        let i = r.iter().position(|c| c.vcpu == vcpu && c.return_address == address && c.sp_after == sp)?;
        let probes = r.swap_remove(i).probes;
        self.resolving_count.store(r.len(), Ordering::Release);
        Some(probes)
    }

    /// The first time code of a module is translated: looks the probes' names up in it
    /// (unqualified names in every module, `MODULE:NAME` only in the module whose file name
    /// or path is MODULE), before any of its code is instrumented.
    pub fn resolve_module_of(&self, vaddr: u64, requests: &[Probe], found: &[AtomicBool]) {
        if !self.has_names {
            return;
        }
        let Some((path, offset)) = MODULES.module_offset(vaddr) else { return };
        if !lock(&self.scanned).insert((path.clone(), vaddr.wrapping_sub(offset))) {
            return;
        }
        let file = path.rsplit('/').next().unwrap_or(&path);
        for (id, p) in requests.iter().enumerate() {
            let ProbeSite::Symbol(spec) = &p.site else { continue };
            let (module, name) = match spec.rsplit_once(':') {
                Some((m, n)) => (Some(m), n),
                None => (None, spec.as_str()),
            };
            if module.is_some_and(|m| m != file && m != path) {
                continue;
            }
            for (address, ifunc) in MODULES.function_addresses(vaddr, name) {
                // Nothing of this module is translated yet (this is its first block).
                self.add_entry(address, id as u32, ifunc);
                found[id].store(true, Ordering::Relaxed);
            }
        }
    }

    pub fn entry_at(&self, vaddr: u64) -> Option<&'static EntrySite> {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).get(&vaddr).copied()
    }

    /// A block at `vaddr` was translated.
    pub fn translated(&self, vaddr: u64) {
        lock(&self.returns).translated.insert(vaddr);
    }

    pub fn is_return_site(&self, vaddr: u64) -> bool {
        lock(&self.returns).sites.contains(&vaddr)
    }

    /// An entry saw return address `address`: code translated from now on there gets the
    /// return callback. True when QEMU had translated code there already (a jump target:
    /// `if (x) f(); next;`), which runs without it until translated again.
    pub fn add_return_site(&self, address: u64) -> bool {
        let mut r = lock(&self.returns);
        r.sites.insert(address) && r.translated.contains(&address)
    }

    /// A late return site whose code could not be translated again (a QEMU without
    /// `qemu_plugin_flush_translations`): its returns go unseen.
    pub fn missed(&self) {
        self.late.fetch_add(1, Ordering::Relaxed);
    }

    pub fn late_return_sites(&self) -> u64 {
        self.late.load(Ordering::Relaxed)
    }
}
