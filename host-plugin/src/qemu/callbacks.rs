//! Registration of the per-plugin callbacks (translation, vCPU init and exit, system calls,
//! exit) and the [`Vcpu`] proof their handlers receive.
//!
//! QEMU calls `unsafe extern "C"` trampolines defined here; each turns its raw arguments into
//! safe types and calls the safe Rust function registered for it (kept in a static: these
//! callbacks run per translation, thread or system call, not per block execution).

use std::cell::Cell;
use std::ffi::{c_uint, c_void};
use std::marker::PhantomData;
use std::sync::OnceLock;

use qemu_plugin_sys as sys;

use super::Tb;

/// The plugin's id, as QEMU passes it to `qemu_plugin_install`.
pub type PluginId = sys::qemu_plugin_id_t;

/// Proof that the calling thread is the thread of vCPU [`index`](Vcpu::index), inside a QEMU
/// callback for it (not inside a signal handler): the context the API's vCPU queries (guest
/// memory, registers, memory values) need. Only this module's trampolines create one, and
/// it cannot leave the callback it was lent to, nor the thread.
#[derive(Clone, Copy)]
pub struct Vcpu<'a> {
    index: u32,
    _callback: PhantomData<&'a ()>,
    _not_send: PhantomData<*const ()>,
}

impl Vcpu<'_> {
    /// # Safety
    /// On the thread of vCPU `index`, inside a QEMU callback for it, outside signal handlers;
    /// the value must not outlive that callback.
    #[inline(always)]
    pub(super) unsafe fn enter(index: c_uint) -> Self {
        Self { index, _callback: PhantomData, _not_send: PhantomData }
    }

    /// The vCPU index.
    #[inline(always)]
    pub fn index(self) -> u32 {
        self.index
    }
}

thread_local! {
    /// The vCPU this thread runs, set at vCPU init.
    static THIS_VCPU: Cell<Option<u32>> = const { Cell::new(None) };
}

/// The vCPU of the calling thread, if it is a vCPU thread.
pub fn this_vcpu() -> Option<u32> {
    THIS_VCPU.with(Cell::get)
}

static TRANSLATE: OnceLock<fn(Tb<'_>)> = OnceLock::new();
static VCPU_INIT: OnceLock<fn(Vcpu<'_>)> = OnceLock::new();
static VCPU_EXIT: OnceLock<fn(Vcpu<'_>)> = OnceLock::new();
static SYSCALL: OnceLock<fn(Vcpu<'_>, i64, [u64; 6])> = OnceLock::new();
static SYSCALL_RETURN: OnceLock<fn(Vcpu<'_>, i64, i64)> = OnceLock::new();
static EXIT: OnceLock<fn(Option<Vcpu<'_>>)> = OnceLock::new();

/// `f` instruments each block QEMU translates. Once per process (later calls keep the first).
pub fn on_translate(id: PluginId, f: fn(Tb<'_>)) {
    let _ = TRANSLATE.set(f);
    // SAFETY: registration of a 'static callback with the documented signature.
    unsafe { sys::qemu_plugin_register_vcpu_tb_trans_cb(id, Some(translate_trampoline)) };
}

/// `f` runs on each new vCPU's thread when it starts. Once per process.
pub fn on_vcpu_init(id: PluginId, f: fn(Vcpu<'_>)) {
    let _ = VCPU_INIT.set(f);
    // SAFETY: as in `on_translate`.
    unsafe { sys::qemu_plugin_register_vcpu_init_cb(id, Some(vcpu_init_trampoline)) };
}

/// `f` runs on each vCPU's thread when it exits. Once per process.
pub fn on_vcpu_exit(id: PluginId, f: fn(Vcpu<'_>)) {
    let _ = VCPU_EXIT.set(f);
    // SAFETY: as in `on_translate`.
    unsafe { sys::qemu_plugin_register_vcpu_exit_cb(id, Some(vcpu_exit_trampoline)) };
}

/// `f(vcpu, number, arguments)` runs at each system call's entry. Once per process.
pub fn on_syscall(id: PluginId, f: fn(Vcpu<'_>, i64, [u64; 6])) {
    let _ = SYSCALL.set(f);
    // SAFETY: as in `on_translate`.
    unsafe { sys::qemu_plugin_register_vcpu_syscall_cb(id, Some(syscall_trampoline)) };
}

/// `f(vcpu, number, return value)` runs at each system call's return. Once per process.
pub fn on_syscall_return(id: PluginId, f: fn(Vcpu<'_>, i64, i64)) {
    let _ = SYSCALL_RETURN.set(f);
    // SAFETY: as in `on_translate`.
    unsafe { sys::qemu_plugin_register_vcpu_syscall_ret_cb(id, Some(syscall_return_trampoline)) };
}

/// `f` runs when the guest exits, after QEMU stopped every other vCPU; it gets the exiting
/// thread's vCPU when that thread is one. Once per process.
pub fn on_exit(id: PluginId, f: fn(Option<Vcpu<'_>>)) {
    let _ = EXIT.set(f);
    // SAFETY: as in `on_translate`; no userdata.
    unsafe { sys::qemu_plugin_register_atexit_cb(id, Some(exit_trampoline), std::ptr::null_mut()) };
}

/// # Safety
/// Called by QEMU only, as the translation callback: `tb` is the block being translated.
unsafe extern "C" fn translate_trampoline(_id: PluginId, tb: *mut sys::qemu_plugin_tb) {
    if let Some(f) = TRANSLATE.get() {
        // SAFETY: per this function's contract.
        unsafe { super::tb::translation(tb, f) }
    }
}

/// # Safety
/// Called by QEMU only, as the vCPU init callback, on the new vCPU's thread.
unsafe extern "C" fn vcpu_init_trampoline(_id: PluginId, vcpu: c_uint) {
    let _gate = super::fork_gate::pass();
    THIS_VCPU.with(|v| v.set(Some(vcpu)));
    // SAFETY: per this function's contract.
    let vcpu = unsafe { Vcpu::enter(vcpu) };
    super::registers::vcpu_init(vcpu);
    if let Some(f) = VCPU_INIT.get() {
        f(vcpu);
    }
}

/// # Safety
/// Called by QEMU only, as the vCPU exit callback, on the exiting vCPU's thread.
unsafe extern "C" fn vcpu_exit_trampoline(_id: PluginId, vcpu: c_uint) {
    let Some(f) = VCPU_EXIT.get() else { return };
    // Never wait at the gate here (see `fork_gate`): a fork in progress takes the exit over.
    let _gate = loop {
        if let Some(passage) = super::fork_gate::try_pass() {
            break passage;
        }
        if super::fork_gate::defer_exit(vcpu) {
            return;
        }
    };
    // SAFETY: per this function's contract.
    f(unsafe { Vcpu::enter(vcpu) });
}

/// # Safety
/// Called by QEMU only, as the system call callback, on the calling vCPU's thread.
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn syscall_trampoline(
    _id: PluginId,
    vcpu: c_uint,
    num: i64,
    a1: u64,
    a2: u64,
    a3: u64,
    a4: u64,
    a5: u64,
    a6: u64,
    _a7: u64,
    _a8: u64,
) {
    let _gate = super::fork_gate::pass();
    if let Some(f) = SYSCALL.get() {
        // SAFETY: per this function's contract.
        f(unsafe { Vcpu::enter(vcpu) }, num, [a1, a2, a3, a4, a5, a6]);
    }
}

/// # Safety
/// Called by QEMU only, as the system call return callback, on the calling vCPU's thread.
unsafe extern "C" fn syscall_return_trampoline(_id: PluginId, vcpu: c_uint, num: i64, ret: i64) {
    let _gate = super::fork_gate::pass();
    if let Some(f) = SYSCALL_RETURN.get() {
        // SAFETY: per this function's contract.
        f(unsafe { Vcpu::enter(vcpu) }, num, ret);
    }
}

/// # Safety
/// Called by QEMU only, as the exit callback, on the exiting thread.
unsafe extern "C" fn exit_trampoline(_id: PluginId, _data: *mut c_void) {
    if let Some(f) = EXIT.get() {
        // SAFETY: per this function's contract; `THIS_VCPU` is set only on vCPU threads.
        f(this_vcpu().map(|vcpu| unsafe { Vcpu::enter(vcpu) }));
    }
}
