//! The host services a script can call.

use crate::bindings::cannonball::script::host as wit;

/// Creates or replaces the report file `name` in the run's out directory (`out=DIR`).
pub fn write_report(name: &str, contents: impl AsRef<[u8]>) -> Result<(), String> {
    wit::write_report(name, contents.as_ref())
}

/// One line to QEMU's stderr, prefixed with the script's name.
pub mod log {
    use super::wit::{LogLevel, log};

    pub fn error(message: impl AsRef<str>) {
        log(LogLevel::Error, message.as_ref())
    }
    pub fn warn(message: impl AsRef<str>) {
        log(LogLevel::Warn, message.as_ref())
    }
    pub fn info(message: impl AsRef<str>) {
        log(LogLevel::Info, message.as_ref())
    }
    pub fn debug(message: impl AsRef<str>) {
        log(LogLevel::Debug, message.as_ref())
    }
}
