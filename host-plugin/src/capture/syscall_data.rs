//! The strings and buffers of system call arguments (`syscall-data`), read from guest memory
//! in the vCPU's own syscall callbacks: at entry for what the call reads (paths, argv, data
//! written), at return for what it wrote (data read, readlink's target). Later the guest may
//! have reused the memory, so nothing is read lazily.
//!
//! Which argument of which call holds what comes from `syscall_table.rs`, generated from the
//! kernel headers by `tools/syscalls/gen.mjs`. Only scripts subscribed to
//! `syscall-data` get a table; for others no guest memory is read.

pub use super::syscall_arch::{Arch, Arg};
use crate::events::Blobs;

/// Most bytes kept of a string: PATH_MAX, so that every valid path arrives whole.
pub const STRING_CAP: usize = 4096;
/// Most bytes kept of a data buffer: what `strace -s 32` shows.
pub const BUFFER_CAP: usize = 32;
/// Most elements kept of a string array (strace shows as many as its string size).
pub const ARRAY_CAP: usize = 32;

/// `sys-data-info` bits above the argument index (docs/events.md).
pub mod info {
    pub const TRUNCATED: u8 = 1 << 3;
    pub const UNREADABLE: u8 = 1 << 4;
    pub const ELEMENT: u8 = 1 << 5;
    pub const AT_RETURN: u8 = 1 << 6;
}

/// The generated entry of a QEMU target; `None` for targets the generator does not know.
pub fn arch(name: &str) -> Option<&'static Arch> {
    super::syscall_table::ARCHES.iter().find(|a| a.arch == name)
}

/// The data arguments of every system call of one architecture, by number.
pub struct SyscallTable {
    /// The lowest number with data: mips o32 numbers start at 4000, and the table need not.
    first: i64,
    by_number: Vec<&'static [Arg]>,
    /// The bits of an argument that make a guest address.
    address_mask: u64,
    /// How guest pointers are stored in memory (argv).
    layout: Layout,
}

/// How a guest pointer is stored in guest memory: 4 or 8 bytes, in the target's byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub bytes: usize,
    pub big_endian: bool,
}

impl Layout {
    /// x86_64, aarch64, riscv64, ppc64le.
    pub const LP64_LE: Layout = Layout { bytes: 8, big_endian: false };

    /// How `arch` stores a pointer.
    pub fn of(arch: &Arch) -> Layout {
        Layout { bytes: arch.bits as usize / 8, big_endian: arch.big_endian }
    }

    /// The pointer stored at guest address `addr`, if readable.
    pub fn read_pointer(self, mem: &mut impl Memory, addr: u64) -> Option<u64> {
        let mut word = Vec::with_capacity(8);
        mem.read(addr, self.bytes, &mut word).then(|| self.pointer(&word))
    }

    /// The pointer stored in `word` (`self.bytes` long).
    fn pointer(self, word: &[u8]) -> u64 {
        let mut b = [0u8; 8];
        if self.big_endian {
            b[8 - self.bytes..].copy_from_slice(word);
            u64::from_be_bytes(b)
        } else {
            b[..self.bytes].copy_from_slice(word);
            u64::from_le_bytes(b)
        }
    }
}

impl SyscallTable {
    /// The table for a QEMU target; `None` for architectures without one.
    pub fn for_arch(arch: &str) -> Option<Self> {
        let arch = self::arch(arch)?;
        let rows = arch.data;
        let first = rows.iter().map(|&(n, _)| n).min().unwrap_or(0);
        let size = rows.iter().map(|&(n, _)| (n - first) as usize + 1).max().unwrap_or(0);
        let mut by_number = vec![&[][..]; size];
        for &(n, args) in rows {
            by_number[(n - first) as usize] = args;
        }
        let address_mask = if arch.bits >= 64 { u64::MAX } else { (1u64 << arch.bits) - 1 };
        Some(Self { first, by_number, address_mask, layout: Layout::of(arch) })
    }

    /// How this target stores pointers in memory.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The arguments as guest addresses: QEMU hands a 32-bit guest's registers over
    /// sign-extended (its `abi_long`), so a pointer above 2 GiB arrives as 0xffffffff8.......
    pub fn addresses(&self, args: &[u64; 6]) -> [u64; 6] {
        args.map(|a| a & self.address_mask)
    }

    /// The data arguments of call `number` (empty for calls without any).
    pub fn get(&self, number: i64) -> &'static [Arg] {
        let index = number.checked_sub(self.first).and_then(|n| usize::try_from(n).ok());
        index.and_then(|n| self.by_number.get(n)).copied().unwrap_or(&[])
    }
}

/// Guest memory as the capture sees it.
pub trait Memory {
    /// Appends `len` bytes at guest address `addr` to `out`; false (and `out` unchanged) if
    /// any of them is not readable.
    fn read(&mut self, addr: u64, len: usize, out: &mut Vec<u8>) -> bool;
}

/// Captures what the call reads, at its entry.
pub fn capture_entry(spec: &[Arg], regs: &[u64; 6], layout: Layout, mem: &mut impl Memory, out: &mut Blobs) {
    for &arg in spec {
        match arg {
            Arg::Path(i) => string(mem, regs[i as usize], i, out),
            Arg::Argv(i) => string_array(mem, regs[i as usize], i, layout, out),
            Arg::InBuffer { arg, len } => buffer(mem, regs[arg as usize], regs[len as usize], arg, 0, out),
            Arg::OutBuffer(_) | Arg::OutPath(_) => {}
        }
    }
}

/// Captures what the call wrote, at its return with value `ret` (nothing on failure).
pub fn capture_return(spec: &[Arg], regs: &[u64; 6], ret: i64, mem: &mut impl Memory, out: &mut Blobs) {
    if ret <= 0 {
        return;
    }
    for &arg in spec {
        match arg {
            Arg::OutBuffer(i) => buffer(mem, regs[i as usize], ret as u64, i, info::AT_RETURN, out),
            Arg::OutPath(i) => {
                // readlink returns the length without a NUL, getcwd with it: stop at either.
                let start = out.data.len();
                let len = (ret as usize).min(STRING_CAP);
                let tag = i | info::AT_RETURN;
                if regs[i as usize] == 0 {
                    continue;
                }
                if !mem.read(regs[i as usize], len, &mut out.data) {
                    out.close(tag | info::UNREADABLE, start);
                    continue;
                }
                if let Some(nul) = out.data[start..].iter().position(|&b| b == 0) {
                    out.data.truncate(start + nul);
                }
                out.close(if ret as usize > STRING_CAP { tag | info::TRUNCATED } else { tag }, start);
            }
            _ => {}
        }
    }
}

/// The first bytes of a buffer of `len` bytes. A NULL pointer gives no blob.
fn buffer(mem: &mut impl Memory, addr: u64, len: u64, arg: u8, flags: u8, out: &mut Blobs) {
    if addr == 0 {
        return;
    }
    let start = out.data.len();
    let take = len.min(BUFFER_CAP as u64) as usize;
    let tag = arg | flags;
    if !mem.read(addr, take, &mut out.data) {
        out.close(tag | info::UNREADABLE, start);
    } else {
        out.close(if len > BUFFER_CAP as u64 { tag | info::TRUNCATED } else { tag }, start);
    }
}

/// A NUL-terminated string, up to STRING_CAP bytes. A NULL pointer gives no blob.
fn string(mem: &mut impl Memory, addr: u64, arg: u8, out: &mut Blobs) {
    if addr != 0 {
        let start = out.data.len();
        let flags = read_string(mem, addr, out);
        out.close(arg | flags, start);
    }
}

/// Appends the string at `addr` to `out.data`; returns TRUNCATED or UNREADABLE or 0.
fn read_string(mem: &mut impl Memory, addr: u64, out: &mut Blobs) -> u8 {
    read_c_string(mem, addr, STRING_CAP, &mut out.data)
}

/// Appends the NUL-terminated string at `addr` (without its NUL, at most `cap` bytes) to
/// `out`; returns TRUNCATED (longer than `cap`), UNREADABLE (nothing appended) or 0. Reads
/// page by page: a string may end just before an unmapped page, and reading across it would
/// fail although every byte of the string is readable.
pub fn read_c_string(mem: &mut impl Memory, addr: u64, cap: usize, out: &mut Vec<u8>) -> u8 {
    const PAGE: u64 = 4096;
    let start = out.len();
    let mut at = addr;

    loop {
        let have = out.len() - start;
        if have >= cap {
            out.truncate(start + cap);
            break info::TRUNCATED;
        }
        let chunk = ((PAGE - at % PAGE) as usize).min(cap + 1 - have);
        let before = out.len();
        if !mem.read(at, chunk, out) {
            out.truncate(start);
            break info::UNREADABLE;
        }
        if let Some(nul) = out[before..].iter().position(|&b| b == 0) {
            out.truncate(before + nul);
            break 0;
        }
        at = at.wrapping_add(chunk as u64);
    }
}

/// execve's argv: each string a blob flagged ELEMENT, in order; an empty ELEMENT|TRUNCATED
/// blob after ARRAY_CAP elements says more followed.
fn string_array(mem: &mut impl Memory, addr: u64, arg: u8, layout: Layout, out: &mut Blobs) {
    if addr == 0 {
        return;
    }
    let tag = arg | info::ELEMENT;
    for index in 0..=ARRAY_CAP as u64 {
        let Some(ptr) = layout.read_pointer(mem, addr.wrapping_add(index * layout.bytes as u64)) else {
            let start = out.data.len();
            out.close(tag | info::UNREADABLE, start);
            return;
        };
        if ptr == 0 {
            return;
        }
        if index as usize == ARRAY_CAP {
            let start = out.data.len();
            out.close(tag | info::TRUNCATED, start);
            return;
        }
        let start = out.data.len();
        let flags = read_string(mem, ptr, out);
        out.close(tag | flags, start);
    }
}

/// Guest memory through QEMU, from a vCPU callback.
impl Memory for crate::qemu::GuestMemory<'_> {
    fn read(&mut self, addr: u64, len: usize, out: &mut Vec<u8>) -> bool {
        crate::qemu::GuestMemory::read(self, addr, len, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guest memory of whole 4 KiB pages; addresses outside them are unmapped.
    struct Pages(std::collections::BTreeMap<u64, Vec<u8>>);

    impl Pages {
        fn with(addr: u64, bytes: &[u8]) -> Self {
            let mut pages = Pages(Default::default());
            pages.put(addr, bytes);
            pages
        }
        fn put(&mut self, addr: u64, bytes: &[u8]) {
            for (i, &b) in bytes.iter().enumerate() {
                let a = addr + i as u64;
                self.0.entry(a & !4095).or_insert_with(|| vec![0xaa; 4096])[(a & 4095) as usize] = b;
            }
        }
    }

    impl Memory for Pages {
        fn read(&mut self, addr: u64, len: usize, out: &mut Vec<u8>) -> bool {
            let bytes: Option<Vec<u8>> =
                (addr..addr + len as u64).map(|a| self.0.get(&(a & !4095)).map(|p| p[(a & 4095) as usize])).collect();
            bytes.map(|b| out.extend_from_slice(&b)).is_some()
        }
    }

    fn blobs(b: &Blobs) -> Vec<(u8, Vec<u8>)> {
        let mut at = 0;
        b.info
            .iter()
            .zip(&b.len)
            .map(|(&i, &l)| {
                at += l as usize;
                (i, b.data[at - l as usize..at].to_vec())
            })
            .collect()
    }

    #[test]
    fn a_string_that_ends_before_an_unmapped_page_is_whole() {
        let addr = 0x10000 - 5;
        let mut mem = Pages::with(addr, b"/etc\0");
        let mut out = Blobs::default();
        capture_entry(&[Arg::Path(1)], &[0, addr, 0, 0, 0, 0], Layout::LP64_LE, &mut mem, &mut out);
        assert_eq!(blobs(&out), [(1, b"/etc".to_vec())]);
    }

    #[test]
    fn long_strings_are_cut_and_marked_and_bad_pointers_are_marked() {
        let mut mem = Pages::with(0x20000, &[b'x'; 5000]);
        mem.put(0x20000 + 5000, b"\0");
        let mut out = Blobs::default();
        capture_entry(
            &[Arg::Path(0), Arg::Path(1), Arg::Path(2)],
            &[0x20000, 0x99000, 0, 0, 0, 0],
            Layout::LP64_LE,
            &mut mem,
            &mut out,
        );
        let got = blobs(&out);
        assert_eq!(got.len(), 2, "NULL gives no blob");
        assert_eq!((got[0].0, got[0].1.len()), (info::TRUNCATED, STRING_CAP));
        assert_eq!(got[1], (1 | info::UNREADABLE, vec![]));
    }

    #[test]
    fn buffers_keep_their_first_bytes_and_out_buffers_what_was_returned() {
        let mut mem = Pages::with(0x30000, &(0..100).collect::<Vec<u8>>());
        let mut out = Blobs::default();
        let regs = [1, 0x30000, 100, 0, 0, 0];
        capture_entry(&[Arg::InBuffer { arg: 1, len: 2 }], &regs, Layout::LP64_LE, &mut mem, &mut out);
        capture_return(&[Arg::OutBuffer(1)], &regs, 5, &mut mem, &mut out);
        capture_return(&[Arg::OutBuffer(1)], &regs, -14, &mut mem, &mut out);
        assert_eq!(blobs(&out), [(1 | info::TRUNCATED, (0..32).collect()), (1 | info::AT_RETURN, (0..5).collect())]);
    }

    #[test]
    fn argv_elements_in_order_and_capped() {
        let mut mem = Pages::with(0x40000, b"ls\0-l\0");
        let pointers: Vec<u8> = [0x40000u64, 0x40003, 0].iter().flat_map(|p| p.to_le_bytes()).collect();
        mem.put(0x50000, &pointers);
        let mut out = Blobs::default();
        capture_entry(&[Arg::Argv(1)], &[0, 0x50000, 0, 0, 0, 0], Layout::LP64_LE, &mut mem, &mut out);
        let e = 1 | info::ELEMENT;
        assert_eq!(blobs(&out), [(e, b"ls".to_vec()), (e, b"-l".to_vec())]);

        let many: Vec<u8> = std::iter::repeat_n(0x40000u64, 40).flat_map(|p| p.to_le_bytes()).collect();
        mem.put(0x60000, &many);
        let mut out = Blobs::default();
        capture_entry(&[Arg::Argv(1)], &[0, 0x60000, 0, 0, 0, 0], Layout::LP64_LE, &mut mem, &mut out);
        let got = blobs(&out);
        assert_eq!(got.len(), ARRAY_CAP + 1);
        assert_eq!(got[ARRAY_CAP], (e | info::TRUNCATED, vec![]));
    }

    #[test]
    fn argv_of_32_bit_targets_in_their_byte_order() {
        let mut mem = Pages::with(0x40000, b"ls\0-l\0");
        let e = 1 | info::ELEMENT;
        for (layout, pointers) in [
            (Layout { bytes: 4, big_endian: true }, [0x40000u32, 0x40003, 0].map(u32::to_be_bytes)),
            (Layout { bytes: 4, big_endian: false }, [0x40000u32, 0x40003, 0].map(u32::to_le_bytes)),
        ] {
            mem.put(0x50000, pointers.as_flattened());
            let mut out = Blobs::default();
            capture_entry(&[Arg::Argv(1)], &[0, 0x50000, 0, 0, 0, 0], layout, &mut mem, &mut out);
            assert_eq!(blobs(&out), [(e, b"ls".to_vec()), (e, b"-l".to_vec())], "{layout:?}");
        }
        let mips = SyscallTable::for_arch("mips").unwrap();
        assert_eq!(mips.layout(), Layout { bytes: 4, big_endian: true });
        assert_eq!(SyscallTable::for_arch("mipsel").unwrap().layout(), Layout { bytes: 4, big_endian: false });
        assert_eq!(SyscallTable::for_arch("ppc64le").unwrap().layout(), Layout::LP64_LE);
    }

    #[test]
    fn tables_know_the_common_calls() {
        let x86 = SyscallTable::for_arch("x86_64").unwrap();
        assert_eq!(x86.get(257), [Arg::Path(1)]); // openat
        assert_eq!(x86.get(1), [Arg::InBuffer { arg: 1, len: 2 }]); // write
        assert!(x86.get(60).is_empty() && x86.get(-1).is_empty() && x86.get(100_000).is_empty());
        let arm = SyscallTable::for_arch("aarch64").unwrap();
        assert_eq!(arm.get(56), [Arg::Path(1)]); // openat
        assert_eq!(arm.get(221), [Arg::Path(0), Arg::Argv(1)]); // execve
        let rv = SyscallTable::for_arch("riscv64").unwrap();
        assert_eq!(rv.get(56), [Arg::Path(1)]); // openat
        assert!(rv.get(38).is_empty()); // no renameat on riscv64 (no __ARCH_WANT_RENAMEAT)
        let mips = SyscallTable::for_arch("mips").unwrap();
        assert_eq!(mips.get(4288), [Arg::Path(1)]); // openat, o32 numbers from 4000
        assert_eq!(mips.get(4004), [Arg::InBuffer { arg: 1, len: 2 }]); // write
        assert!(mips.get(4).is_empty() && mips.get(-1).is_empty() && mips.get(i64::MIN).is_empty());
        let i386 = SyscallTable::for_arch("i386").unwrap();
        assert_eq!(i386.get(195), [Arg::Path(0)]); // stat64
        assert_eq!(i386.addresses(&[0xffff_ffff_ffff_d000, 1, 0, 0, 0, 0])[0], 0xffff_d000);
        assert_eq!(x86.addresses(&[0xffff_ffff_ffff_d000, 1, 0, 0, 0, 0])[0], 0xffff_ffff_ffff_d000);
        for arch in ["x86_64", "i386", "aarch64", "arm", "riscv64", "mips", "mipsel", "ppc64le"] {
            assert!(SyscallTable::for_arch(arch).is_some(), "{arch}");
        }
        assert!(SyscallTable::for_arch("sparc").is_none());
    }
}
