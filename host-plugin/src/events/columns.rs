//! A batch's columns: created empty, cleared for reuse, tested for emptiness. Here, below
//! both the per-vCPU buffers that fill batches and the pipeline that delivers them, so that
//! neither stage needs the other.

use super::{EventBatch, ProbeBatch};

/// Probe columns with no hit.
pub fn empty_probe_batch() -> ProbeBatch {
    ProbeBatch {
        probe: Vec::new(),
        exec: Vec::new(),
        event: Vec::new(),
        call: Vec::new(),
        return_address: Vec::new(),
        stack_pointer: Vec::new(),
        value_count: Vec::new(),
        values: Vec::new(),
        data_hit: Vec::new(),
        data_info: Vec::new(),
        data_len: Vec::new(),
        data: Vec::new(),
    }
}

/// A batch with empty columns.
pub fn empty_batch(vcpu: u32) -> Box<EventBatch> {
    Box::new(EventBatch {
        vcpu,
        first_exec: 0,
        execs: Vec::new(),
        mem_exec: Vec::new(),
        mem_pc: Vec::new(),
        mem_addr: Vec::new(),
        mem_info: Vec::new(),
        mem_value: Vec::new(),
        mem_phys: Vec::new(),
        mem_device: Vec::new(),
        sys_exec: Vec::new(),
        sys_number: Vec::new(),
        sys_args: Vec::new(),
        sys_ret: Vec::new(),
        sys_returned: Vec::new(),
        sys_data_call: Vec::new(),
        sys_data_info: Vec::new(),
        sys_data_len: Vec::new(),
        sys_data: Vec::new(),
        cut_short: None,
        disc_exec: Vec::new(),
        disc_kind: Vec::new(),
        disc_from: Vec::new(),
        disc_to: Vec::new(),
    })
}

/// Empties every column, keeping their capacity (batches are recycled).
pub fn clear_batch(b: &mut EventBatch) {
    b.first_exec = 0;
    b.execs.clear();
    b.mem_exec.clear();
    b.mem_pc.clear();
    b.mem_addr.clear();
    b.mem_info.clear();
    b.mem_value.clear();
    b.mem_phys.clear();
    b.mem_device.clear();
    b.sys_exec.clear();
    b.sys_number.clear();
    b.sys_args.clear();
    b.sys_ret.clear();
    b.sys_returned.clear();
    b.sys_data_call.clear();
    b.sys_data_info.clear();
    b.sys_data_len.clear();
    b.sys_data.clear();
    b.cut_short = None;
    b.disc_exec.clear();
    b.disc_kind.clear();
    b.disc_from.clear();
    b.disc_to.clear();
}

/// No event in any column (a cut mark alone still makes a batch worth sending).
pub fn is_empty(b: &EventBatch) -> bool {
    b.execs.is_empty() && b.mem_exec.is_empty() && b.sys_exec.is_empty() && b.disc_exec.is_empty()
}

/// The blobs of one system call, in capture order, laid out as the `sys-data*` columns.
#[derive(Default)]
pub struct Blobs {
    pub info: Vec<u8>,
    pub len: Vec<u32>,
    pub data: Vec<u8>,
}

impl Blobs {
    pub fn is_empty(&self) -> bool {
        self.info.is_empty()
    }

    pub fn clear(&mut self) {
        self.info.clear();
        self.len.clear();
        self.data.clear();
    }

    /// Ends a blob whose bytes were appended to `data` since `start`.
    pub fn close(&mut self, info: u8, start: usize) {
        self.info.push(info);
        self.len.push((self.data.len() - start) as u32);
    }
}
