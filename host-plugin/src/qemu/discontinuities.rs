//! Discontinuities (QEMU 10.2's `qemu_plugin_register_vcpu_discon_cb`, backported by
//! qemu/patches/0012-*) and the privilege level of a block (`qemu_plugin_tb_privilege`, same
//! patch). Both are looked up by name at run time: a QEMU 10.2 has the first natively, and a
//! QEMU without either still runs the plugin.

use std::ffi::{c_int, c_uint, c_void};
use std::sync::OnceLock;

use qemu_plugin_sys as sys;

use super::Vcpu;
use super::extensions::lookup;

/// `enum qemu_plugin_discon_type`'s values.
const INTERRUPT: c_uint = 1;
const EXCEPTION: c_uint = 2;
const HOSTCALL: c_uint = 4;
const ALL: c_int = -1;

/// What made the vCPU leave its code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discontinuity {
    Interrupt,
    Exception,
    HostCall,
}

/// The handler: `(vcpu, kind, from_pc, to_pc)`.
pub type DiscontinuityHandler = fn(Vcpu<'_>, Discontinuity, u64, u64);

type DisconCallback = unsafe extern "C" fn(id: sys::qemu_plugin_id_t, vcpu: c_uint, kind: c_uint, from: u64, to: u64);
type RegisterDiscon = unsafe extern "C" fn(sys::qemu_plugin_id_t, c_int, DisconCallback);
type TbPrivilege = unsafe extern "C" fn(*const sys::qemu_plugin_tb) -> c_int;

static HANDLER: OnceLock<DiscontinuityHandler> = OnceLock::new();

/// # Safety
/// Called by QEMU only, as the discontinuity callback: on the vCPU's thread, outside signal
/// handlers (from the vCPU's interrupt delivery).
unsafe extern "C" fn trampoline(_id: sys::qemu_plugin_id_t, vcpu: c_uint, kind: c_uint, from: u64, to: u64) {
    let kind = match kind {
        INTERRUPT => Discontinuity::Interrupt,
        EXCEPTION => Discontinuity::Exception,
        HOSTCALL => Discontinuity::HostCall,
        _ => return,
    };
    if let Some(f) = HANDLER.get() {
        // SAFETY: QEMU calls it on the vCPU's own thread, inside its callback.
        f(unsafe { Vcpu::enter(vcpu) }, kind, from, to);
    }
}

/// Registers `f` for every interrupt, exception and host call; false when this QEMU has no
/// discontinuity callbacks.
pub fn register(id: sys::qemu_plugin_id_t, f: DiscontinuityHandler) -> bool {
    let Some(register) = lookup(c"qemu_plugin_register_vcpu_discon_cb") else { return false };
    let _ = HANDLER.set(f);
    // SAFETY: the symbol has this signature (QEMU 10.2's qemu-plugin.h, and our patch); the
    // callback is 'static.
    unsafe {
        let register = std::mem::transmute::<*mut c_void, RegisterDiscon>(register);
        register(id, ALL, trampoline);
    }
    true
}

fn tb_privilege_fn() -> Option<TbPrivilege> {
    static F: OnceLock<Option<TbPrivilege>> = OnceLock::new();
    // SAFETY: the symbol has this signature (qemu/patches/0012-*).
    *F.get_or_init(|| lookup(c"qemu_plugin_tb_privilege").map(|f| unsafe { std::mem::transmute(f) }))
}

/// The privilege level of the block being translated (see `block.privilege` in the WIT), if
/// QEMU says.
pub(super) fn tb_privilege(tb: *const sys::qemu_plugin_tb) -> Option<u8> {
    let f = tb_privilege_fn()?;
    // SAFETY: inside the translation callback that lent `tb`.
    let level = unsafe { f(tb) };
    u8::try_from(level).ok()
}
