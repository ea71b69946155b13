//! A vCPU's buffer without QEMU: what goes in comes out in whole batches, in order, through the
//! handoff; a call waiting for its return goes out unreturned at the end; a reset forgets all.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Handoff, Owner, Slot, Stopped, connect};
use crate::events::EventBatch;

/// Every batch handed over, by vCPU (each test uses vCPU indices of its own).
static HANDED: Mutex<Option<HashMap<u32, Vec<EventBatch>>>> = Mutex::new(None);

fn submit(batch: Box<EventBatch>, _probes: Option<crate::events::ProbeBatch>) {
    HANDED.lock().unwrap().get_or_insert_with(HashMap::new).entry(batch.vcpu).or_default().push(*batch);
}

fn handed(vcpu: u32) -> Vec<EventBatch> {
    HANDED.lock().unwrap().get_or_insert_with(HashMap::new).remove(&vcpu).unwrap_or_default()
}

fn setup() {
    connect(Handoff { submit, recycled: || None });
}

#[test]
fn executions_come_out_in_order_in_whole_batches() {
    setup();
    const VCPU: u32 = 901;
    let slot = Slot::new(VCPU);
    // SAFETY: no vCPU runs in a unit test.
    let stopped = unsafe { Stopped::assume() };
    let owner = Owner::Stopped(&stopped, VCPU);
    let cap = super::slot::EXEC_CAP;
    let words: Vec<u64> = (0..(cap as u64 + 10)).collect();
    // In bulk (the appended path) and one by one (the callback path), across the cap.
    slot.record_execs(owner, &words[..100]);
    for &w in &words[100..cap + 5] {
        slot.record_exec(owner, w as u32);
    }
    assert_eq!(handed(VCPU).len(), 1, "a full batch goes out when the next execution comes");
    slot.record_execs(owner, &words[cap + 5..]);
    slot.flush(owner, true);
    let rest = handed(VCPU);
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].first_exec, cap as u64, "execution numbers go on from the full batch");
    assert_eq!(rest[0].execs.len(), 10);
    assert_eq!(slot.last_exec(owner), Some(cap as u32 + 9), "the last execution flushed");

    let again = Slot::new(VCPU + 1);
    let owner = Owner::Stopped(&stopped, VCPU + 1);
    again.record_execs(owner, &words);
    again.flush(owner, true);
    let batches = handed(VCPU + 1);
    assert_eq!(batches.len(), 2);
    assert_eq!(batches[0].execs.len(), cap, "a batch holds exactly the cap");
    let ids: Vec<u64> = batches.iter().flat_map(|b| b.execs.iter().map(|&e| u64::from(e))).collect();
    assert_eq!(ids, words, "every execution, in order");
    assert!(batches.iter().all(|b| b.vcpu == VCPU + 1));
}

#[test]
fn a_call_without_its_return_goes_out_unreturned_at_the_end() {
    setup();
    const VCPU: u32 = 911;
    let slot = Slot::new(VCPU);
    // SAFETY: no vCPU runs in a unit test.
    let stopped = unsafe { Stopped::assume() };
    let owner = Owner::Stopped(&stopped, VCPU);
    slot.record_exec(owner, 1);
    slot.record_syscall_entry(owner, 0, 1, [1, 2, 3, 0, 0, 0], |_| {});
    slot.record_syscall_return(owner, 1, 3, |_, _| {});
    slot.record_exec(owner, 2);
    slot.record_syscall_entry(owner, 1, 231, [0; 6], |_| {});
    slot.flush(owner, false);
    let first = handed(VCPU);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].sys_number, [1], "a call still waiting stays in the buffer");
    assert_eq!((first[0].sys_ret.as_slice(), first[0].sys_returned.as_slice()), (&[3][..], &[true][..]));
    assert_eq!(&first[0].sys_args[..3], &[1, 2, 3]);
    slot.flush(owner, true);
    let last = handed(VCPU);
    assert_eq!(last.len(), 1);
    assert_eq!((last[0].sys_number.as_slice(), last[0].sys_returned.as_slice()), (&[231][..], &[false][..]));
    assert_eq!(last[0].sys_exec, [1], "the call belongs to the execution it was made in");
}

#[test]
fn a_reset_forgets_everything_buffered() {
    setup();
    const VCPU: u32 = 921;
    let slot = Slot::new(VCPU);
    // SAFETY: no vCPU runs in a unit test.
    let stopped = unsafe { Stopped::assume() };
    let owner = Owner::Stopped(&stopped, VCPU);
    slot.set_alive(true);
    slot.record_execs(owner, &[5, 6, 7]);
    slot.record_syscall_entry(owner, 2, 57, [0; 6], |_| {});
    slot.reset(owner);
    assert!(!slot.is_alive());
    slot.flush(owner, true);
    assert!(handed(VCPU).is_empty(), "nothing of before the reset goes out");
    assert_eq!(slot.last_exec(owner), None);
}
