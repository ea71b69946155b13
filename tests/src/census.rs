//! Reads `census.txt`, the report of example-scripts/census.

use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Census {
    pub values: BTreeMap<String, u64>,
    /// number -> (calls, errors, never returned)
    pub syscalls: BTreeMap<i64, (u64, u64, u64)>,
    pub trace_checksum: String,
}

impl Census {
    pub fn get(&self, key: &str) -> u64 {
        *self.values.get(key).unwrap_or_else(|| panic!("census.txt has no '{key}'"))
    }
}

pub fn parse(text: &str) -> Census {
    let mut census = Census::default();
    for line in text.lines() {
        let fields: Vec<_> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["syscall", num, calls, errors, unreturned] => {
                census.syscalls.insert(
                    num.parse().unwrap(),
                    (calls.parse().unwrap(), errors.parse().unwrap(), unreturned.parse().unwrap()),
                );
            }
            ["trace-checksum", sum] => census.trace_checksum = sum.to_string(),
            [key, value] => {
                census.values.insert(key.to_string(), value.parse().unwrap());
            }
            _ => panic!("unexpected census line: {line}"),
        }
    }
    census
}
