//! The store state for running a script outside QEMU (`inspect`, the merge step): WASI that
//! grants nothing — no files, no network, no environment.

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl Sandbox {
    pub fn new() -> Self {
        Self { wasi: WasiCtx::builder().build(), table: ResourceTable::new() }
    }
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// wasmtime 48's errors are not `anyhow::Error`s: converted at the boundary, with their causes
/// on one line.
pub trait OrAnyhow<T> {
    fn or_anyhow(self) -> anyhow::Result<T>;
}

impl<T> OrAnyhow<T> for wasmtime::Result<T> {
    fn or_anyhow(self) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::anyhow!("{e:#}"))
    }
}
