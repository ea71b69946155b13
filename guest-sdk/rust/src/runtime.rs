//! Holds the script's state between calls. Wasm components are single-threaded, so a
//! thread-local is the whole story.

use std::any::Any;
use std::cell::RefCell;

use crate::{Args, Argument, Block, EventBatch, RunInfo, RunSummary, Script, Subscription, ThreadEvent};

thread_local! {
    static STATE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

pub fn init<S: Script>(info: RunInfo, args: Vec<Argument>) -> Result<Subscription, String> {
    let script = S::init(&info, Args::new(args))?;
    let subscription = script.subscription();
    STATE.with_borrow_mut(|state| *state = Some(Box::new(script)));
    Ok(subscription)
}

fn with_script<S: Script, R>(f: impl FnOnce(&mut S) -> R) -> R {
    STATE.with_borrow_mut(|state| {
        let script =
            state.as_mut().and_then(|s| s.downcast_mut::<S>()).expect("the host called the script before init");
        f(script)
    })
}

pub fn on_blocks<S: Script>(blocks: Vec<Block>) {
    with_script::<S, ()>(|s| s.on_blocks(&blocks))
}

pub fn on_events<S: Script>(batch: EventBatch) {
    with_script::<S, ()>(|s| s.on_events(&batch))
}

pub fn on_thread<S: Script>(vcpu: u32, event: ThreadEvent) {
    with_script::<S, ()>(|s| s.on_thread(vcpu, event))
}

pub fn finish<S: Script>(summary: RunSummary) -> Result<(), String> {
    with_script::<S, _>(|script| script.finish(&summary))
}
