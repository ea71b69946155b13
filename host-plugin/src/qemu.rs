//! Small safe wrappers over the raw QEMU plugin API (`qemu-plugin-sys`).
//!
//! We use the raw bindings rather than the high-level `qemu-plugin` crate on purpose: its
//! install entry point panics on argument errors and its closure callbacks are dispatched
//! through one global mutex, which serialises vCPU threads on the hot path.

use std::ffi::{CStr, c_char, c_int};

use qemu_plugin_sys as sys;

/// The plugin arguments QEMU passes, as `key=value` strings.
///
/// # Safety
/// `argv` must hold `argc` valid C strings.
pub unsafe fn plugin_args(argc: c_int, argv: *const *const c_char) -> Vec<String> {
    (0..argc.max(0) as usize).map(|i| unsafe { CStr::from_ptr(*argv.add(i)) }.to_string_lossy().into_owned()).collect()
}

/// QEMU's target name ("x86_64", "aarch64", ...).
///
/// # Safety
/// `info` must be the pointer QEMU passed to `qemu_plugin_install`.
pub unsafe fn target_name(info: *const sys::qemu_info_t) -> String {
    unsafe { CStr::from_ptr((*info).target_name) }.to_string_lossy().into_owned()
}

/// A per-vCPU array of `u64` counters that QEMU inline operations add to without callbacks.
/// QEMU grows it as vCPUs (guest threads) appear.
pub struct U64Scoreboard {
    entry: sys::qemu_plugin_u64,
}

// SAFETY: the scoreboard is owned by QEMU, which synchronises its growth; we only read it when
// no vCPU runs (at exit) and hand the pointer to QEMU's inline ops.
unsafe impl Send for U64Scoreboard {}
unsafe impl Sync for U64Scoreboard {}

impl U64Scoreboard {
    pub fn new() -> Self {
        // SAFETY: plain allocation call of the plugin API.
        let score = unsafe { sys::qemu_plugin_scoreboard_new(std::mem::size_of::<u64>()) };
        Self { entry: sys::qemu_plugin_u64 { score, offset: 0 } }
    }

    /// The handle QEMU's inline operations take.
    pub fn entry(&self) -> sys::qemu_plugin_u64 {
        self.entry
    }

    pub fn get(&self, vcpu: u32) -> u64 {
        // SAFETY: the scoreboard lives until the process ends.
        unsafe { sys::qemu_plugin_u64_get(self.entry, vcpu) }
    }

    pub fn set(&self, vcpu: u32, value: u64) {
        // SAFETY: as for `get`.
        unsafe { sys::qemu_plugin_u64_set(self.entry, vcpu, value) }
    }
}

impl Default for U64Scoreboard {
    fn default() -> Self {
        Self::new()
    }
}

/// Number of vCPUs QEMU has created so far (in user mode: the most guest threads alive at once).
pub fn num_vcpus() -> u32 {
    // SAFETY: no preconditions.
    unsafe { sys::qemu_plugin_num_vcpus() }.max(0) as u32
}

impl U64Scoreboard {
    /// (vCPU index, value) for every vCPU QEMU has created.
    pub fn per_vcpu(&self) -> Vec<(u32, u64)> {
        (0..num_vcpus()).map(|vcpu| (vcpu, self.get(vcpu))).collect()
    }

    pub fn sum(&self) -> u64 {
        // SAFETY: the scoreboard lives until the process ends.
        unsafe { sys::qemu_plugin_u64_sum(self.entry) }
    }

    pub fn reset_all(&self) {
        for vcpu in 0..num_vcpus() {
            self.set(vcpu, 0);
        }
    }
}

/// A scoreboard entry at `offset` bytes into each vCPU's element of `score`.
pub fn scoreboard_entry(score: *mut sys::qemu_plugin_scoreboard, offset: usize) -> sys::qemu_plugin_u64 {
    sys::qemu_plugin_u64 { score, offset }
}

/// The cannonball extensions of the plugin API (qemu/patches/0002-*), looked up at run time so
/// that the plugin also runs on a QEMU without them.
pub mod extensions {
    use std::ffi::{CStr, c_int, c_uint, c_void};
    use std::sync::OnceLock;

    use qemu_plugin_sys as sys;

    /// `qemu_plugin_vcpu_tb_cut_cb_t`: a block execution ended early.
    pub type TbCutCallback =
        unsafe extern "C" fn(id: sys::qemu_plugin_id_t, vcpu: c_uint, pc: u64, executed: u32, n_insns: u32);

    struct Api {
        register_tb_cut: unsafe extern "C" fn(sys::qemu_plugin_id_t, TbCutCallback),
        user_exit_status: unsafe extern "C" fn(*mut c_int) -> c_int,
    }

    fn lookup(name: &CStr) -> Option<*mut c_void> {
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
            if unsafe { version() } < 1 {
                return None;
            }
            // SAFETY: version 1 defines both functions with these signatures (qemu-plugin.h).
            unsafe {
                Some(Api {
                    register_tb_cut: std::mem::transmute::<*mut c_void, _>(lookup(
                        c"qemu_plugin_register_vcpu_tb_cut_cb",
                    )?),
                    user_exit_status: std::mem::transmute::<*mut c_void, _>(lookup(c"qemu_plugin_user_exit_status")?),
                })
            }
        })
        .as_ref()
    }

    /// True when this QEMU has the extensions.
    pub fn available() -> bool {
        api().is_some()
    }

    /// Registers `cb` for block cuts; false without the extensions.
    pub fn register_tb_cut(id: sys::qemu_plugin_id_t, cb: TbCutCallback) -> bool {
        let Some(api) = api() else { return false };
        // SAFETY: a 'static callback with the documented signature.
        unsafe { (api.register_tb_cut)(id, cb) };
        true
    }

    /// How the guest process ends: `(status, signal)` as `qemu_plugin_user_exit_status`
    /// reports them (status 128 + signal when a signal ends it), from the exit callback.
    pub fn user_exit_status() -> Option<(i32, u32)> {
        let api = api()?;
        let mut signal: c_int = 0;
        // SAFETY: a plain query with a valid out pointer.
        let status = unsafe { (api.user_exit_status)(&mut signal) };
        (status >= 0).then_some((status, signal.max(0) as u32))
    }
}
