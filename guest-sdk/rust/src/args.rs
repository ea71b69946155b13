//! Script arguments: the `key=value` pairs of the plugin command line that the host does not
//! own. The host has already checked them against [`crate::Script::arguments`] and filled in
//! defaults, so a declared argument with a default is always present.

use std::str::FromStr;

use crate::{Argument, ArgumentSpec, ArgumentType};

/// The script's arguments.
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
            Some(raw) => raw.parse().map_err(|e| format!("invalid value '{raw}' for argument '{key}': {e}")),
        }
    }

    /// Removes an `integer` or `address` argument (decimal or 0x-hexadecimal).
    pub fn number(&mut self, key: &str) -> Result<Option<u64>, String> {
        self.take(key)
            .map(|raw| {
                let parsed = match raw.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16),
                    None => raw.parse(),
                };
                parsed.map_err(|e| format!("invalid value '{raw}' for argument '{key}': {e}"))
            })
            .transpose()
    }

    /// Removes a `boolean` argument (the host normalises it to true/false).
    pub fn flag(&mut self, key: &str) -> bool {
        self.take(key).is_some_and(|v| v == "true")
    }

    /// Fails if any argument was not taken (the host rejects undeclared keys already; this
    /// catches a declared one the script forgot to read).
    pub fn finish(self) -> Result<(), String> {
        match self.remaining.first() {
            None => Ok(()),
            Some(a) => Err(format!("unknown argument '{}' (help=true lists the options)", a.key)),
        }
    }
}

/// Declaring arguments: `ArgumentSpec::integer("top", "how many blocks").default("10")`.
impl ArgumentSpec {
    fn new(key: &str, kind: ArgumentType, help: &str) -> Self {
        Self { key: key.into(), kind, default: None, required: false, help: help.into() }
    }
    pub fn text(key: &str, help: &str) -> Self {
        Self::new(key, ArgumentType::Text, help)
    }
    pub fn integer(key: &str, help: &str) -> Self {
        Self::new(key, ArgumentType::Integer, help)
    }
    pub fn boolean(key: &str, help: &str) -> Self {
        Self::new(key, ArgumentType::Boolean, help).default("false")
    }
    pub fn address(key: &str, help: &str) -> Self {
        Self::new(key, ArgumentType::Address, help)
    }
    pub fn default(mut self, value: &str) -> Self {
        self.default = Some(value.into());
        self
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
}
