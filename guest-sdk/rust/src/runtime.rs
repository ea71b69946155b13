//! Holds the script's state between calls. Wasm components are single-threaded, so a
//! thread-local is the whole story.

use std::any::Any;
use std::cell::{Cell, RefCell};

use crate::{Args, Argument, Block, EventBatch, RunInfo, RunSummary, Script, Subscription, ThreadEvent};

thread_local! {
    static STATE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
    /// The script asked for probes: each batch asks the host for its hits.
    static PROBES: Cell<bool> = const { Cell::new(false) };
}

pub(crate) fn probes_asked() {
    PROBES.set(true);
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
    if PROBES.get() {
        let columns = crate::bindings::cannonball::script::host::probe_hits();
        if !columns.probe.is_empty() {
            let hits = crate::probes::hits(&columns);
            with_script::<S, ()>(|s| s.on_probes(batch.vcpu, &hits));
        }
    }
    with_script::<S, ()>(|s| s.on_events(&batch))
}

pub fn on_thread<S: Script>(vcpu: u32, event: ThreadEvent) {
    with_script::<S, ()>(|s| s.on_thread(vcpu, event))
}

pub fn finish<S: Script>(summary: RunSummary) -> Result<(), String> {
    with_script::<S, _>(|script| script.finish(&summary))
}
