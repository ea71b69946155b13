//! Script arguments: the `key=value` pairs of the plugin command line that the host does not own.

use std::str::FromStr;

use crate::Argument;

/// The script's arguments. Take what you accept, then call [`Args::finish`] so that a typo in
/// a key is an error instead of being silently ignored.
#[derive(Debug)]
pub struct Args {
    remaining: Vec<Argument>,
}

impl Args {
    pub fn new(args: Vec<Argument>) -> Self {
        Self { remaining: args }
    }

    /// Removes and returns the raw value of `key`.
    pub fn take(&mut self, key: &str) -> Option<String> {
        let i = self.remaining.iter().position(|a| a.key == key)?;
        Some(self.remaining.remove(i).value)
    }

    /// Removes `key` and parses it, or returns `default` when absent.
    pub fn parse_or<T: FromStr>(&mut self, key: &str, default: T) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        match self.take(key) {
            None => Ok(default),
            Some(raw) => raw
                .parse()
                .map_err(|e| format!("invalid value '{raw}' for argument '{key}': {e}")),
        }
    }

    /// Fails if any argument was not taken.
    pub fn finish(self) -> Result<(), String> {
        match self.remaining.first() {
            None => Ok(()),
            Some(a) => Err(format!(
                "unknown argument '{}' (help=true lists the options)",
                a.key
            )),
        }
    }
}
