//! The cache directory: where it is, whether it can be trusted, atomic writes, a size bound.
//!
//! A cache entry is native code that runs in QEMU's process as it is, so whoever can write
//! an entry can run code as the user. Hence:
//!
//! - the directory is created with mode 0700; an existing one is used only when it belongs to
//!   the effective user and neither its group nor others may write it (otherwise a warning, and
//!   the run compiles without the cache);
//! - an entry is read only when it is a regular file (not a symbolic link) with the same owner
//!   and modes;
//! - an entry is written to a temporary file created exclusively with mode 0600 in the same
//!   directory, then renamed over the final name: a concurrent reader sees the old entry or
//!   the new one, never half of one (and the checksum rejects a file cut short anyway);
//! - after a store, the directory is trimmed to [`MAX_BYTES`], least recently used first (a
//!   hit refreshes the entry's modification time).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::entry::EXTENSION;

/// The directory is trimmed to this size after a store (entries are 0.2–2 MB each).
pub const MAX_BYTES: u64 = 256 << 20;

/// Temporary files are named `.tmp-<key>-<pid>-<n>`; ones older than this were left by a
/// crashed run and are removed when trimming.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// `$XDG_CACHE_HOME/cannonball`, else `$HOME/.cache/cannonball`.
pub fn default_location() -> Option<PathBuf> {
    let absolute = |var: &str| std::env::var_os(var).map(PathBuf::from).filter(|p| p.is_absolute());
    absolute("XDG_CACHE_HOME").or_else(|| absolute("HOME").map(|h| h.join(".cache"))).map(|c| c.join("cannonball"))
}

/// A directory checked to be safe to load code from.
pub struct CacheDir {
    path: PathBuf,
}

impl CacheDir {
    /// Creates the directory (mode 0700) if missing, and checks who may write it.
    pub fn open(path: &Path) -> Result<CacheDir, String> {
        let shown = path.display();
        if !path.is_dir() {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
            match fs::DirBuilder::new().mode(0o700).create(path) {
                Ok(()) => {}
                // Another run created it meanwhile: checked below like any existing one.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(format!("cannot create {shown}: {e}")),
            }
        }
        let meta = fs::metadata(path).map_err(|e| format!("cannot use {shown}: {e}"))?;
        if !meta.is_dir() {
            return Err(format!("{shown} is not a directory"));
        }
        trusted(&meta).map_err(|why| format!("{shown} {why}"))?;
        Ok(CacheDir { path: path.to_owned() })
    }

    pub fn entry_path(&self, key: &str) -> PathBuf {
        self.path.join(format!("{key}.{EXTENSION}"))
    }

    /// The entry's bytes, `None` when there is none, or why it cannot be used.
    pub fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, Unusable> {
        let file = match OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            // ELOOP: a symbolic link where the entry should be.
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(Unusable::Untrusted("the entry is a symbolic link".into()));
            }
            Err(e) => return Err(Unusable::Damaged(format!("cannot open the entry: {e}"))),
        };
        let meta = file.metadata().map_err(|e| Unusable::Damaged(format!("cannot read the entry: {e}")))?;
        if !meta.is_file() {
            return Err(Unusable::Untrusted("the entry is not a regular file".into()));
        }
        trusted(&meta).map_err(|why| Unusable::Untrusted(format!("the entry {why}")))?;
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        (&file).read_to_end(&mut bytes).map_err(|e| Unusable::Damaged(format!("cannot read the entry: {e}")))?;
        Ok(Some(bytes))
    }

    /// Marks the entry as recently used, for trimming. Best effort: a read-only cache still
    /// serves hits.
    pub fn touch(&self, path: &Path) {
        if let Ok(file) = File::open(path) {
            let _ = file.set_modified(SystemTime::now());
        }
    }

    /// Writes `bytes` as the entry at `path`, atomically.
    pub fn store(&self, path: &Path, bytes: &[u8]) -> Result<(), String> {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = self.path.join(format!(".tmp-{name}-{}-{n}", std::process::id()));
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&temp)
            .and_then(|mut f| f.write_all(bytes))
            .and_then(|()| fs::rename(&temp, path));
        written.map_err(|e| {
            let _ = fs::remove_file(&temp);
            format!("cannot write to {}: {e}", self.path.display())
        })
    }

    /// Removes the least recently used entries while the directory holds more than
    /// [`MAX_BYTES`], and temporary files left by crashed runs.
    pub fn bound_size(&self) {
        self.trim(MAX_BYTES);
    }

    fn trim(&self, max_bytes: u64) {
        let Ok(listing) = fs::read_dir(&self.path) else { return };
        let now = SystemTime::now();
        let mut entries = Vec::new();
        for item in listing.flatten() {
            let (path, Ok(meta)) = (item.path(), item.metadata()) else { continue };
            let modified = meta.modified().unwrap_or(now);
            let is_temp = item.file_name().to_string_lossy().starts_with(".tmp-");
            if is_temp && now.duration_since(modified).is_ok_and(|age| age > STALE_TEMP) {
                let _ = fs::remove_file(&path);
            } else if meta.is_file() && super::is_entry(&path) {
                entries.push((modified, meta.len(), path));
            }
        }
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        entries.sort();
        for (_, len, path) in entries {
            if total <= max_bytes {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}

/// Why an entry was not loaded.
#[derive(Debug, PartialEq, Eq)]
pub enum Unusable {
    /// Someone else could have written it: worth a warning.
    Untrusted(String),
    /// Unreadable, damaged, or refused by wasmtime: compiled again, silently.
    Damaged(String),
}

/// Owned by the effective user and writable by nobody else.
fn trusted(meta: &fs::Metadata) -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(format!("belongs to uid {}, not to this user (uid {me})", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!("is writable by others (mode {:o})", meta.mode() & 0o777));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cannonball-cache-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn creates_a_private_directory_and_refuses_a_shared_one() {
        let dir = scratch("modes");
        let cache = CacheDir::open(&dir.join("a/b")).unwrap();
        assert_eq!(fs::metadata(dir.join("a/b")).unwrap().mode() & 0o777, 0o700);
        let path = cache.entry_path("k");
        cache.store(&path, b"payload").unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(cache.read(&path).unwrap().unwrap(), b"payload");

        fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
        assert!(matches!(cache.read(&path), Err(Unusable::Untrusted(why)) if why.contains("writable by others")));
        fs::set_permissions(dir.join("a/b"), fs::Permissions::from_mode(0o777)).unwrap();
        assert!(CacheDir::open(&dir.join("a/b")).err().unwrap().contains("writable by others"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symbolic_link_is_not_followed_and_a_missing_entry_is_none() {
        let dir = scratch("links");
        let cache = CacheDir::open(&dir).unwrap();
        assert_eq!(cache.read(&cache.entry_path("none")).unwrap(), None);
        std::os::unix::fs::symlink("/etc/hostname", cache.entry_path("link")).unwrap();
        assert!(matches!(cache.read(&cache.entry_path("link")), Err(Unusable::Untrusted(_))));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn trimming_removes_the_least_recently_used_entries_first() {
        let dir = scratch("trim");
        let cache = CacheDir::open(&dir).unwrap();
        let big = vec![0u8; 101];
        let old = SystemTime::now() - Duration::from_secs(100);
        for (i, key) in ["a", "b", "c", "d"].iter().enumerate() {
            let path = cache.entry_path(key);
            cache.store(&path, &big).unwrap();
            File::open(&path).unwrap().set_modified(old + Duration::from_secs(i as u64)).unwrap();
        }
        cache.touch(&cache.entry_path("a"));
        cache.trim(300);
        let left: Vec<bool> = ["a", "b", "c", "d"].iter().map(|k| cache.entry_path(k).exists()).collect();
        assert_eq!(left, [true, false, false, true]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
