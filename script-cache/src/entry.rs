//! One cache file: `FORMAT`, the SHA-256 of the payload, the payload (wasmtime's serialized
//! component). The checksum catches what the file system can do to a file (truncation by a
//! full disk, a damaged block, a copy cut short); it is not a signature: the directory's
//! ownership is what keeps other users out (dir.rs).

use sha2::{Digest, Sha256};

/// The header, also hashed into every key: a new entry layout changes every key.
pub const FORMAT: &[u8; 16] = b"cannonball-cwsm1";

/// Cache files are named `<key>.cwasm`.
pub const EXTENSION: &str = "cwasm";

const DIGEST: usize = 32;

/// The file's bytes for `payload`.
pub fn seal(payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(FORMAT.len() + DIGEST + payload.len());
    bytes.extend_from_slice(FORMAT);
    bytes.extend_from_slice(&Sha256::digest(payload));
    bytes.extend_from_slice(payload);
    bytes
}

/// The payload of a file written by [`seal`], or why the file is not one.
pub fn open(bytes: &[u8]) -> Result<&[u8], String> {
    let header = FORMAT.len() + DIGEST;
    if bytes.len() < header || &bytes[..FORMAT.len()] != FORMAT {
        return Err("not a cache entry of this version".into());
    }
    let payload = &bytes[header..];
    if Sha256::digest(payload).as_slice() != &bytes[FORMAT.len()..header] {
        return Err("checksum mismatch (damaged or truncated)".into());
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_payload_opens_and_any_damage_is_caught() {
        let payload: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let sealed = seal(&payload);
        assert_eq!(open(&sealed).unwrap(), &payload[..]);
        for cut in [0, 10, FORMAT.len() + DIGEST, sealed.len() - 1] {
            assert!(open(&sealed[..cut]).is_err(), "truncated at {cut}");
        }
        for at in [0, FORMAT.len() + 3, sealed.len() / 2, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[at] ^= 0x40;
            assert!(open(&bad).is_err(), "flipped byte {at}");
        }
    }
}
