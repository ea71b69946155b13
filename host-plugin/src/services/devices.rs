//! Numbers for the I/O devices memory accesses reach (`event-batch.mem-device`), and their
//! names for `host.device-name`. QEMU names a device's memory region with a string it interns
//! for the life of the process, so the string's address identifies the device: the vCPU
//! callback compares addresses and takes the lock only to number a device it has not seen.

use std::ffi::CStr;
use std::sync::RwLock;

/// Device i + 1: (the interned name's address, the name).
static DEVICES: RwLock<Vec<(usize, String)>> = RwLock::new(Vec::new());

/// The number of the device named by `name` (an interned QEMU string), from 1.
pub fn number(name: &'static CStr) -> u16 {
    let key = name.as_ptr() as usize;
    let find = |devices: &[(usize, String)]| devices.iter().position(|(k, _)| *k == key);
    if let Some(i) = find(&DEVICES.read().unwrap_or_else(|p| p.into_inner())) {
        return (i + 1) as u16;
    }
    let mut devices = DEVICES.write().unwrap_or_else(|p| p.into_inner());
    let i = find(&devices).unwrap_or_else(|| {
        devices.push((key, name.to_string_lossy().into_owned()));
        devices.len() - 1
    });
    // More than 65535 distinct regions would be a machine nobody builds; they share the last.
    (i + 1).min(u16::MAX as usize) as u16
}

/// The name of device `number`; none for 0 (RAM and ROM) or an unknown number.
pub fn name(number: u16) -> Option<String> {
    let devices = DEVICES.read().unwrap_or_else(|p| p.into_inner());
    devices.get(usize::from(number).checked_sub(1)?).map(|(_, n)| n.clone())
}
