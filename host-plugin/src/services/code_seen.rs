//! Guest code as the vCPUs saw it when translating: the answer to memory reads in system mode
//! outside the `symbols=` images (a script's `read-memory` runs on the analysis thread, where
//! QEMU cannot read a guest's virtual memory, and at exit no vCPU runs at all).
//!
//! Two layers: each page that code was translated from, copied when its first block was
//! translated (so that a function can be read whole although only part of it ran), and each
//! translated block's own bytes, newer, laid over the pages (code that changed since). A read
//! is answered when the two cover every byte asked for. Where two address spaces put different
//! code at one virtual address, the later translation wins.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Pages are copied in units of this size (the smallest page of every target we build).
pub const PAGE: u64 = 4096;

struct Seen {
    pages: HashMap<u64, Box<[u8]>>,
    blocks: BTreeMap<u64, Vec<u8>>,
}

static SEEN: Mutex<Option<Seen>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut Seen) -> R) -> R {
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    f(seen.get_or_insert_with(|| Seen { pages: HashMap::new(), blocks: BTreeMap::new() }))
}

/// Remembers the bytes of a block translated at `start`.
pub fn record(start: u64, bytes: Vec<u8>) {
    with(|s| s.blocks.insert(start, bytes));
}

/// Whether the page at `page` (a multiple of [`PAGE`]) has been copied.
pub fn has_page(page: u64) -> bool {
    with(|s| s.pages.contains_key(&page))
}

/// Keeps a copy of the page at `page`.
pub fn record_page(page: u64, bytes: Vec<u8>) {
    with(|s| s.pages.insert(page, bytes.into_boxed_slice()));
}

/// `len` bytes at `addr`, if pages and blocks cover all of them.
pub fn read(addr: u64, len: usize) -> Option<Vec<u8>> {
    let end = addr.checked_add(len as u64)?;
    with(|s| {
        let mut out = vec![0u8; len];
        let mut known = vec![false; len];
        let mut page = addr & !(PAGE - 1);
        while page < end {
            if let Some(bytes) = s.pages.get(&page) {
                let (from, to) = (page.max(addr), (page + PAGE).min(end));
                out[(from - addr) as usize..(to - addr) as usize]
                    .copy_from_slice(&bytes[(from - page) as usize..(to - page) as usize]);
                known[(from - addr) as usize..(to - addr) as usize].fill(true);
            }
            page += PAGE;
        }
        // Blocks are at most a few KiB: one that starts 64 KiB before `addr` cannot reach it.
        for (&start, bytes) in s.blocks.range(addr.saturating_sub(1 << 16)..end) {
            let block_end = start + bytes.len() as u64;
            if block_end <= addr {
                continue;
            }
            let (from, to) = (start.max(addr), block_end.min(end));
            out[(from - addr) as usize..(to - addr) as usize]
                .copy_from_slice(&bytes[(from - start) as usize..(to - start) as usize]);
            known[(from - addr) as usize..(to - addr) as usize].fill(true);
        }
        known.iter().all(|&k| k).then_some(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_lie_over_pages_and_gaps_are_refused() {
        record(0x1000, vec![1, 2, 3, 4]);
        record(0x1004, vec![5, 6]);
        record(0x1002, vec![3, 4, 5]);
        record(0x2000, vec![9]);
        assert_eq!(read(0x1001, 5), Some(vec![2, 3, 4, 5, 6]));
        assert_eq!(read(0x1000, 7), None, "0x1006 was never translated");
        assert_eq!(read(0x2000, 0), Some(vec![]));
        record_page(0x8000, vec![7; PAGE as usize]);
        record(0x8010, vec![1, 2]);
        assert!(has_page(0x8000) && !has_page(0x9000));
        assert_eq!(read(0x800e, 5), Some(vec![7, 7, 1, 2, 7]), "the newer block over the page");
        assert_eq!(read(0x8ffe, 4), None, "the next page was never seen");
    }
}
