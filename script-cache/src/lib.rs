//! Compiled scripts kept on disk between runs.
//!
//! Compiling a script with Cranelift takes 0.1–0.3 s on these machines, several times what
//! QEMU needs to run a small program; a fuzzing corpus starts QEMU ten thousand times with the
//! same script. So the native code wasmtime produced is kept in a cache directory and loaded
//! on the next run (about a millisecond).
//!
//! - **Key** ([`key`]): SHA-256 over the component's bytes and wasmtime's own
//!   [`Engine::precompile_compatibility_hash`] (target, Cranelift flags, CPU features, tunables
//!   such as `signals_based_traps` and epoch checks, Wasm features, wasmtime's version). A
//!   changed script or setting gives another key; an entry is never looked up by file name.
//! - **Entries** ([`entry`]): our header, the payload's SHA-256, wasmtime's serialized
//!   component. A truncated or damaged file fails the checksum and is compiled again and
//!   replaced; one wasmtime rejects is replaced too.
//! - **Trust** ([`dir`]): loading an entry runs its native code as it is, so only a directory
//!   and files owned by the user and writable by nobody else are used. Writes go to a private
//!   temporary file renamed into place, so concurrent runs never see half an entry.
//!
//! Every cache problem degrades to compiling as without a cache; the caller prints the
//! [`Outcome::warning`], one line at most.

pub mod dir;
mod engine;
pub mod entry;

use std::hash::Hasher;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

pub use engine::{Traps, script_config};

/// Where compiled scripts go: the plugin's `cache=` option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Setting {
    Off,
    Dir(PathBuf),
}

impl Setting {
    /// `cache=off`, `cache=DIR`, or (no option) the default directory; off when no home
    /// directory is known.
    pub fn from_option(value: Option<&str>) -> Setting {
        match value {
            Some("off") => Setting::Off,
            Some(dir) => Setting::Dir(PathBuf::from(dir)),
            None => dir::default_location().map_or(Setting::Off, Setting::Dir),
        }
    }
}

/// What the cache did for this load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `cache=off`: compiled.
    Off,
    /// Loaded from the cache.
    Hit,
    /// Compiled, and stored for the next run.
    Stored,
    /// The entry was damaged or refused by wasmtime (why): compiled and replaced.
    Replaced(String),
    /// The entry was not loaded because someone else could have written it (why): compiled
    /// and replaced by a private one.
    Untrusted(String),
    /// Compiled; the cache could not be used (why).
    Skipped(String),
}

impl Outcome {
    /// Short, for the start-up timing line.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Off => "cache off".into(),
            Outcome::Hit => "cache hit".into(),
            Outcome::Stored => "cache miss, stored".into(),
            Outcome::Replaced(why) => format!("cache entry replaced: {why}"),
            Outcome::Untrusted(why) => format!("cache entry not trusted, replaced: {why}"),
            Outcome::Skipped(why) => format!("cache skipped: {why}"),
        }
    }

    /// The one line worth telling the user, if any: the cache could not be used at all, or
    /// held an entry someone else could have written.
    pub fn warning(&self) -> Option<String> {
        match self {
            Outcome::Skipped(why) => Some(format!("script cache not used: {why} (cache=off silences this)")),
            Outcome::Untrusted(why) => Some(format!("script cache: {why}; not loaded, compiled and replaced")),
            _ => None,
        }
    }
}

/// A compiled component and how it was obtained.
pub struct Compiled {
    pub component: Component,
    pub outcome: Outcome,
    /// The entry's file, when the cache was used.
    pub entry: Option<PathBuf>,
}

/// Compiles `wasm`, or loads what an earlier run compiled with the same engine settings.
/// Errors are compilation errors only (the file is not a valid component); cache problems
/// end in [`Outcome`].
pub fn compile(engine: &Engine, wasm: &[u8], setting: &Setting) -> wasmtime::Result<Compiled> {
    let Setting::Dir(location) = setting else {
        return Ok(Compiled { component: Component::new(engine, wasm)?, outcome: Outcome::Off, entry: None });
    };
    let cache = match dir::CacheDir::open(location) {
        Ok(cache) => cache,
        Err(why) => {
            let component = Component::new(engine, wasm)?;
            return Ok(Compiled { component, outcome: Outcome::Skipped(why), entry: None });
        }
    };
    let path = cache.entry_path(&key(engine, wasm));
    let unusable = match cache.read(&path) {
        Ok(Some(bytes)) => match entry::open(&bytes) {
            // SAFETY: `deserialize` runs the payload's code as it is. The payload passed our
            // checksum (no damaged or half-written file) and comes from a directory and file
            // that only this user can write (dir.rs): whoever could forge it could already
            // run code as this user. wasmtime itself checks its header: version, engine
            // settings and target, and rejects a mismatch with an error.
            Ok(payload) => match unsafe { Component::deserialize(engine, payload) } {
                Ok(component) => {
                    cache.touch(&path);
                    return Ok(Compiled { component, outcome: Outcome::Hit, entry: Some(path) });
                }
                Err(e) => Some(Outcome::Replaced(format!("wasmtime refused it ({})", first_line(&e.to_string())))),
            },
            Err(why) => Some(Outcome::Replaced(why)),
        },
        Ok(None) => None,
        Err(dir::Unusable::Damaged(why)) => Some(Outcome::Replaced(why)),
        Err(dir::Unusable::Untrusted(why)) => Some(Outcome::Untrusted(why)),
    };
    let component = Component::new(engine, wasm)?;
    let stored =
        component.serialize().map_err(|e| e.to_string()).and_then(|payload| cache.store(&path, &entry::seal(&payload)));
    let outcome = match (stored, unusable) {
        (Err(why), _) => Outcome::Skipped(why),
        (Ok(()), Some(replaced)) => replaced,
        (Ok(()), None) => Outcome::Stored,
    };
    if !matches!(outcome, Outcome::Skipped(_)) {
        cache.bound_size();
    }
    Ok(Compiled { component, outcome, entry: Some(path) })
}

/// The entry's name: SHA-256 of everything that decides what compiling `wasm` produces.
pub fn key(engine: &Engine, wasm: &[u8]) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    hasher.0.update(entry::FORMAT);
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
    hasher.0.update((wasm.len() as u64).to_le_bytes());
    hasher.0.update(wasm);
    hex(&hasher.0.finalize())
}

/// Feeds `std::hash::Hash` output into SHA-256 (wasmtime exposes its settings only as `Hash`).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        unreachable!("only the digest is read")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

/// True when `path` names a cache entry (for tests and clean-up tools).
pub fn is_entry(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == entry::EXTENSION)
}
