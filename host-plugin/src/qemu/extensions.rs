//! The cannonball extensions of the plugin API (qemu/patches/0002-*, 0006-*), looked up at run
//! time so that the plugin also runs on a QEMU without them.
//!
//! Version 1: block cuts and the user exit status. Version 2: appending inline operations
//! (`capture::appended`). Version 3: QEMU hands faults it does not own to the handlers
//! installed before its own, so scripts may run with wasmtime's signal-based traps. Version
//! 4: discontinuities and block privilege. Version 5: dropping every translation (probes'
//! return sites learnt after their code was translated).
//! `CANNONBALL_CAPTURE=callbacks` in QEMU's environment makes the plugin ignore versions 2
//! and 3, as on a QEMU without them: callbacks and explicit bounds checks (the tests run both);
//! `CANNONBALL_CAPTURE=plain` ignores them all, as on a QEMU without our patches.

use std::ffi::{CStr, c_int, c_uint, c_void};
use std::sync::OnceLock;

use qemu_plugin_sys as sys;

/// `qemu_plugin_vcpu_tb_cut_cb_t`: a block execution ended early.
type TbCutCallback =
    unsafe extern "C" fn(id: sys::qemu_plugin_id_t, vcpu: c_uint, pc: u64, executed: u32, n_insns: u32);

/// The handler of block cuts: `(vcpu, pc, executed, n_insns)`.
pub type TbCutHandler = fn(vcpu: u32, pc: u64, executed: u32, n_insns: u32);

static TB_CUT: OnceLock<TbCutHandler> = OnceLock::new();

/// # Safety
/// Called by QEMU only, as the block cut callback (possibly inside its host signal handler:
/// this only loads an initialised `OnceLock`, one atomic load).
unsafe extern "C" fn tb_cut_trampoline(_id: sys::qemu_plugin_id_t, vcpu: c_uint, pc: u64, executed: u32, n_insns: u32) {
    if let Some(f) = TB_CUT.get() {
        f(vcpu, pc, executed, n_insns);
    }
}

type RegisterTbCut = unsafe extern "C" fn(sys::qemu_plugin_id_t, TbCutCallback);
type UserExitStatus = unsafe extern "C" fn(*mut c_int) -> c_int;
/// `qemu_plugin_register_vcpu_tb_exec_append(tb, entry, imm)`.
pub(super) type TbAppend = unsafe extern "C" fn(*mut sys::qemu_plugin_tb, sys::qemu_plugin_u64, u64);
/// `qemu_plugin_register_vcpu_mem_append(insn, rw, entry, imm, with_value)`.
pub(super) type MemAppend =
    unsafe extern "C" fn(*mut sys::qemu_plugin_insn, sys::qemu_plugin_mem_rw, sys::qemu_plugin_u64, u32, bool);
/// `qemu_plugin_insn_inline_mem_accesses(insn)`.
pub(super) type InlineMemAccesses = unsafe extern "C" fn(*const sys::qemu_plugin_insn) -> usize;

struct Api {
    register_tb_cut: RegisterTbCut,
    /// User mode only (linux-user defines it): a system emulator has none.
    user_exit_status: Option<UserExitStatus>,
    appends: Option<Appends>,
    /// Version 3 (and not forced off).
    hands_over_faults: bool,
    /// Version 5: `qemu_plugin_flush_translations`.
    flush_translations: Option<unsafe extern "C" fn()>,
}

/// Version 2: appending inline operations.
#[derive(Clone, Copy)]
pub(super) struct Appends {
    pub tb_append: TbAppend,
    pub mem_append: MemAppend,
    pub inline_mem_accesses: InlineMemAccesses,
}

pub(super) fn lookup(name: &CStr) -> Option<*mut c_void> {
    // SAFETY: dlsym with a valid C string; RTLD_DEFAULT searches the QEMU executable.
    let ptr = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!ptr.is_null()).then_some(ptr)
}

fn api() -> Option<&'static Api> {
    static API: OnceLock<Option<Api>> = OnceLock::new();
    API.get_or_init(|| {
        let version = lookup(c"qemu_plugin_cannonball_extensions")?;
        // SAFETY: the symbol has this signature in every version of the extensions.
        let version: unsafe extern "C" fn() -> c_int = unsafe { std::mem::transmute(version) };
        // SAFETY: a plain query without arguments.
        let version = unsafe { version() };
        if version < 1 {
            return None;
        }
        let setting = std::env::var_os("CANNONBALL_CAPTURE");
        // `plain`: act as on a QEMU without the extensions at all (the tests' way to run the
        // paths an unpatched QEMU gets).
        if setting.as_deref().is_some_and(|v| v == "plain") {
            return None;
        }
        let forced_callbacks = setting.is_some_and(|v| v == "callbacks");
        // SAFETY: version 2 defines the three functions with these signatures (qemu-plugin.h).
        let appends = (version >= 2 && !forced_callbacks)
            .then(|| unsafe {
                Some(Appends {
                    tb_append: std::mem::transmute::<*mut c_void, TbAppend>(lookup(
                        c"qemu_plugin_register_vcpu_tb_exec_append",
                    )?),
                    mem_append: std::mem::transmute::<*mut c_void, MemAppend>(lookup(
                        c"qemu_plugin_register_vcpu_mem_append",
                    )?),
                    inline_mem_accesses: std::mem::transmute::<*mut c_void, InlineMemAccesses>(lookup(
                        c"qemu_plugin_insn_inline_mem_accesses",
                    )?),
                })
            })
            .flatten();
        // SAFETY: version 1 defines both functions with these signatures (qemu-plugin.h); the
        // exit status only in user mode.
        unsafe {
            Some(Api {
                register_tb_cut: std::mem::transmute::<*mut c_void, RegisterTbCut>(lookup(
                    c"qemu_plugin_register_vcpu_tb_cut_cb",
                )?),
                user_exit_status: lookup(c"qemu_plugin_user_exit_status")
                    .map(|f| std::mem::transmute::<*mut c_void, UserExitStatus>(f)),
                appends,
                // Whether scripts then use signal-based traps is script-cache's
                // SIGNAL_TRAPS_IN_QEMU (see `script_traps`).
                hands_over_faults: version >= 3 && !forced_callbacks,
                flush_translations: (version >= 5)
                    .then(|| lookup(c"qemu_plugin_flush_translations"))
                    .flatten()
                    .map(|f| std::mem::transmute::<*mut c_void, unsafe extern "C" fn()>(f)),
            })
        }
    })
    .as_ref()
}

/// True when this QEMU has the extensions.
pub fn available() -> bool {
    api().is_some()
}

/// Version 2 (appending inline operations), unless `CANNONBALL_CAPTURE=callbacks`.
pub(super) fn appends() -> Option<Appends> {
    api()?.appends
}

/// True when QEMU hands faults it does not own (in a script's compiled code) to the handler
/// installed before its own: scripts may use signal-based traps.
pub fn hands_over_faults() -> bool {
    api().is_some_and(|api| api.hands_over_faults)
}

/// How this QEMU's scripts catch traps: signal-based only where QEMU hands faults over and
/// script-cache's `SIGNAL_TRAPS_IN_QEMU` allows it (the same rule `cannonball inspect` uses).
pub fn script_traps() -> cannonball_script_cache::Traps {
    cannonball_script_cache::Traps::inside_qemu(hands_over_faults())
}

/// True when capture can append in generated code (`capture::appended`).
pub fn appends_available() -> bool {
    appends().is_some()
}

/// Registers `f` for block cuts (once per process); false without the extensions. `f` may
/// run inside QEMU's host signal handler: it must be async-signal-safe (atomics only).
pub fn register_tb_cut(id: sys::qemu_plugin_id_t, f: TbCutHandler) -> bool {
    let Some(api) = api() else { return false };
    let _ = TB_CUT.set(f);
    // SAFETY: a 'static callback with the documented signature.
    unsafe { (api.register_tb_cut)(id, tb_cut_trampoline) };
    true
}

/// Drops every translation before the calling vCPU's next block (version 5), so that
/// instrumentation decided since reaches code translated before; false without it. From a
/// vCPU callback (`vcpu` proves it).
pub fn flush_translations(_vcpu: super::Vcpu<'_>) -> bool {
    let Some(flush) = api().and_then(|a| a.flush_translations) else { return false };
    // SAFETY: on a vCPU thread inside its callback, as the function requires.
    unsafe { flush() };
    true
}

/// How the guest process ends: `(status, signal)` as `qemu_plugin_user_exit_status`
/// reports them (status 128 + signal when a signal ends it), from the exit callback.
pub fn user_exit_status() -> Option<(i32, u32)> {
    let api = api()?;
    let mut signal: c_int = 0;
    // SAFETY: a plain query with a valid out pointer.
    let status = unsafe { (api.user_exit_status?)(&mut signal) };
    (status >= 0).then_some((status, signal.max(0) as u32))
}
