//! The SDK's own logic, on the host (`cargo xtask test` runs these with the example scripts'
//! unit tests): trace expansion, branches, memory info bits, privilege levels, arguments.

use crate::memory::{is_big_endian, is_sign_extended, is_store, size};
use crate::{Args, Argument, Block, BlockTable, Branch, BranchTracker, EventBatch, is_user, privilege_name};

fn block(id: u32, vaddr: u64, sizes: &[u8]) -> Block {
    Block {
        id,
        vaddr,
        insn_sizes: sizes.to_vec(),
        insn_bytes: vec![0; sizes.iter().map(|&s| s as usize).sum()],
        disassembly: vec![],
        symbol: None,
        privilege: None,
    }
}

fn batch(vcpu: u32, execs: &[u32], cut_short: Option<u32>) -> EventBatch {
    EventBatch {
        vcpu,
        first_exec: 0,
        execs: execs.to_vec(),
        mem_exec: vec![],
        mem_pc: vec![],
        mem_addr: vec![],
        mem_info: vec![],
        mem_value: vec![],
        mem_phys: vec![],
        mem_device: vec![],
        sys_exec: vec![],
        sys_number: vec![],
        sys_args: vec![],
        sys_ret: vec![],
        sys_returned: vec![],
        sys_data_call: vec![],
        sys_data_info: vec![],
        sys_data_len: vec![],
        sys_data: vec![],
        cut_short,
        disc_exec: vec![],
        disc_kind: vec![],
        disc_from: vec![],
        disc_to: vec![],
    }
}

/// A loop: block 0 at 0x100 (three instructions, the last a branch back to itself or on to
/// block 1 at 0x10a, which follows it), block 1 (two instructions), block 2 far away at 0x200.
fn table() -> BlockTable {
    let mut t = BlockTable::new();
    t.add(&[block(0, 0x100, &[4, 4, 2]), block(1, 0x10a, &[2, 2]), block(2, 0x200, &[1])]);
    t
}

#[test]
fn executions_expand_into_instruction_addresses() {
    let t = table();
    let mut pcs = Vec::new();
    t.for_each_pc(&batch(0, &[0, 1, 2, 7], None), |pc| pcs.push(pc));
    assert_eq!(pcs, [0x100, 0x104, 0x108, 0x10a, 0x10c, 0x200], "an unknown id (7) adds nothing");
    pcs.clear();
    t.for_each_pc(&batch(0, &[2, 0], Some(2)), |pc| pcs.push(pc));
    assert_eq!(pcs, [0x200, 0x100, 0x104], "a last execution cut short after two instructions");
    let mut runs = Vec::new();
    t.for_each_execution(&batch(0, &[1, 0], None), |insns| runs.push(insns.len()));
    assert_eq!(runs, [2, 3]);
    assert_eq!(t.get(0).unwrap().last_insn(), 0x108);
    assert_eq!(t.get(0).unwrap().end, 0x10a);
}

#[test]
fn branches_are_taken_when_the_next_block_is_not_the_fallthrough() {
    let t = table();
    let mut tracker = BranchTracker::new();
    let mut seen = Vec::new();
    // 0 -> 0 (back edge, taken), 0 -> 1 (falls through), then across batches 1 -> 2 (taken).
    tracker.for_each_branch(&t, &batch(3, &[0, 0, 1], None), |b| seen.push(b));
    tracker.for_each_branch(&t, &batch(3, &[2], None), |b| seen.push(b));
    assert_eq!(
        seen,
        [
            Branch { source: 0x108, target: 0x100, fallthrough: 0x10a, taken: true },
            Branch { source: 0x108, target: 0x10a, fallthrough: 0x10a, taken: false },
            Branch { source: 0x10c, target: 0x200, fallthrough: 0x10e, taken: true },
        ]
    );
    // Another vCPU has its own last block; a forgotten one starts afresh.
    seen.clear();
    tracker.for_each_branch(&t, &batch(4, &[1], None), |b| seen.push(b));
    tracker.forget(3);
    tracker.for_each_branch(&t, &batch(3, &[0], None), |b| seen.push(b));
    assert!(seen.is_empty(), "{seen:?}");
}

#[test]
fn memory_info_bits() {
    // A 4-byte sign-extending big-endian load; an 8-byte store.
    let load = 2 | 0x10 | 0x20;
    assert_eq!((size(load), is_store(load), is_sign_extended(load), is_big_endian(load)), (4, false, true, true));
    let store = 3 | 0x8;
    assert_eq!((size(store), is_store(store), is_sign_extended(store), is_big_endian(store)), (8, true, false, false));
    assert_eq!(size(4), 16);
}

#[test]
fn privilege_levels_by_architecture() {
    assert!(is_user("x86_64", 3) && !is_user("x86_64", 0));
    assert!(is_user("aarch64", 0) && !is_user("aarch64", 1));
    assert!(is_user("riscv64", 0) && !is_user("riscv64", 3));
    assert_eq!(privilege_name("x86_64", 0), "kernel");
    assert_eq!(privilege_name("arm", 2), "hypervisor");
    assert_eq!(privilege_name("riscv64", 3), "machine");
    assert_eq!(privilege_name("mips", 5), "level 5");
}

#[test]
fn arguments_are_taken_parsed_and_checked_for_leftovers() {
    let arg = |k: &str, v: &str| Argument { key: k.into(), value: v.into() };
    let mut args = Args::new(vec![arg("n", "0x10"), arg("name", "x"), arg("bad", "12z"), arg("extra", "1")]);
    assert_eq!(args.number("n"), Ok(Some(16)));
    assert_eq!(args.number("n"), Ok(None), "taken once");
    assert_eq!(args.take("name").as_deref(), Some("x"));
    assert!(args.parse_or::<u32>("bad", 0).unwrap_err().contains("'12z'"));
    assert_eq!(args.parse_or::<u32>("absent", 7), Ok(7));
    assert!(args.finish().unwrap_err().contains("extra"), "an argument nobody took is an error");
}

#[test]
fn probe_columns_become_hits_with_their_values_and_reads() {
    use crate::bindings::cannonball::script::host::ProbeBatch;
    use crate::probes::{ProbeEvent, flags, hits};
    let batch = ProbeBatch {
        probe: vec![0, 1, 0],
        exec: vec![5, 6, 9],
        event: vec![ProbeEvent::Entry, ProbeEvent::Entry, ProbeEvent::Returned],
        call: vec![0, 1, 0],
        return_address: vec![0x401000, 0x401100, 0x401000],
        stack_pointer: vec![0x7000, 0x6f00, 0x7000],
        value_count: vec![2, 1, 1],
        values: vec![10, 20, 30, 99],
        data_hit: vec![0, 0, 1],
        data_info: vec![0, 1 | flags::TRUNCATED, flags::UNREADABLE],
        data_len: vec![3, 2, 0],
        data: b"abcde".to_vec(),
    };
    let h = hits(&batch);
    assert_eq!(h.len(), 3);
    assert_eq!((h[0].argument(0), h[0].argument(1), h[0].argument(2)), (Some(10), Some(20), None));
    assert_eq!(h[0].read(0), Some(&b"abc"[..]));
    assert_eq!(h[0].read(1), Some(&b"de"[..]));
    assert_eq!(h[0].reads[1].1 & flags::TRUNCATED, flags::TRUNCATED);
    assert_eq!(h[1].read(0), None, "unreadable");
    assert_eq!((h[1].argument(0), h[1].return_value()), (Some(30), None));
    assert_eq!((h[2].return_value(), h[2].argument(0), h[2].call, h[2].exec), (Some(99), None, 0, 9));
}
