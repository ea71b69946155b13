//! Talking to a registry: the client (protocol, credentials), and pulling a script into the
//! cache.

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use oci_wasm::{WASM_LAYER_MEDIA_TYPE, WASM_MANIFEST_CONFIG_MEDIA_TYPE, WasmClient};

use super::cache::Cache;
use super::{Network, Origin, Script, is_loopback};

pub fn parse(text: &str) -> Result<Reference> {
    let reference: Reference = text.parse().map_err(|e| anyhow!("malformed reference {text}: {e}"))?;
    Ok(reference)
}

pub fn client(reference: &Reference, network: Network) -> WasmClient {
    let host = reference.resolve_registry().to_string();
    let protocol = if network.insecure || is_loopback(&host) { ClientProtocol::Http } else { ClientProtocol::Https };
    WasmClient::new(Client::new(ClientConfig { protocol, ..Default::default() }))
}

/// Credentials as Docker and other OCI clients find them: `CANNONBALL_REGISTRY_USER` and
/// `CANNONBALL_REGISTRY_PASSWORD`, else the `auths` entry for the host in
/// `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`), else anonymous.
pub fn auth(reference: &Reference) -> RegistryAuth {
    if let (Ok(user), Ok(password)) =
        (std::env::var("CANNONBALL_REGISTRY_USER"), std::env::var("CANNONBALL_REGISTRY_PASSWORD"))
    {
        return RegistryAuth::Basic(user, password);
    }
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".docker")));
    let config = dir.and_then(|d| std::fs::read_to_string(d.join("config.json")).ok());
    let entry = config
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|json| json.get("auths")?.get(reference.resolve_registry())?.get("auth")?.as_str().map(String::from));
    let decoded = entry
        .and_then(|e| base64::engine::general_purpose::STANDARD.decode(e).ok())
        .and_then(|b| String::from_utf8(b).ok());
    match decoded.as_deref().and_then(|d| d.split_once(':')) {
        Some((user, password)) => RegistryAuth::Basic(user.into(), password.into()),
        None => RegistryAuth::Anonymous,
    }
}

/// A runtime for one registry conversation: the CLI is otherwise synchronous.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime").block_on(future)
}

/// One line for a registry error: the cause chain's last words, which say what went wrong.
pub fn explain(reference: &str, err: impl std::fmt::Display) -> anyhow::Error {
    let text = err.to_string();
    // reqwest's words for a refused or unresolvable connection name only the URL.
    if text.contains("error sending request") {
        return anyhow!("registry of {reference} unreachable: {text}");
    }
    anyhow!("registry {reference}: {text}")
}

/// Pulls (or finds in the cache) the component a reference names.
pub fn pull(text: &str, network: Network) -> Result<Script> {
    let reference = parse(text)?;
    let cache = Cache::open()?;
    // A digest reference is its own truth; a tag is asked again whenever the network may be
    // used (tags move), and the cached answer serves only offline or with the registry down.
    let manifest_digest = match (reference.digest(), network.offline) {
        (Some(digest), _) => digest.to_string(),
        (None, true) => cache
            .recall_tag(text)
            .ok_or_else(|| anyhow!("{text} is not in the cache, and --offline forbids asking the registry"))?,
        (None, false) => {
            match block_on(client(&reference, network).fetch_manifest_digest(&reference, &auth(&reference))) {
                Ok(digest) => {
                    cache.remember_tag(text, &digest)?;
                    digest
                }
                Err(err) => match cache.recall_tag(text) {
                    Some(digest) if cache.get(&digest)?.is_some() => {
                        eprintln!(
                            "cannonball: warning: registry unreachable ({err}); using the cached {text} = {digest}"
                        );
                        digest
                    }
                    _ => return Err(explain(text, err)),
                },
            }
        }
    };
    let pinned = reference.clone_with_digest(manifest_digest.clone());
    let manifest_bytes = match cache.get(&manifest_digest)? {
        Some(bytes) => bytes,
        None if network.offline => {
            bail!("{text} ({manifest_digest}) is not in the cache, and --offline forbids asking the registry")
        }
        None => {
            let client = client(&reference, network);
            let (bytes, _) = block_on(client.pull_manifest_raw(
                &pinned,
                &auth(&reference),
                &[oci_wasm::WASM_MANIFEST_MEDIA_TYPE, "application/vnd.oci.image.index.v1+json"],
            ))
            .map_err(|e| explain(text, e))?;
            cache.put(&manifest_digest, &bytes).with_context(|| format!("manifest of {text}"))?;
            bytes.to_vec()
        }
    };
    let manifest: OciImageManifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| anyhow!("{text} is not a Wasm component artifact: its manifest does not parse ({e})"))?;
    let layer = check_wasm_manifest(text, &manifest)?;
    let path = match cache.get(&layer.digest)? {
        Some(_) => cache.blob_path(&layer.digest)?,
        None if network.offline => {
            bail!("{text}'s component {} is not in the cache, and --offline forbids asking the registry", layer.digest)
        }
        None => {
            let client = client(&reference, network);
            let mut bytes = Vec::new();
            block_on(client.pull_blob(&pinned, &layer, &mut bytes)).map_err(|e| explain(text, e))?;
            check_component(text, &bytes)?;
            cache.put(&layer.digest, &bytes).with_context(|| format!("component of {text}"))?
        }
    };
    Ok(Script {
        path,
        origin: Some(Origin {
            reference: text.to_string(),
            manifest_digest,
            layer_digest: layer.digest.clone(),
            annotations: manifest.annotations.clone().unwrap_or_default(),
        }),
    })
}

fn check_wasm_manifest<'m>(
    text: &str,
    manifest: &'m OciImageManifest,
) -> Result<&'m oci_client::manifest::OciDescriptor> {
    if manifest.config.media_type != WASM_MANIFEST_CONFIG_MEDIA_TYPE {
        bail!(
            "{text} is not a Wasm component artifact: its config is {} (expected {WASM_MANIFEST_CONFIG_MEDIA_TYPE})",
            manifest.config.media_type
        );
    }
    match manifest.layers.as_slice() {
        [layer] if layer.media_type == WASM_LAYER_MEDIA_TYPE => Ok(layer),
        layers => bail!(
            "{text} is not a Wasm component artifact: expected one {WASM_LAYER_MEDIA_TYPE} layer, found {}",
            layers.len()
        ),
    }
}

/// A component starts with the Wasm magic and the component layer's version (a core module
/// has version 1): checked before anything is cached or compiled.
pub fn check_component(text: &str, bytes: &[u8]) -> Result<()> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        bail!("{text} is not a Wasm component: its layer is not WebAssembly");
    }
    if bytes[4..8] == [1, 0, 0, 0] {
        bail!("{text} is a core Wasm module, not a component (build it with `cannonball build`)");
    }
    Ok(())
}
