//! What the analysis loop feeds: the script host and the forwarder, both
//! [`Consumer`](crate::events::Consumer)s, owned by the loop and called in a fixed order
//! (script first, so that a script's emitted records precede the raw events they were derived
//! from).

use crate::events::Consumer;

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
