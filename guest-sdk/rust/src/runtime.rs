//! Holds the script's state between calls. Wasm components are single-threaded, so a
//! thread-local is the whole story.

use std::any::Any;
use std::cell::RefCell;

use crate::{Args, Argument, RunInfo, RunSummary, Script};

thread_local! {
    static STATE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

pub fn init<S: Script>(info: RunInfo, args: Vec<Argument>) -> Result<(), String> {
    let script = S::init(&info, Args::new(args))?;
    STATE.with_borrow_mut(|state| *state = Some(Box::new(script)));
    Ok(())
}

pub fn with_script<S: Script, R>(f: impl FnOnce(&mut S) -> Result<R, String>) -> Result<R, String> {
    STATE.with_borrow_mut(|state| {
        let script = state
            .as_mut()
            .and_then(|s| s.downcast_mut::<S>())
            .ok_or_else(|| "the host called the script before init".to_string())?;
        f(script)
    })
}

pub fn finish<S: Script>(summary: RunSummary) -> Result<(), String> {
    with_script::<S, ()>(|script| script.finish(&summary))
}
