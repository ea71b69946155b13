//! The corpus: every file under a directory, in a stable order, and the deterministic share
//! of it that one shard runs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// One input: its path, and its name relative to the corpus (the run's directory name and
/// its row in the table).
#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    pub name: String,
}

/// `--shard I/N`: shard I (1-based) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let parse = || -> Option<Shard> {
            let (i, n) = s.split_once('/')?;
            let shard = Shard { index: i.parse().ok()?, count: n.parse().ok()? };
            (shard.count >= 1 && (1..=shard.count).contains(&shard.index)).then_some(shard)
        };
        parse().ok_or_else(|| format!("'{s}' is not I/N with 1 <= I <= N (e.g. 3/8)"))
    }
}

impl Shard {
    /// Whether this shard runs `name`. By a hash of the name, not its position, so that a
    /// corpus that grows moves no input from one shard to another.
    pub fn takes(&self, name: &str) -> bool {
        // FNV-1a: stable across platforms and versions, unlike std's hasher.
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        hash % u64::from(self.count) == u64::from(self.index - 1)
    }
}

/// Every regular file under `dir` (recursively, hidden entries skipped), sorted by name.
pub fn list(dir: &Path, shard: Option<Shard>) -> Result<Vec<Input>> {
    if !dir.is_dir() {
        bail!("corpus {} is not a directory", dir.display());
    }
    let mut inputs = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("cannot read {}", d.display()))? {
            let path = entry?.path();
            if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else if path.is_file() {
                let name = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().into_owned();
                inputs.push(Input { path: path.canonicalize()?, name });
            }
        }
    }
    inputs.retain(|i| shard.is_none_or(|s| s.takes(&i.name)));
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(inputs)
}

/// The directory name of an input's run: its corpus name with `/` made `__`.
pub fn run_dir_name(name: &str) -> String {
    name.replace('/', "__")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_everything_once() {
        let names: Vec<String> = (0..1000).map(|i| format!("id:{i:06},src:{}", i * 7)).collect();
        let shards: Vec<Shard> = (1..=4).map(|i| format!("{i}/4").parse().unwrap()).collect();
        for name in &names {
            assert_eq!(shards.iter().filter(|s| s.takes(name)).count(), 1, "{name}");
        }
        let sizes: Vec<usize> = shards.iter().map(|s| names.iter().filter(|n| s.takes(n)).count()).collect();
        assert!(sizes.iter().all(|&n| (200..300).contains(&n)), "balanced: {sizes:?}");
        for bad in ["0/4", "5/4", "1/0", "x", "1-4"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
