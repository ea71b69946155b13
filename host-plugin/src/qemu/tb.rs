//! Handles of the block being translated and of its instructions, and the execution-time
//! instrumentation registered through them.
//!
//! QEMU's `qemu_plugin_tb` and `qemu_plugin_insn` pointers are valid only during the
//! translation callback. [`Tb`] and [`Insn`] carry a lifetime bound to that callback: the only
//! way to get one is the closure [`translation`] lends it to, so they cannot be kept.

use std::ffi::{CStr, c_uint, c_void};
use std::marker::PhantomData;
use std::ptr::NonNull;

use qemu_plugin_sys as sys;

use super::{AppendTarget, Counter, MemAccess, Vcpu};

pub use sys::qemu_plugin_mem_rw as MemRw;

/// The block QEMU is translating, valid for the translation callback `'a`.
#[derive(Clone, Copy)]
pub struct Tb<'a> {
    raw: NonNull<sys::qemu_plugin_tb>,
    _callback: PhantomData<&'a sys::qemu_plugin_tb>,
}

/// One instruction of a [`Tb`], valid for the same translation callback.
#[derive(Clone, Copy)]
pub struct Insn<'a> {
    raw: NonNull<sys::qemu_plugin_insn>,
    _callback: PhantomData<&'a sys::qemu_plugin_insn>,
}

/// Lends the block `raw` to `f` for the duration of the call.
///
/// # Safety
/// `raw` must be the block handle QEMU passed to the running translation callback.
#[inline]
pub(super) unsafe fn translation<R>(raw: *mut sys::qemu_plugin_tb, f: impl FnOnce(Tb<'_>) -> R) -> R {
    let raw = NonNull::new(raw).expect("QEMU passed no translation block");
    f(Tb { raw, _callback: PhantomData })
}

/// A callback per execution of a block: `on_exec(vcpu, userdata)`.
pub trait ExecCallback {
    fn on_exec(vcpu: Vcpu<'_>, userdata: usize);
}

/// A callback per memory access of an instruction: `on_access(vcpu, access, vaddr, userdata)`.
pub trait MemCallback {
    fn on_access(vcpu: Vcpu<'_>, access: MemAccess<'_>, vaddr: u64, userdata: usize);
}

/// # Safety
/// Called by QEMU only, as the exec callback registered in [`Tb::register_exec_cb`].
unsafe extern "C" fn exec_trampoline<C: ExecCallback>(vcpu: c_uint, userdata: *mut c_void) {
    // SAFETY: QEMU runs exec callbacks on the executing vCPU's thread, outside signal handlers.
    C::on_exec(unsafe { Vcpu::enter(vcpu) }, userdata as usize)
}

/// # Safety
/// Called by QEMU only, as the memory callback registered in [`Insn::register_mem_cb`].
unsafe extern "C" fn mem_trampoline<C: MemCallback>(
    vcpu: c_uint,
    info: sys::qemu_plugin_meminfo_t,
    vaddr: u64,
    userdata: *mut c_void,
) {
    // SAFETY: QEMU runs memory callbacks on the accessing vCPU's thread, outside signal
    // handlers, right after the access `info` describes.
    let (vcpu, access) = unsafe { (Vcpu::enter(vcpu), MemAccess::enter(info)) };
    C::on_access(vcpu, access, vaddr, userdata as usize)
}

impl<'a> Tb<'a> {
    /// Number of instructions (at least 1).
    #[inline]
    pub fn n_insns(self) -> usize {
        // SAFETY: a valid block handle during the translation callback (the type's invariant).
        unsafe { sys::qemu_plugin_tb_n_insns(self.raw.as_ptr()) }
    }

    /// Guest virtual address of the first instruction.
    #[inline]
    pub fn vaddr(self) -> u64 {
        // SAFETY: as in `n_insns`.
        unsafe { sys::qemu_plugin_tb_vaddr(self.raw.as_ptr()) }
    }

    /// The privilege level all of the block's executions run at (`block.privilege`), where
    /// QEMU says (qemu/patches/0012-*).
    pub fn privilege(self) -> Option<u8> {
        super::discontinuities::tb_privilege(self.raw.as_ptr())
    }

    /// `len` bytes of guest virtual memory at `addr` as the translating vCPU sees them (QEMU
    /// translates on the vCPU's thread), or None where they are not mapped.
    pub fn read_memory(self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let array = super::ByteArray::new();
        // SAFETY: the translation callback runs on the translating vCPU's thread, which is what
        // the read needs; the array is ours and QEMU sizes it on success.
        if !unsafe { sys::qemu_plugin_read_memory_vaddr(addr, array.as_ptr(), len) } {
            return None;
        }
        let bytes = array.bytes();
        (bytes.len() >= len).then(|| bytes[..len].to_vec())
    }

    /// Instruction `i`; panics unless `i < n_insns()`.
    #[inline]
    pub fn insn(self, i: usize) -> Insn<'a> {
        assert!(i < self.n_insns(), "instruction {i} of a block of {}", self.n_insns());
        // SAFETY: as in `n_insns`, and `i` is in range.
        let raw = unsafe { sys::qemu_plugin_tb_get_insn(self.raw.as_ptr(), i) };
        Insn { raw: NonNull::new(raw).expect("QEMU returned no instruction"), _callback: PhantomData }
    }

    /// The block's instructions in order.
    #[inline]
    pub fn insns(self) -> impl Iterator<Item = Insn<'a>> {
        (0..self.n_insns()).map(move |i| self.insn(i))
    }

    /// [start_code, end_code) of the main binary. Needs a running vCPU, as in this callback.
    pub fn main_binary_code(self) -> (u64, u64) {
        // SAFETY: plain queries; the translation callback runs on a vCPU.
        unsafe { (sys::qemu_plugin_start_code(), sys::qemu_plugin_end_code()) }
    }

    /// Adds `n` to the executing vCPU's `counter` at each execution of the block, inline.
    #[inline]
    pub fn add_inline(self, counter: Counter, n: u64) {
        // SAFETY: as in `n_insns`; the counter's scoreboard is never freed.
        unsafe {
            sys::qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(
                self.raw.as_ptr(),
                sys::qemu_plugin_op::QEMU_PLUGIN_INLINE_ADD_U64,
                counter.raw(),
                n,
            )
        }
    }

    /// Appends `word` to the executing vCPU's array in `target` at each execution of the
    /// block, in generated code (cannonball extensions version 2; false without them).
    #[inline]
    pub fn append(self, target: &AppendTarget, word: u64) -> bool {
        let Some(api) = super::extensions::appends() else { return false };
        // SAFETY: as in `n_insns`; the target's scoreboard is never freed.
        unsafe { (api.tb_append)(self.raw.as_ptr(), target.entry(), word) };
        true
    }

    /// Calls `C::on_exec` with `userdata` at each execution of the block at which `counter`
    /// of the executing vCPU is at least `at_least` (a compare and a branch in generated
    /// code; no register access). Operations run in the order they were registered.
    #[inline]
    pub fn register_exec_cb_if_at_least<C: ExecCallback>(self, counter: Counter, at_least: u64, userdata: usize) {
        // SAFETY: as in `n_insns`; the trampoline has the signature QEMU calls, the counter's
        // scoreboard is never freed.
        unsafe {
            sys::qemu_plugin_register_vcpu_tb_exec_cond_cb(
                self.raw.as_ptr(),
                Some(exec_trampoline::<C>),
                sys::qemu_plugin_cb_flags::QEMU_PLUGIN_CB_NO_REGS,
                sys::qemu_plugin_cond::QEMU_PLUGIN_COND_GE,
                counter.raw(),
                at_least,
                userdata as *mut c_void,
            )
        }
    }

    /// Calls `C::on_exec` with `userdata` at each execution of the block (no register access).
    #[inline]
    pub fn register_exec_cb<C: ExecCallback>(self, userdata: usize) {
        // SAFETY: as in `n_insns`; the trampoline has the signature QEMU calls.
        unsafe {
            sys::qemu_plugin_register_vcpu_tb_exec_cb(
                self.raw.as_ptr(),
                Some(exec_trampoline::<C>),
                sys::qemu_plugin_cb_flags::QEMU_PLUGIN_CB_NO_REGS,
                userdata as *mut c_void,
            )
        }
    }
}

impl Insn<'_> {
    /// Size in bytes.
    #[inline]
    pub fn size(self) -> usize {
        // SAFETY: a valid instruction handle during the translation callback.
        unsafe { sys::qemu_plugin_insn_size(self.raw.as_ptr()) }
    }

    /// Guest virtual address.
    #[inline]
    pub fn vaddr(self) -> u64 {
        // SAFETY: as in `size`.
        unsafe { sys::qemu_plugin_insn_vaddr(self.raw.as_ptr()) }
    }

    /// Host address of the instruction's bytes (user mode: guest memory is mapped in QEMU).
    #[inline]
    pub fn haddr(self) -> u64 {
        // SAFETY: as in `size`.
        unsafe { sys::qemu_plugin_insn_haddr(self.raw.as_ptr()) as u64 }
    }

    /// Appends the instruction's bytes to `out`.
    pub fn append_bytes(self, out: &mut Vec<u8>) {
        let size = self.size();
        let start = out.len();
        out.resize(start + size, 0);
        // SAFETY: as in `size`; the destination holds `size` bytes.
        let copied = unsafe { sys::qemu_plugin_insn_data(self.raw.as_ptr(), out[start..].as_mut_ptr().cast(), size) };
        debug_assert_eq!(copied, size);
    }

    /// QEMU's disassembly of the instruction ("" if it has none).
    pub fn disas(self) -> String {
        // SAFETY: as in `size`; QEMU returns a string we own, allocated with g_malloc.
        unsafe { owned_c_string(sys::qemu_plugin_insn_disas(self.raw.as_ptr())) }
    }

    /// The symbol the instruction belongs to, best effort.
    pub fn symbol(self) -> Option<String> {
        // SAFETY: as in `size`; QEMU returns NULL or a static C string.
        unsafe {
            let sym = sys::qemu_plugin_insn_symbol(self.raw.as_ptr());
            (!sym.is_null()).then(|| CStr::from_ptr(sym).to_string_lossy().into_owned())
        }
    }

    /// Adds `n` to the executing vCPU's `counter` at each access of kind `rw`, inline.
    #[inline]
    pub fn add_mem_inline(self, rw: MemRw, counter: Counter, n: u64) {
        // SAFETY: as in `size`; the counter's scoreboard is never freed.
        unsafe {
            sys::qemu_plugin_register_vcpu_mem_inline_per_vcpu(
                self.raw.as_ptr(),
                rw,
                sys::qemu_plugin_op::QEMU_PLUGIN_INLINE_ADD_U64,
                counter.raw(),
                n,
            )
        }
    }

    /// At each memory access, appends `(word | meminfo << 32, address[, value])` to the
    /// executing vCPU's array in `target`, in generated code (cannonball extensions version
    /// 2; false without them).
    #[inline]
    pub fn append_mem(self, rw: MemRw, target: &AppendTarget, word: u32, with_value: bool) -> bool {
        let Some(api) = super::extensions::appends() else { return false };
        // SAFETY: as in `size`; the target's scoreboard is never freed.
        unsafe { (api.mem_append)(self.raw.as_ptr(), rw, target.entry(), word, with_value) };
        true
    }

    /// How many memory accesses the instruction's generated code makes per execution, at
    /// most (helpers' accesses not counted); 0 without the extensions' version 2.
    #[inline]
    pub fn inline_mem_accesses(self) -> usize {
        let Some(api) = super::extensions::appends() else { return 0 };
        // SAFETY: as in `size`.
        unsafe { (api.inline_mem_accesses)(self.raw.as_ptr()) }
    }

    /// Calls `C::on_exec` with `userdata` before each execution of this instruction, with the
    /// guest's registers readable (`Vcpu::read_register`): QEMU writes them back to the CPU
    /// state before the call.
    #[inline]
    pub fn register_exec_cb_reading_registers<C: ExecCallback>(self, userdata: usize) {
        // SAFETY: as in `size`; the trampoline has the signature QEMU calls.
        unsafe {
            sys::qemu_plugin_register_vcpu_insn_exec_cb(
                self.raw.as_ptr(),
                Some(exec_trampoline::<C>),
                sys::qemu_plugin_cb_flags::QEMU_PLUGIN_CB_R_REGS,
                userdata as *mut c_void,
            )
        }
    }

    /// Calls `C::on_access` with `userdata` at each memory access of kind `rw` (no register
    /// access).
    #[inline]
    pub fn register_mem_cb<C: MemCallback>(self, rw: MemRw, userdata: usize) {
        // SAFETY: as in `size`; the trampoline has the signature QEMU calls.
        unsafe {
            sys::qemu_plugin_register_vcpu_mem_cb(
                self.raw.as_ptr(),
                Some(mem_trampoline::<C>),
                sys::qemu_plugin_cb_flags::QEMU_PLUGIN_CB_NO_REGS,
                rw,
                userdata as *mut c_void,
            )
        }
    }
}

/// Takes ownership of a string QEMU allocated with g_malloc (glib's allocator is malloc).
///
/// # Safety
/// `ptr` is NULL or a C string allocated with g_malloc that nobody else frees.
unsafe fn owned_c_string(ptr: *mut std::ffi::c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: per this function's contract.
    let text = unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned();
    // SAFETY: per this function's contract, freed once.
    unsafe { libc::free(ptr.cast()) };
    text
}
