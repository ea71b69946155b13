//! Disassembly for every guest architecture, with capstone 5 (the `capstone` crate, built from
//! its bundled source and linked statically). The system's libcapstone 4, which QEMU links,
//! has no RISC-V; our copy's `cs_*` symbols stay local to the cdylib (its version script exports
//! only the plugin entry points), so QEMU keeps calling its own.
//!
//! 32-bit ARM code comes in two instruction sets: [`disassemble`] splits the range into runs of
//! ARM, Thumb and data with what the ELF file (the caller's: `modules.rs` reads it) and QEMU's
//! translation say (`arm_isa.rs`).

use std::cell::RefCell;
use std::collections::HashMap;

use anyhow::{Result, bail};
use capstone::arch::{self, BuildsCapstone, BuildsCapstoneEndian, BuildsCapstoneExtraMode, BuildsCapstoneSyntax};
use capstone::{Capstone, Endian};

use super::arm_isa::{self, Isa};

/// One disassembled instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub address: u64,
    pub size: u32,
    pub text: String,
}

/// A capstone configuration: one per QEMU target, two for 32-bit ARM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Engine {
    X86_64,
    I386,
    Aarch64,
    Arm,
    Thumb,
    Riscv64,
    MipsBe,
    MipsLe,
    Ppc64Le,
}

impl Engine {
    fn of(arch: &str) -> Option<Self> {
        Some(match arch {
            "x86_64" => Self::X86_64,
            "i386" => Self::I386,
            "aarch64" => Self::Aarch64,
            "arm" => Self::Arm,
            "riscv64" => Self::Riscv64,
            "mips" => Self::MipsBe,
            "mipsel" => Self::MipsLe,
            "ppc64le" => Self::Ppc64Le,
            _ => return None,
        })
    }

    fn build(self) -> capstone::CsResult<Capstone> {
        use arch::{arm::ArchMode as A, mips::ArchMode as M, ppc::ArchMode as P, riscv::ArchMode as R};
        use arch::{riscv::ArchExtraMode as RX, x86::ArchMode as X, x86::ArchSyntax as XS};
        let cs = Capstone::new();
        match self {
            // AT&T, as QEMU's own disassembly (block facts) and objdump print x86.
            Self::X86_64 => cs.x86().mode(X::Mode64).syntax(XS::Att).build(),
            Self::I386 => cs.x86().mode(X::Mode32).syntax(XS::Att).build(),
            Self::Aarch64 => cs.arm64().mode(arch::arm64::ArchMode::Arm).build(),
            Self::Arm => cs.arm().mode(A::Arm).build(),
            Self::Thumb => cs.arm().mode(A::Thumb).build(),
            // RV64GC: compressed instructions included.
            Self::Riscv64 => cs.riscv().mode(R::RiscV64).extra_mode([RX::RiscVC].into_iter()).build(),
            Self::MipsBe => cs.mips().mode(M::Mips32).endian(Endian::Big).build(),
            Self::MipsLe => cs.mips().mode(M::Mips32).endian(Endian::Little).build(),
            Self::Ppc64Le => cs.ppc().mode(P::Mode64).endian(Endian::Little).build(),
        }
    }
}

thread_local! {
    /// Open capstone handles of this thread (a handle is not `Send`).
    static ENGINES: RefCell<HashMap<Engine, Capstone>> = RefCell::new(HashMap::new());
}

/// Disassembles `code` with one engine. Where bytes do not decode, x86 stops (its lengths
/// vary, so nothing after can be trusted); fixed-width targets show the unit as data, like
/// objdump (`.long 0x0` of a PowerPC traceback table), and go on.
fn run(engine: Engine, address: u64, code: &[u8]) -> Result<Vec<Instruction>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < code.len() {
        let part = decode_run(engine, address + at as u64, &code[at..])?;
        at += part.iter().map(|i| i.size as usize).sum::<usize>();
        out.extend(part);
        let (unit, directive) = match engine {
            Engine::X86_64 | Engine::I386 => break,
            Engine::Thumb | Engine::Riscv64 => (2, ".short"),
            Engine::Aarch64 => (4, ".inst"),
            Engine::Ppc64Le => (4, ".long"),
            Engine::Arm | Engine::MipsBe | Engine::MipsLe => (4, ".word"),
        };
        let Some(bytes) = code.get(at..at + unit) else { break };
        let value = match (unit, engine) {
            (2, _) => u64::from(u16::from_le_bytes([bytes[0], bytes[1]])),
            (_, Engine::MipsBe) => u64::from(u32::from_be_bytes(bytes.try_into().unwrap())),
            _ => u64::from(u32::from_le_bytes(bytes.try_into().unwrap())),
        };
        out.push(Instruction {
            address: address + at as u64,
            size: unit as u32,
            text: format!("{directive} {value:#x}"),
        });
        at += unit;
    }
    Ok(out)
}

/// Disassembles `code` with one engine until its end or the first undecodable bytes.
fn decode_run(engine: Engine, address: u64, code: &[u8]) -> Result<Vec<Instruction>> {
    ENGINES.with_borrow_mut(|engines| {
        let cs = match engines.entry(engine) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => match engine.build() {
                Ok(cs) => v.insert(cs),
                Err(e) => bail!("capstone cannot open {engine:?}: {e}"),
            },
        };
        let insns = match cs.disasm_all(code, address) {
            Ok(insns) => insns,
            Err(e) => bail!("capstone: {e}"),
        };
        Ok(insns
            .iter()
            .map(|i| {
                let (mnemonic, ops) = (i.mnemonic().unwrap_or(""), i.op_str().unwrap_or(""));
                let text = match engine {
                    Engine::Riscv64 => riscv_text(mnemonic, ops, i.address()),
                    _ if ops.is_empty() => mnemonic.to_owned(),
                    _ => format!("{mnemonic} {ops}"),
                };
                Instruction { address: i.address(), size: i.len() as u32, text }
            })
            .collect())
    })
}

/// Capstone 5 prints RISC-V compressed instructions under their `c.` names, with the two
/// operands of the compressed encoding, and branch targets as offsets; objdump (and QEMU)
/// print the base instruction with all its operands and the target address. We do the same
/// so that listings read alike: `c.lwsp a5, 0xc(sp)` becomes `lw a5, 0xc(sp)`, `c.sub a1, a5`
/// becomes `sub a1, a1, a5`, `c.bnez a5, -0x1a` at 0x10668 becomes `bnez a5, 0x1064e`.
fn riscv_text(mnemonic: &str, ops: &str, address: u64) -> String {
    let compressed = mnemonic.starts_with("c.");
    let base = mnemonic.strip_prefix("c.").unwrap_or(mnemonic);
    // The compressed forms whose destination is also their first source (`rd = rd op x`).
    let ops = match (compressed, base) {
        (
            true,
            "add" | "sub" | "and" | "or" | "xor" | "addw" | "subw" | "addi" | "addiw" | "slli" | "srli" | "srai"
            | "andi" | "addi16sp",
        ) if ops.split(", ").count() == 2 => {
            let (rd, rest) = ops.split_once(", ").unwrap_or((ops, ""));
            format!("{rd}, {rd}, {rest}")
        }
        _ => ops.to_owned(),
    };
    let ops = ops.as_str();
    let base = match base {
        "lwsp" => "lw",
        "ldsp" => "ld",
        "swsp" => "sw",
        "sdsp" => "sd",
        "fldsp" => "fld",
        "fsdsp" => "fsd",
        "addi16sp" | "addi4spn" => "addi",
        other => other,
    };
    let pc_relative = matches!(
        base,
        "beq"
            | "bne"
            | "blt"
            | "bge"
            | "bltu"
            | "bgeu"
            | "beqz"
            | "bnez"
            | "blez"
            | "bgez"
            | "bltz"
            | "bgtz"
            | "j"
            | "jal"
    );
    let mut ops = ops.to_owned();
    if pc_relative {
        let (head, last) = match ops.rsplit_once(", ") {
            Some((h, l)) => (format!("{h}, "), l.to_owned()),
            None => (String::new(), ops.clone()),
        };
        let (neg, digits) = last.strip_prefix('-').map_or((false, last.as_str()), |d| (true, d));
        let value = match digits.strip_prefix("0x") {
            Some(hex) => i64::from_str_radix(hex, 16).ok(),
            None => digits.parse().ok(),
        };
        if let Some(v) = value {
            ops = format!("{head}{:#x}", address.wrapping_add_signed(if neg { -v } else { v }));
        }
    }
    if ops.is_empty() { base.to_owned() } else { format!("{base} {ops}") }
}

/// Decodes 32-bit ARM code in a known instruction set (data as `.word`, like objdump).
pub fn decode(isa: Isa, address: u64, code: &[u8]) -> Vec<Instruction> {
    match isa {
        Isa::Arm => run(Engine::Arm, address, code).unwrap_or_default(),
        Isa::Thumb => run(Engine::Thumb, address, code).unwrap_or_default(),
        Isa::Data => data_words(address, code),
    }
}

/// Literal pools and other data inside code, as objdump shows them: a `.word` per 4 bytes.
fn data_words(address: u64, code: &[u8]) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < code.len() {
        let rest = &code[at..];
        let (size, text) = match rest.len() {
            4.. => (4, format!(".word 0x{:08x}", u32::from_le_bytes(rest[..4].try_into().unwrap()))),
            2 | 3 => (2, format!(".short 0x{:04x}", u16::from_le_bytes(rest[..2].try_into().unwrap()))),
            _ => (1, format!(".byte 0x{:02x}", rest[0])),
        };
        out.push(Instruction { address: address + at as u64, size, text });
        at += size as usize;
    }
    out
}

/// The mnemonic of `code`'s first instruction decoded as Thumb (for `arm_isa`).
pub fn thumb_mnemonic(code: &[u8]) -> Option<String> {
    let insns = decode(Isa::Thumb, 0, code);
    insns.first().map(|i| i.text.split_whitespace().next().unwrap_or("").to_owned())
}

/// Disassembles `code` located at `address` for QEMU target `arch`, stopping at the first
/// undecodable bytes (on arm: at the first such bytes of each run of one instruction set).
/// `arm_elf` is what the module's ELF file says about 32-bit ARM instruction sets there
/// (`modules.rs`; empty elsewhere): see [`arm_isa::split`].
pub fn disassemble(arch: &str, address: u64, code: &[u8], arm_elf: &[(u64, u64, Isa)]) -> Result<Vec<Instruction>> {
    let Some(engine) = Engine::of(arch) else { bail!("no disassembler for {arch}") };
    if engine != Engine::Arm {
        return run(engine, address, code);
    }
    let end = address + code.len() as u64;
    let mut out = Vec::new();
    for (start, stop, isa) in arm_isa::split(address, end, arm_elf) {
        let bytes = &code[(start - address) as usize..(stop - address) as usize];
        out.extend(decode(isa, start, bytes));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(arch: &str, address: u64, code: &[u8]) -> Vec<(u64, u32, String)> {
        disassemble(arch, address, code, &[]).unwrap().into_iter().map(|i| (i.address, i.size, i.text)).collect()
    }

    fn t(list: &[(u64, u32, &str)]) -> Vec<(u64, u32, String)> {
        list.iter().map(|&(a, s, x)| (a, s, x.to_owned())).collect()
    }

    #[test]
    fn disassembles_x86_64_and_stops_at_garbage() {
        // push rbp; mov rbp, rsp; ret; then an invalid byte
        let code = [0x55, 0x48, 0x89, 0xe5, 0xc3, 0x06, 0x55];
        assert_eq!(
            texts("x86_64", 0x1000, &code),
            t(&[(0x1000, 1, "pushq %rbp"), (0x1001, 3, "movq %rsp, %rbp"), (0x1004, 1, "retq")])
        );
    }

    #[test]
    fn disassembles_i386() {
        // push ebp; mov ebp, esp; ret
        let code = [0x55, 0x89, 0xe5, 0xc3];
        assert_eq!(
            texts("i386", 0x8049000, &code),
            t(&[(0x8049000, 1, "pushl %ebp"), (0x8049001, 2, "movl %esp, %ebp"), (0x8049003, 1, "retl")])
        );
    }

    #[test]
    fn disassembles_aarch64() {
        let ret = 0xd65f03c0u32.to_le_bytes();
        assert_eq!(texts("aarch64", 0x4000, &ret), t(&[(0x4000, 4, "ret")]));
    }

    #[test]
    fn disassembles_arm_and_thumb() {
        // ARM: push {r4, lr}; bx lr (4-aligned address without ELF information: ARM)
        let mut code = 0xe92d4010u32.to_le_bytes().to_vec();
        code.extend(0xe12fff1eu32.to_le_bytes());
        assert_eq!(
            texts("arm", 0x7f00_0000, &code),
            t(&[(0x7f00_0000, 4, "push {r4, lr}"), (0x7f00_0004, 4, "bx lr")])
        );
        // Thumb: push {r4, lr}; pop {r4, pc}
        let thumb = [0x10, 0xb5, 0x10, 0xbd];
        assert_eq!(decode(Isa::Thumb, 0x10450, &thumb).len(), 2);
        assert_eq!(decode(Isa::Thumb, 0x10450, &thumb)[1].text, "pop {r4, pc}");
        assert_eq!(decode(Isa::Data, 0x100, &[1, 0, 0, 0, 2, 0])[1].text, ".short 0x0002");
    }

    #[test]
    fn disassembles_riscv64_with_compressed_instructions() {
        // addi sp, sp, -16 (4 bytes); c.ret (2 bytes)
        let code = [0x13, 0x01, 0x01, 0xff, 0x82, 0x80];
        let insns = texts("riscv64", 0x10000, &code);
        assert_eq!(insns.iter().map(|i| (i.0, i.1)).collect::<Vec<_>>(), [(0x10000, 4), (0x10004, 2)]);
        assert_eq!(insns[0].2, "addi sp, sp, -0x10");
        assert_eq!(insns[1].2, "jr ra");
        // c.bnez a5, -0x1a at 0x10668 (objdump: bnez a5,1064e); jal -0x52 at 0x1066a
        let code = [0xfd, 0xf3, 0xef, 0xf0, 0xff, 0xfa];
        let insns = texts("riscv64", 0x10668, &code);
        assert_eq!(insns[0].2, "bnez a5, 0x1064e");
        assert_eq!(insns[1].2, "jal 0x10618");
        // c.sub a1, a5; c.addi16sp sp, -16; c.srli a1, 63 (objdump: sub a1,a1,a5;
        // addi sp,sp,-16; srli a1,a1,0x3f)
        let code = [0x9d, 0x8d, 0x41, 0x11, 0xfd, 0x91];
        let insns = texts("riscv64", 0x105b4, &code);
        assert_eq!(insns[0].2, "sub a1, a1, a5");
        assert_eq!(insns[1].2, "addi sp, sp, -0x10");
        assert_eq!(insns[2].2, "srli a1, a1, 0x3f");
    }

    #[test]
    fn disassembles_mips_in_both_byte_orders() {
        // jr ra; nop
        let be = [0x03, 0xe0, 0x00, 0x08, 0, 0, 0, 0];
        let le = [0x08, 0x00, 0xe0, 0x03, 0, 0, 0, 0];
        let want = t(&[(0x400000, 4, "jr $ra"), (0x400004, 4, "nop")]);
        assert_eq!(texts("mips", 0x400000, &be), want);
        assert_eq!(texts("mipsel", 0x400000, &le), want);
    }

    #[test]
    fn disassembles_ppc64le() {
        // blr; addi r3, r3, 1 (little-endian words)
        let mut code = 0x4e800020u32.to_le_bytes().to_vec();
        code.extend(0x38630001u32.to_le_bytes());
        assert_eq!(
            texts("ppc64le", 0x10000000, &code),
            t(&[(0x10000000, 4, "blr"), (0x10000004, 4, "addi r3, r3, 1")])
        );
        // A traceback table's zero word is data, and decoding goes on after it.
        code.splice(4..4, [0u8; 4]);
        let insns = texts("ppc64le", 0x10000000, &code);
        assert_eq!(insns[1], (0x10000004, 4, ".long 0x0".to_owned()));
        assert_eq!(insns[2].2, "addi r3, r3, 1");
    }

    #[test]
    fn refuses_unknown_targets() {
        assert!(disassemble("sparc", 0, &[0; 4], &[]).is_err());
    }
}
