//! Memory access descriptions (`qemu_plugin_meminfo_t`) and accessed values.

use std::marker::PhantomData;

use qemu_plugin_sys as sys;

/// The access a memory callback reports, valid during that callback `'a`.
#[derive(Clone, Copy)]
pub struct MemAccess<'a> {
    info: sys::qemu_plugin_meminfo_t,
    _callback: PhantomData<&'a ()>,
    _not_send: PhantomData<*const ()>,
}

impl MemAccess<'_> {
    /// # Safety
    /// Inside the memory callback QEMU passed `info` to, on its vCPU's thread; the value
    /// must not outlive that callback.
    #[inline(always)]
    pub(super) unsafe fn enter(info: sys::qemu_plugin_meminfo_t) -> Self {
        Self { info, _callback: PhantomData, _not_send: PhantomData }
    }

    /// QEMU's description of the access (size, direction, sign, endianness), see
    /// [`pack_mem_info`].
    #[inline(always)]
    pub fn info(self) -> u32 {
        self.info
    }

    /// The value loaded or stored (the low 64 bits of a 128-bit access).
    #[inline]
    pub fn value(self) -> u64 {
        use sys::qemu_plugin_mem_value_type::*;
        // SAFETY: inside the memory callback (the type's invariant), where QEMU holds the
        // access's value; the union member read matches `type_`.
        unsafe {
            let v = sys::qemu_plugin_mem_get_value(self.info);
            match v.type_ {
                QEMU_PLUGIN_MEM_VALUE_U8 => v.data.u8_ as u64,
                QEMU_PLUGIN_MEM_VALUE_U16 => v.data.u16_ as u64,
                QEMU_PLUGIN_MEM_VALUE_U32 => v.data.u32_ as u64,
                QEMU_PLUGIN_MEM_VALUE_U64 => v.data.u64_,
                QEMU_PLUGIN_MEM_VALUE_U128 => v.data.u128_.low,
            }
        }
    }
}

impl MemAccess<'_> {
    /// Under a system emulator: the physical address the access at `vaddr` went to, and the
    /// name of the device when it was I/O (a string QEMU interned: it lives as long as the
    /// process, so its address identifies the device). None in user mode.
    #[inline]
    pub fn physical(self, vaddr: u64) -> Option<(u64, Option<&'static std::ffi::CStr>)> {
        // SAFETY: inside the memory callback (the type's invariant), where QEMU's TLB still
        // holds the access's entry; the name is interned by QEMU (g_intern_string).
        unsafe {
            let hw = sys::qemu_plugin_get_hwaddr(self.info, vaddr);
            if hw.is_null() {
                return None;
            }
            let phys = sys::qemu_plugin_hwaddr_phys_addr(hw);
            if !sys::qemu_plugin_hwaddr_is_io(hw) {
                return Some((phys, None));
            }
            let name = sys::qemu_plugin_hwaddr_device_name(hw);
            Some((phys, (!name.is_null()).then(|| std::ffi::CStr::from_ptr(name))))
        }
    }
}

/// Packs QEMU's access description into `event-batch.mem-info` (see wit/types.wit). Four
/// API calls: the buffer caches the result per distinct `info` value.
pub fn pack_mem_info(info: u32) -> u8 {
    // SAFETY: pure decoding functions of the plugin API (bit fields of `info`), valid for any
    // value.
    unsafe {
        let shift = sys::qemu_plugin_mem_size_shift(info) as u8 & 0x7;
        let store = (sys::qemu_plugin_mem_is_store(info) as u8) << 3;
        let sign = (sys::qemu_plugin_mem_is_sign_extended(info) as u8) << 4;
        let big = (sys::qemu_plugin_mem_is_big_endian(info) as u8) << 5;
        shift | store | sign | big
    }
}
