//! The QEMU plugin API, behind safe wrappers: unsafe code in one room.
//!
//! Everything that calls into QEMU's raw plugin C API (`qemu-plugin-sys`) lives in this module,
//! one concern per file. The rest of the plugin (`capture`, `plugin`, ...) is safe code that
//! works with handles whose types carry the API's rules:
//!
//! - [`Tb`] and [`Insn`] (`tb.rs`) exist only inside the translation callback: they are lent to a
//!   closure and cannot outlive it. Exec callbacks, inline operations and memory callbacks are
//!   registered through them.
//! - [`Vcpu`] (`callbacks.rs`) is the proof that code runs on a vCPU's own thread inside a QEMU
//!   callback for it; only this module's trampolines create one. Reading guest memory
//!   ([`GuestMemory`], `memory.rs`), the PC (`registers.rs`) and a memory access's value
//!   ([`MemAccess`], `mem_info.rs`) need it.
//! - [`Scoreboard`] and [`Counter`] (`scoreboard.rs`): per-vCPU u64 counters that inline
//!   operations add to.
//! - `extensions`: the cannonball additions to the API, looked up with dlsym.
//!
//! We use the raw bindings rather than the high-level `qemu-plugin` crate on purpose: its
//! install entry point panics on argument errors and its closure callbacks are dispatched
//! through one global mutex, which serialises vCPU threads on the hot path. The wrappers here
//! are `#[inline]` and add no work on the execution path: exec and memory callbacks are
//! monomorphised trampolines that call the safe callback directly.

mod appends;
mod callbacks;
mod discontinuities;
pub mod extensions;
pub mod fork_gate;
mod mem_info;
mod memory;
mod registers;
mod scoreboard;
mod tb;

pub use appends::{AppendTarget, DrainRight};
pub use callbacks::{
    PluginId, Vcpu, on_exit, on_syscall, on_syscall_return, on_translate, on_vcpu_exit, on_vcpu_init, this_vcpu,
};
pub use discontinuities::{Discontinuity, register as on_discontinuity};
pub use mem_info::{MemAccess, pack_mem_info};
pub use memory::GuestMemory;
pub use registers::{Register, register, register_names};
pub use scoreboard::{Counter, Scoreboard};
pub use tb::{ExecCallback, Insn, MemCallback, MemRw, Tb};

use std::ffi::{CStr, c_char, c_int};

/// Upper bound on simultaneously existing vCPU indices (guest threads alive at once): the size
/// of every per-vCPU table, ours (`buffer`, `capture`) and this module's (`fork_gate`).
pub const MAX_VCPUS: usize = 4096;

use qemu_plugin_sys as sys;

/// The plugin arguments QEMU passes, as `key=value` strings.
///
/// # Safety
/// `argv` must hold `argc` valid C strings.
pub unsafe fn plugin_args(argc: c_int, argv: *const *const c_char) -> Vec<String> {
    (0..argc.max(0) as usize)
        // SAFETY: per this function's contract, `argv[i]` is a valid C string for i < argc.
        .map(|i| unsafe { CStr::from_ptr(*argv.add(i)) }.to_string_lossy().into_owned())
        .collect()
}

/// QEMU's target name ("x86_64", "aarch64", ...).
///
/// # Safety
/// `info` must be the pointer QEMU passed to `qemu_plugin_install`.
pub unsafe fn target_name(info: *const sys::qemu_info_t) -> String {
    // SAFETY: per this function's contract `info` is valid, and QEMU sets `target_name` to a
    // static C string.
    unsafe { CStr::from_ptr((*info).target_name) }.to_string_lossy().into_owned()
}

/// Whether this QEMU is a system emulator (`qemu-system-*`: the guest's CPUs are the vCPUs,
/// there are no system calls and no host-visible module map) rather than a user-mode one.
///
/// # Safety
/// `info` must be the pointer QEMU passed to `qemu_plugin_install`.
pub unsafe fn system_emulation(info: *const sys::qemu_info_t) -> bool {
    // SAFETY: per this function's contract `info` is valid.
    unsafe { (*info).system_emulation }
}

/// Number of vCPUs QEMU has created so far (in user mode: the most guest threads alive at once).
pub fn num_vcpus() -> u32 {
    // SAFETY: no preconditions.
    unsafe { sys::qemu_plugin_num_vcpus() }.max(0) as u32
}

unsafe extern "C" {
    // glib, provided by the QEMU process.
    fn g_byte_array_new() -> *mut sys::GByteArray;
    fn g_byte_array_free(array: *mut sys::GByteArray, free_segment: bool) -> *mut u8;
    fn g_byte_array_set_size(array: *mut sys::GByteArray, length: std::ffi::c_uint) -> *mut sys::GByteArray;
    fn g_array_free(array: *mut sys::GArray, free_segment: bool) -> *mut c_char;
}

/// A glib byte array owned by us, for the API calls that fill one (`qemu_plugin_read_*`).
/// The qemu-plugin crate's wrapper passes a GByteArray built on the stack, which QEMU resizes
/// with glib: it crashes. A real glib array works.
struct ByteArray(std::ptr::NonNull<sys::GByteArray>);

impl ByteArray {
    fn new() -> Self {
        // SAFETY: plain glib allocation; it never returns NULL (glib aborts instead).
        Self(std::ptr::NonNull::new(unsafe { g_byte_array_new() }).expect("g_byte_array_new"))
    }

    fn as_ptr(&self) -> *mut sys::GByteArray {
        self.0.as_ptr()
    }

    /// Empties the array (QEMU's register reads append to it).
    fn clear(&self) {
        // SAFETY: the array is ours and alive.
        unsafe { g_byte_array_set_size(self.as_ptr(), 0) };
    }

    /// The array's current contents.
    fn bytes(&self) -> &[u8] {
        // SAFETY: the array is ours and alive; glib keeps `data` valid for `len` bytes (and
        // `data` may be NULL only when `len` is 0).
        unsafe {
            let a = self.0.as_ref();
            if a.len == 0 || a.data.is_null() {
                return &[];
            }
            std::slice::from_raw_parts(a.data, a.len as usize)
        }
    }
}

impl Drop for ByteArray {
    fn drop(&mut self) {
        // SAFETY: the array is ours and freed once, with its data.
        unsafe { g_byte_array_free(self.as_ptr(), true) };
    }
}
