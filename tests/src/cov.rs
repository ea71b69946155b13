//! Reads `cov.txt`, the listing of example-scripts/cov.

use std::path::Path;

/// One function of cov.txt: name, module, (address, hits, text) per instruction.
#[derive(Debug)]
pub struct Listed {
    pub name: String,
    pub module: String,
    pub insns: Vec<(u64, u64, String)>,
}

pub fn read_listing(out: &Path) -> Vec<Listed> {
    let text = std::fs::read_to_string(out.join("cov.txt")).unwrap();
    let mut all: Vec<Listed> = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(header) = line.strip_prefix("// symbol ") {
            let (name, module) = header.strip_suffix(')').and_then(|h| h.rsplit_once(" (")).unwrap();
            all.push(Listed { name: name.into(), module: module.into(), insns: Vec::new() });
            continue;
        }
        let f: Vec<&str> = line.trim().splitn(3, char::is_whitespace).collect();
        let address = u64::from_str_radix(f[0].trim_start_matches("0x"), 16).unwrap();
        let rest = line.trim()[f[0].len()..].trim_start();
        let (count, text) = rest.split_once("  ").unwrap_or((rest, ""));
        all.last_mut().unwrap().insns.push((address, count.trim().parse().unwrap(), text.to_owned()));
    }
    all
}
