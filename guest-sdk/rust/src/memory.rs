//! Decoding `event-batch.mem-info`.

/// Access size in bytes (1, 2, 4, 8 or 16).
pub fn size(info: u8) -> u32 {
    1 << (info & 0x7)
}

/// True for a store, false for a load.
pub fn is_store(info: u8) -> bool {
    info & 0x8 != 0
}

/// True for a sign-extending load.
pub fn is_sign_extended(info: u8) -> bool {
    info & 0x10 != 0
}

/// True for a big-endian access.
pub fn is_big_endian(info: u8) -> bool {
    info & 0x20 != 0
}
