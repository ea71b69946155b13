//! Guest code as the vCPUs translated it: the answer to memory reads in system mode outside the
//! `symbols=` images (a script's `read-memory` runs on the analysis thread, where QEMU cannot
//! read a guest's virtual memory, and at exit no vCPU runs at all).
//!
//! Each translated block's bytes are kept under its start address; a read is answered when the
//! blocks cover every byte asked for (cov reads runs of executed blocks, which they do). Where
//! two address spaces put different code at one virtual address, the later translation wins.

use std::collections::BTreeMap;
use std::sync::Mutex;

static CODE: Mutex<BTreeMap<u64, Vec<u8>>> = Mutex::new(BTreeMap::new());

/// Remembers the bytes of a block translated at `start`.
pub fn record(start: u64, bytes: Vec<u8>) {
    CODE.lock().unwrap_or_else(|p| p.into_inner()).insert(start, bytes);
}

/// `len` bytes at `addr`, if translated blocks cover all of them.
pub fn read(addr: u64, len: usize) -> Option<Vec<u8>> {
    let end = addr.checked_add(len as u64)?;
    let code = CODE.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = vec![0u8; len];
    // Bytes filled so far: [addr, covered).
    let mut covered = addr;
    // Blocks are at most a few KiB: one that starts 64 KiB before `addr` cannot reach it.
    for (&start, bytes) in code.range(addr.saturating_sub(1 << 16)..end) {
        let block_end = start + bytes.len() as u64;
        if block_end <= covered || start > covered {
            if start > covered {
                break;
            }
            continue;
        }
        let from = covered.max(start);
        let to = block_end.min(end);
        out[(from - addr) as usize..(to - addr) as usize]
            .copy_from_slice(&bytes[(from - start) as usize..(to - start) as usize]);
        covered = to;
        if covered == end {
            return Some(out);
        }
    }
    (covered == end).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_runs_of_blocks_and_refuses_gaps() {
        record(0x1000, vec![1, 2, 3, 4]);
        record(0x1004, vec![5, 6]);
        record(0x1002, vec![3, 4, 5]);
        record(0x2000, vec![9]);
        assert_eq!(read(0x1001, 5), Some(vec![2, 3, 4, 5, 6]));
        assert_eq!(read(0x1000, 6), Some(vec![1, 2, 3, 4, 5, 6]));
        assert_eq!(read(0x1000, 7), None, "0x1006 was never translated");
        assert_eq!(read(0x1fff, 2), None);
        assert_eq!(read(0x2000, 1), Some(vec![9]));
        assert_eq!(read(0x2000, 0), Some(vec![]));
    }
}
