//! The content-addressed cache of pulled components and manifests, beside the compiled-script
//! cache: `CACHE/components/sha256/HEX` holds blobs whose sha256 is HEX (checked on every use,
//! so a corrupted blob is noticed and fetched again), `CACHE/components/tags/...` the manifest
//! digest a tag last resolved to (used only when the registry cannot be asked).
//!
//! Writes go to a temporary file in the same directory, then a rename: a reader sees the whole
//! blob or none.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

pub struct Cache {
    root: PathBuf,
}

pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

impl Cache {
    pub fn open() -> Result<Cache> {
        let Some(base) = cannonball_script_cache::dir::default_location() else {
            bail!("no cache directory: set XDG_CACHE_HOME or HOME")
        };
        let root = base.join("components");
        fs::create_dir_all(root.join("sha256")).with_context(|| format!("cannot create {}", root.display()))?;
        fs::create_dir_all(root.join("tags")).with_context(|| format!("cannot create {}", root.display()))?;
        Ok(Cache { root })
    }

    /// The path of a blob, whether present or not.
    pub fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        let Some(hex) =
            digest.strip_prefix("sha256:").filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        else {
            bail!("unsupported digest {digest} (only sha256:<64 hex digits>)")
        };
        Ok(self.root.join("sha256").join(hex.to_ascii_lowercase()))
    }

    /// The blob's bytes when it is present and its content matches its digest. A blob that
    /// does not match is removed (and said so), so that the caller fetches it again.
    pub fn get(&self, digest: &str) -> Result<Option<Vec<u8>>> {
        let path = self.blob_path(digest)?;
        let Ok(bytes) = fs::read(&path) else { return Ok(None) };
        if sha256_digest(&bytes) != digest {
            eprintln!("cannonball: cached {digest} is corrupted; fetching it again");
            let _ = fs::remove_file(&path);
            return Ok(None);
        }
        Ok(Some(bytes))
    }

    /// Stores bytes under their own digest, after checking it is the one expected.
    pub fn put(&self, expected: &str, bytes: &[u8]) -> Result<PathBuf> {
        let actual = sha256_digest(bytes);
        if actual != expected {
            bail!("digest mismatch: the registry sent {actual} for {expected}");
        }
        let path = self.blob_path(expected)?;
        write_atomically(&path, bytes)?;
        Ok(path)
    }

    fn tag_path(&self, reference: &str) -> PathBuf {
        // One file per reference; the name keeps it readable and unambiguous.
        let name: String = reference
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
            .collect();
        self.root.join("tags").join(format!("{name}-{}", &sha256_digest(reference.as_bytes())[7..19]))
    }

    pub fn remember_tag(&self, reference: &str, manifest_digest: &str) -> Result<()> {
        write_atomically(&self.tag_path(reference), manifest_digest.as_bytes())
    }

    pub fn recall_tag(&self, reference: &str) -> Option<String> {
        fs::read_to_string(self.tag_path(reference)).ok().map(|s| s.trim().to_string())
    }
}

fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().expect("cache paths have a parent");
    let temp = dir.join(format!(".tmp-{}-{}", std::process::id(), path.file_name().unwrap().to_string_lossy()));
    let mut file = fs::File::create(&temp).with_context(|| format!("cannot write {}", temp.display()))?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(e) = written.and_then(|()| fs::rename(&temp, path)) {
        let _ = fs::remove_file(&temp);
        bail!("cannot write {}: {e}", path.display());
    }
    Ok(())
}
