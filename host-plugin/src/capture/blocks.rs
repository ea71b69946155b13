//! Block ids and static facts, recorded once per translation.
//!
//! Every translation gets a new id (QEMU may translate an address again after a flush). The
//! facts are kept for the whole run: the analysis thread delivers the ones the script has not
//! seen yet before each event message, and the child of a fork, whose script starts afresh,
//! gets them all again.

use std::ffi::CStr;
use std::sync::Mutex;

use qemu_plugin_sys as sys;

use crate::events::Block;

pub struct BlockRegistry {
    with_disassembly: bool,
    state: Mutex<State>,
}

struct State {
    blocks: Vec<Block>,
    /// How many of `blocks` the current script instance has received.
    delivered: usize,
}

impl BlockRegistry {
    pub fn new(with_disassembly: bool) -> Self {
        Self { with_disassembly, state: Mutex::new(State { blocks: Vec::new(), delivered: 0 }) }
    }

    /// Records the facts of a block being translated and returns its id.
    ///
    /// # Safety
    /// `tb` must be the block handle of the current translation callback.
    pub unsafe fn register(&self, tb: *mut sys::qemu_plugin_tb) -> u32 {
        let block = unsafe { self.facts(tb) };
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let id = state.blocks.len() as u32;
        state.blocks.push(Block { id, ..block });
        id
    }

    unsafe fn facts(&self, tb: *mut sys::qemu_plugin_tb) -> Block {
        unsafe {
            let n = sys::qemu_plugin_tb_n_insns(tb);
            let mut insn_sizes = Vec::with_capacity(n);
            let mut insn_bytes = Vec::new();
            let mut disassembly = Vec::new();
            let mut symbol = None;
            for i in 0..n {
                let insn = sys::qemu_plugin_tb_get_insn(tb, i);
                let size = sys::qemu_plugin_insn_size(insn);
                insn_sizes.push(size as u8);
                let start = insn_bytes.len();
                insn_bytes.resize(start + size, 0);
                sys::qemu_plugin_insn_data(insn, insn_bytes[start..].as_mut_ptr().cast(), size);
                if self.with_disassembly {
                    disassembly.push(owned_c_string(sys::qemu_plugin_insn_disas(insn)));
                }
                if i == 0 {
                    let sym = sys::qemu_plugin_insn_symbol(insn);
                    if !sym.is_null() {
                        symbol = Some(CStr::from_ptr(sym).to_string_lossy().into_owned());
                    }
                }
            }
            Block { id: 0, vaddr: sys::qemu_plugin_tb_vaddr(tb), insn_sizes, insn_bytes, disassembly, symbol }
        }
    }

    /// The blocks the script has not received yet, marking them delivered.
    pub fn take_undelivered(&self) -> Vec<Block> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let from = state.delivered;
        state.delivered = state.blocks.len();
        state.blocks[from..].to_vec()
    }

    /// Makes every block undelivered again (a fresh script instance in a forked child).
    pub fn redeliver_all(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).delivered = 0;
    }

    /// Start address and instruction sizes of block `id`.
    pub fn shape(&self, id: u32) -> Option<(u64, Vec<u8>)> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.blocks.get(id as usize).map(|b| (b.vaddr, b.insn_sizes.clone()))
    }

    /// Instruction count of every block, by id.
    pub fn insn_counts(&self) -> Vec<u32> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.blocks.iter().map(|b| b.insn_sizes.len() as u32).collect()
    }

    pub fn count(&self) -> u32 {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).blocks.len() as u32
    }
}

/// Takes ownership of a string QEMU allocated with g_malloc (glib's allocator is malloc).
unsafe fn owned_c_string(ptr: *mut std::ffi::c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    let text = unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned();
    unsafe { libc::free(ptr.cast()) };
    text
}
