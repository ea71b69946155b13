//! Disassembly with capstone, the library QEMU itself uses (linked from the system's
//! libcapstone, which the QEMU build installs). Only the few calls we need are declared.

use std::ffi::{CStr, c_char, c_int};

use anyhow::{Result, bail};

#[repr(C)]
struct CsInsn {
    id: u32,
    address: u64,
    size: u16,
    bytes: [u8; 16],
    mnemonic: [c_char; 32],
    op_str: [c_char; 160],
    detail: *mut std::ffi::c_void,
}

#[link(name = "capstone")]
unsafe extern "C" {
    fn cs_open(arch: c_int, mode: c_int, handle: *mut usize) -> c_int;
    fn cs_disasm(
        handle: usize,
        code: *const u8,
        size: usize,
        address: u64,
        count: usize,
        insn: *mut *mut CsInsn,
    ) -> usize;
    fn cs_free(insn: *mut CsInsn, count: usize);
    fn cs_close(handle: *mut usize) -> c_int;
    fn cs_option(handle: usize, kind: c_int, value: usize) -> c_int;
}

const CS_OPT_SYNTAX: c_int = 1;
const CS_OPT_SYNTAX_ATT: usize = 2;

const CS_ARCH_ARM64: c_int = 1;
const CS_ARCH_X86: c_int = 3;
const CS_MODE_LITTLE_ENDIAN: c_int = 0;
const CS_MODE_64: c_int = 1 << 3;

/// One disassembled instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub address: u64,
    pub size: u32,
    pub text: String,
}

/// Disassembles `code` located at `address` for QEMU target `arch`.
pub fn disassemble(arch: &str, address: u64, code: &[u8]) -> Result<Vec<Instruction>> {
    let (cs_arch, mode) = match arch {
        "x86_64" => (CS_ARCH_X86, CS_MODE_64),
        "aarch64" => (CS_ARCH_ARM64, CS_MODE_LITTLE_ENDIAN),
        other => bail!("no disassembler for {other}"),
    };
    let mut handle = 0usize;
    // SAFETY: plain capstone calls; `insns` is freed with the count capstone returned.
    unsafe {
        if cs_open(cs_arch, mode, &mut handle) != 0 {
            bail!("capstone cannot open {arch}");
        }
        if cs_arch == CS_ARCH_X86 {
            // AT&T, as QEMU's own disassembly (block facts) and objdump print it.
            cs_option(handle, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT);
        }
        let mut insns: *mut CsInsn = std::ptr::null_mut();
        let n = cs_disasm(handle, code.as_ptr(), code.len(), address, 0, &mut insns);
        let out = (0..n)
            .map(|i| {
                let insn = &*insns.add(i);
                let mnemonic = CStr::from_ptr(insn.mnemonic.as_ptr()).to_string_lossy();
                let ops = CStr::from_ptr(insn.op_str.as_ptr()).to_string_lossy();
                let text = if ops.is_empty() { mnemonic.into_owned() } else { format!("{mnemonic} {ops}") };
                Instruction { address: insn.address, size: u32::from(insn.size), text }
            })
            .collect();
        if n > 0 {
            cs_free(insns, n);
        }
        cs_close(&mut handle);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disassembles_x86_64_and_stops_at_garbage() {
        // push rbp; mov rbp, rsp; ret; then an invalid byte
        let code = [0x55, 0x48, 0x89, 0xe5, 0xc3, 0x06];
        let insns = disassemble("x86_64", 0x1000, &code).unwrap();
        let texts: Vec<_> = insns.iter().map(|i| (i.address, i.size, i.text.as_str())).collect();
        assert_eq!(texts, [(0x1000, 1, "pushq %rbp"), (0x1001, 3, "movq %rsp, %rbp"), (0x1004, 1, "retq")]);
    }

    #[test]
    fn disassembles_aarch64() {
        let ret = 0xd65f03c0u32.to_le_bytes();
        assert_eq!(disassemble("aarch64", 0x4000, &ret).unwrap()[0].text, "ret");
    }
}
