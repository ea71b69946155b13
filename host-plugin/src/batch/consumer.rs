//! What the analysis loop feeds. The script host and the forwarder both implement
//! [`Consumer`]; the loop owns them and calls them in a fixed order (script first, so that a
//! script's emitted records precede the raw events they were derived from), knowing neither.

use crate::events::{Block, EventBatch, ThreadEvent};

pub trait Consumer {
    /// Newly translated blocks, before any execution that refers to them.
    fn blocks(&mut self, blocks: &[Block]);
    /// One vCPU's batch; the consumer may borrow its columns but leaves them as they were.
    fn events(&mut self, batch: &mut EventBatch);
    fn thread(&mut self, vcpu: u32, event: ThreadEvent);
    /// Nothing arrived for a while, or someone waits for delivery: push out what is buffered.
    fn idle(&mut self) {}
}

/// The loop's consumers in delivery order.
pub struct Consumers<S, F> {
    pub script: Option<S>,
    pub forwarding: F,
}

impl<S: Consumer, F: Consumer> Consumers<S, F> {
    pub fn each(&mut self, mut f: impl FnMut(&mut dyn Consumer)) {
        if let Some(script) = &mut self.script {
            f(script);
        }
        f(&mut self.forwarding);
    }
}
