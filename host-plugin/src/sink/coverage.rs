//! coverage.blocks: every code block the guest reached, whatever the script (`coverage=true`,
//! used by `cannonball run --corpus`). One line per block, `0xOFFSET SIZE MODULE`, offsets
//! relative to the module as in drcov; code outside any file-backed module is listed with its
//! address and the module `[anonymous]`.

use std::fmt::Write;

use super::{OutDir, report_name_for_child};
use crate::console;
use crate::services::modules::MODULES;

/// Writes coverage.blocks (coverage.<pid>.blocks in a forked child: `main_pid` is the run's
/// first process) from the reached blocks as (guest address, size).
pub fn write(out: &OutDir, reached: Vec<(u64, u64)>, main_pid: u32) {
    let mut lines: Vec<(String, u64, u64)> = reached
        .into_iter()
        .map(|(addr, size)| match MODULES.module_offset(addr) {
            Some((module, offset)) => (module, offset, size),
            None => ("[anonymous]".to_owned(), addr, size),
        })
        .collect();
    lines.sort();
    let mut text = String::new();
    for (module, offset, size) in lines {
        let _ = writeln!(text, "{offset:#x} {size} {module}");
    }
    let pid = std::process::id();
    let name =
        if pid == main_pid { "coverage.blocks".to_owned() } else { report_name_for_child("coverage.blocks", pid) };
    if let Err(err) = out.write_report(&name, text.as_bytes()) {
        console::error(&format!("cannot write {name}: {}", console::one_line(&err)));
    }
}
