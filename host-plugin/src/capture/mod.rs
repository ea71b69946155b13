//! Capture: what the plugin instruments at translation time and what QEMU then counts or
//! reports at execution time, per vCPU.

mod icount;

pub use icount::InstructionCounter;
