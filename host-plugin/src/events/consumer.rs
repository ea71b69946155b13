//! The interface of the stages after the batch pipeline: what the analysis loop calls. Here,
//! below every stage, so that the script host and the forwarder implement it without
//! importing the pipeline that drives them.

use super::{Block, EventBatch, ProbeBatch, ThreadEvent};

pub trait Consumer {
    /// Newly translated blocks, before any execution that refers to them.
    fn blocks(&mut self, blocks: &[Block]);
    /// One vCPU's batch; the consumer may borrow its columns but leaves them as they were.
    fn events(&mut self, batch: &mut EventBatch);
    /// The probe hits of the batch that `events` gets next (only when there are any).
    fn probe_hits(&mut self, _hits: &ProbeBatch) {}
    fn thread(&mut self, vcpu: u32, event: ThreadEvent);
    /// Nothing arrived for a while, or someone waits for delivery: push out what is buffered.
    fn idle(&mut self) {}
}
