//! The Linux thread id of the guest thread on each vCPU, as the script sees it (the host
//! service `thread-id`).
//!
//! In linux-user each guest thread is a host thread and the guest's tid is the host's: the
//! vCPU init callback takes `gettid()` on the new thread and the id travels with the thread's
//! Start through the batch pipeline. The analysis thread records it right before the script
//! receives that Start and forgets it after the Exit, so every batch of the vCPU in between
//! (submitted after the Start, flushed before the Exit, on the same channel) sees its thread's
//! id, also when QEMU has given the index of an exited thread to a new one.

use std::collections::HashMap;
use std::sync::Mutex;

static TIDS: Mutex<Option<HashMap<u32, i64>>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut HashMap<u32, i64>) -> R) -> R {
    let mut guard = TIDS.lock().unwrap_or_else(|p| p.into_inner());
    f(guard.get_or_insert_with(HashMap::new))
}

/// The calling host thread's id: the guest tid when called on a vCPU's thread.
pub fn current_tid() -> i64 {
    // SAFETY: gettid has no preconditions.
    i64::from(unsafe { libc::gettid() })
}

/// The thread on `vcpu` is `tid` from now on.
pub fn started(vcpu: u32, tid: i64) {
    with(|m| m.insert(vcpu, tid));
}

/// The thread on `vcpu` exited.
pub fn exited(vcpu: u32) {
    with(|m| m.remove(&vcpu));
}

/// The tid of the thread on `vcpu`, if one started there and has not exited.
pub fn get(vcpu: u32) -> Option<i64> {
    with(|m| m.get(&vcpu).copied())
}

/// In a forked child: only the forking thread survives, on `vcpu`, with the child's pid as its tid.
pub fn forked_child(vcpu: Option<u32>, pid: i64) {
    with(|m| {
        m.clear();
        if let Some(vcpu) = vcpu {
            m.insert(vcpu, pid);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_reused_after_an_exit_names_the_new_thread() {
        started(7, 100);
        assert_eq!(get(7), Some(100));
        exited(7);
        assert_eq!(get(7), None);
        started(7, 102);
        assert_eq!(get(7), Some(102));
        forked_child(Some(3), 555);
        assert_eq!((get(7), get(3)), (None, Some(555)));
        forked_child(None, 1);
    }
}
