//! Scripts shared through OCI registries as Wasm artifacts (the Bytecode Alliance's Wasm OCI
//! format: config `application/vnd.wasm.config.v0+json`, one `application/wasm` layer).
//!
//! Every place that takes a script (`run -s`, `inspect`, `merge -s`, corpus runs) resolves it
//! through [`resolve`]: a path that exists stays a path; otherwise a reference with a registry
//! host (`HOST[:PORT]/REPO:TAG` or `...@sha256:HEX`) is pulled once into a content-addressed
//! cache, and QEMU gets the cached file's path. The plugin never touches the network.

mod cache;
mod publish;
mod registry;

use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::Result;

pub use publish::publish;

/// How the CLI may reach registries, from the global flags.
#[derive(Clone, Copy, Default)]
pub struct Network {
    /// `--offline`: only what the cache holds.
    pub offline: bool,
    /// `--insecure-registry`: plain HTTP for any registry (loopback ones always may).
    pub insecure: bool,
}

static NETWORK: OnceLock<Network> = OnceLock::new();

pub fn set_network(network: Network) {
    let _ = NETWORK.set(network);
}

fn network() -> Network {
    NETWORK.get().copied().unwrap_or_default()
}

/// A script ready to load: its file, and where it came from when it came from a registry.
pub struct Script {
    pub path: PathBuf,
    pub origin: Option<Origin>,
}

/// The registry reference a script was resolved from and the digests it resolved to.
pub struct Origin {
    pub reference: String,
    pub manifest_digest: String,
    pub layer_digest: String,
    pub annotations: std::collections::BTreeMap<String, String>,
}

impl Origin {
    /// The text a run's out directory keeps (`script.ref`), so that its reports say which
    /// bytes made them.
    pub fn record(&self) -> String {
        format!("reference: {}\nmanifest: {}\ncomponent: {}\n", self.reference, self.manifest_digest, self.layer_digest)
    }
}

/// Resolves what the user gave as a script: an existing file, or an OCI reference.
pub fn resolve(given: &str) -> Result<Script> {
    let path = PathBuf::from(given);
    // Not a reference: a path, checked by whoever reads it, with its usual message.
    if path.exists() || !looks_like_reference(given) {
        return Ok(Script { path, origin: None });
    }
    registry::pull(given, network())
}

/// A reference names its registry host explicitly (a dot, a port or `localhost` before the
/// first slash), as Docker decides; anything else is taken for a missing file, so that a
/// typo in a path never sends a request to Docker Hub.
fn looks_like_reference(text: &str) -> bool {
    match text.split_once('/') {
        Some((host, rest)) => {
            !rest.is_empty()
                && (host.contains('.') || host.contains(':') || host == "localhost")
                && !text.ends_with(".wasm")
        }
        None => false,
    }
}

/// Loopback registries may speak plain HTTP without a flag: nothing leaves the machine.
fn is_loopback(host: &str) -> bool {
    let name =
        host.rsplit_once(':').map_or(host, |(h, port)| if port.chars().all(|c| c.is_ascii_digit()) { h } else { host });
    matches!(name, "localhost" | "127.0.0.1" | "[::1]") || name.starts_with("127.")
}
