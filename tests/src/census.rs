//! Reads `census.txt`, the report of example-scripts/census.

use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Census {
    pub values: BTreeMap<String, u64>,
    /// number -> (calls, errors, never returned)
    pub syscalls: BTreeMap<i64, (u64, u64, u64)>,
    pub trace_checksum: String,
    /// vCPU -> its trace hash (`trace-checksum-vcpu-N`)
    pub trace_by_vcpu: BTreeMap<u32, u64>,
    /// vCPU -> (interrupts, exceptions, host calls)
    pub discontinuities: BTreeMap<u32, (u64, u64, u64)>,
    /// The first discontinuities as listed: (vcpu, kind, from, to)
    pub disc: Vec<(u32, String, u64, u64)>,
    /// Memory accesses per device name ("RAM" for RAM and ROM)
    pub devices: BTreeMap<String, u64>,
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
            [key, hash] if key.starts_with("trace-checksum-vcpu-") => {
                census.trace_by_vcpu.insert(
                    key["trace-checksum-vcpu-".len()..].parse().unwrap(),
                    u64::from_str_radix(hash, 16).unwrap(),
                );
            }
            [key, interrupts, exceptions, hostcalls] if key.starts_with("discontinuities-vcpu-") => {
                census.discontinuities.insert(
                    key["discontinuities-vcpu-".len()..].parse().unwrap(),
                    (interrupts.parse().unwrap(), exceptions.parse().unwrap(), hostcalls.parse().unwrap()),
                );
            }
            ["disc", vcpu, kind, from, to] => {
                let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
                census.disc.push((vcpu.parse().unwrap(), kind.to_string(), hex(from), hex(to)));
            }
            ["mem-device", name, n] => {
                census.devices.insert(name.to_string(), n.parse().unwrap());
            }
            [key, value] => {
                census.values.insert(key.to_string(), value.parse().unwrap());
            }
            _ => panic!("unexpected census line: {line}"),
        }
    }
    census
}
