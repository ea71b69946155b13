//! Reading guest memory from any thread (the analysis thread is not a vCPU, so QEMU's own
//! `qemu_plugin_read_memory_vaddr` is not available there). In user mode `process_vm_readv` on
//! our own process, which reports unmapped memory as an error instead of faulting; in system
//! mode the `symbols=` images and the code the vCPUs translated (`code_seen`).

use anyhow::{Result, bail};

pub fn read(guest_addr: u64, len: usize) -> Result<Vec<u8>> {
    if len > 64 << 20 {
        bail!("read of {len} bytes refused: at most 64 MiB at once");
    }
    if super::system_mode() {
        return super::images::read(guest_addr, len).or_else(|| super::code_seen::read(guest_addr, len)).ok_or_else(|| {
            anyhow::anyhow!(
                "cannot read guest memory at {guest_addr:#x}: under a system emulator only translated code and symbols= images can be read"
            )
        });
    }
    let mut buf = vec![0u8; len];
    let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: len };
    let remote = libc::iovec { iov_base: super::to_host(guest_addr) as usize as *mut _, iov_len: len };
    // SAFETY: `local` describes our own buffer; the kernel checks `remote`.
    let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    if n < 0 {
        bail!("cannot read guest memory at {guest_addr:#x}: {}", std::io::Error::last_os_error());
    }
    if n as usize != len {
        bail!("guest memory at {guest_addr:#x}: only {n} of {len} bytes are mapped");
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_mapped_and_rejects_unmapped_memory() {
        let data = [1u8, 2, 3, 4];
        assert_eq!(super::read(data.as_ptr() as u64, 4).unwrap(), data);
        assert!(super::read(8, 4).is_err());
    }
}
