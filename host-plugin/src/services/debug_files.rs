//! Where a module's separate debug file is, found the way gdb finds it: by build-id
//! (`DIR/.build-id/ab/cdef….debug`), then by `.gnu_debuglink` (the name next to the file, in
//! its `.debug/` directory, or under `DIR/` + the file's directory, checked by CRC32), for each
//! debug directory DIR: the one the user named (`debug-dir=`, `cannonball run --debug-dir`)
//! first, then `/usr/lib/debug`. In a user-named directory the debug link's name is also
//! looked up directly (`DIR/prog.debug`), which is where `objcopy --only-keep-debug` output
//! usually lands.
//!
//! Symbols (`modules.rs`, for a stripped file) and source lines (`source_lines.rs`) use this
//! one lookup, so both come back together or not at all.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use object::Object;

/// Where debug files live on Debian (and most distributions).
const SYSTEM_DEBUG_ROOT: &str = "/usr/lib/debug";

static USER_DIR: OnceLock<PathBuf> = OnceLock::new();

/// The directory the user named with `debug-dir=`, searched before the system's. Set once at
/// install; a later call changes nothing.
pub fn set_user_dir(dir: PathBuf) {
    let _ = USER_DIR.set(dir);
}

fn roots() -> impl Iterator<Item = (&'static Path, bool)> {
    USER_DIR.get().map(|d| (d.as_path(), true)).into_iter().chain([(Path::new(SYSTEM_DEBUG_ROOT), false)])
}

/// The separate debug file of `path` (already parsed as `file`), if one is installed: by
/// build-id first (exact by construction), then by `.gnu_debuglink` (name and CRC32).
pub fn find(path: &Path, file: &object::File<'_>) -> Option<PathBuf> {
    if let Ok(Some(id)) = file.build_id()
        && id.len() >= 2
    {
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let found = roots()
            .map(|(root, _)| root.join(".build-id").join(&hex[..2]).join(format!("{}.debug", &hex[2..])))
            .find(|candidate| candidate.is_file());
        if found.is_some() {
            return found;
        }
    }
    let (name, crc) = file.gnu_debuglink().ok()??;
    let name = Path::new(std::str::from_utf8(name).ok()?);
    let dir = path.parent()?;
    let relative_dir = dir.strip_prefix("/").unwrap_or(dir);
    let mut candidates = vec![dir.join(name), dir.join(".debug").join(name)];
    for (root, user_named) in roots() {
        if user_named {
            candidates.push(root.join(name));
        }
        candidates.push(root.join(relative_dir).join(name));
    }
    candidates
        .into_iter()
        .find(|candidate| candidate != path && std::fs::read(candidate).is_ok_and(|d| crc32fast::hash(&d) == crc))
}
