//! Reading `EventBatch::sys_data*` (subscribed to `EventKinds::SYSCALL_DATA`): the strings
//! and buffers of system call arguments, as blobs in call order.

use crate::EventBatch;

/// `sys-data-info` flags above the argument index (bits 0-2).
pub mod flags {
    /// The string or buffer goes on past what was captured.
    pub const TRUNCATED: u8 = 1 << 3;
    /// The guest pointer was not readable: no bytes.
    pub const UNREADABLE: u8 = 1 << 4;
    /// An element of a string array (execve's argv), in order.
    pub const ELEMENT: u8 = 1 << 5;
    /// Captured at the call's return: data the kernel wrote (read, recvfrom, readlink, ...).
    pub const AT_RETURN: u8 = 1 << 6;
}

/// One captured string or buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallBlob<'a> {
    /// Index of the call in the batch (into `sys_number`).
    pub call: usize,
    /// Which argument (0-5) pointed to it.
    pub arg: usize,
    /// The raw info byte: `arg` plus [`flags`].
    pub info: u8,
    pub bytes: &'a [u8],
}

impl SyscallBlob<'_> {
    pub fn truncated(&self) -> bool {
        self.info & flags::TRUNCATED != 0
    }
    pub fn unreadable(&self) -> bool {
        self.info & flags::UNREADABLE != 0
    }
    pub fn is_element(&self) -> bool {
        self.info & flags::ELEMENT != 0
    }
}

/// Every blob of `batch`, ascending by call.
pub fn syscall_data(batch: &EventBatch) -> impl Iterator<Item = SyscallBlob<'_>> + '_ {
    let mut at = 0usize;
    batch.sys_data_call.iter().zip(&batch.sys_data_info).zip(&batch.sys_data_len).map(move |((&call, &info), &len)| {
        let bytes = batch.sys_data.get(at..at + len as usize).unwrap_or(&[]);
        at += len as usize;
        SyscallBlob { call: call as usize, arg: usize::from(info & 7), info, bytes }
    })
}
