//! The pipeline without QEMU or a script: batches reach the analysis thread in the order they
//! were submitted, every one of them, and come back emptied for reuse; `wait_until_delivered`
//! returns only after everything before it was delivered; the consumers are fed script first.

use std::sync::atomic::Ordering;

use super::{Consumers, recycled_batch, start, stop, submit_events, wait_until_delivered};
use crate::events::{Block, Consumer, EventBatch, ThreadEvent, empty_batch};
use crate::sink::forward::Forwarding;

#[test]
fn batches_are_delivered_in_order_and_come_back_emptied() {
    start(None, None, Forwarding::default());
    let before = crate::progress::EVENTS.load(Ordering::Relaxed);
    const N: u32 = 40;
    for vcpu in 0..N {
        let mut batch = empty_batch(vcpu);
        batch.first_exec = 1000;
        batch.execs.extend(0..=vcpu);
        submit_events(batch, None);
    }
    wait_until_delivered();
    // Every event counted by the analysis thread before the barrier was answered.
    let events = crate::progress::EVENTS.load(Ordering::Relaxed) - before;
    assert_eq!(events, u64::from(N * (N + 1) / 2), "every execution of every batch delivered");
    let back: Vec<Box<EventBatch>> = std::iter::from_fn(recycled_batch).collect();
    assert_eq!(back.iter().map(|b| b.vcpu).collect::<Vec<_>>(), (0..N).collect::<Vec<_>>(), "in order");
    assert!(back.iter().all(|b| b.execs.is_empty() && b.first_exec == 0), "emptied for reuse");
    assert!(stop().is_none(), "no script to hand back");
    assert!(recycled_batch().is_none(), "the pipeline is gone");
}

/// Records what it was fed, under a name.
struct Recorder<'a>(&'static str, &'a std::cell::RefCell<Vec<String>>);

impl Consumer for Recorder<'_> {
    fn blocks(&mut self, blocks: &[Block]) {
        self.1.borrow_mut().push(format!("{} blocks {}", self.0, blocks.len()));
    }
    fn events(&mut self, batch: &mut EventBatch) {
        self.1.borrow_mut().push(format!("{} events {}", self.0, batch.vcpu));
    }
    fn thread(&mut self, vcpu: u32, _event: ThreadEvent) {
        self.1.borrow_mut().push(format!("{} thread {vcpu}", self.0));
    }
}

#[test]
fn the_script_is_fed_before_the_forwarder_and_may_be_absent() {
    let log = std::cell::RefCell::new(Vec::new());
    let mut both = Consumers { script: Some(Recorder("script", &log)), forwarding: Recorder("forward", &log) };
    both.each(|c| c.events(&mut empty_batch(3)));
    both.each(|c| c.thread(4, ThreadEvent::Exit));
    let mut alone: Consumers<Recorder, Recorder> = Consumers { script: None, forwarding: Recorder("forward", &log) };
    alone.each(|c| c.blocks(&[]));
    assert_eq!(
        log.into_inner(),
        ["script events 3", "forward events 3", "script thread 4", "forward thread 4", "forward blocks 0"]
    );
}
