//! PLT stubs, named `name@plt` as objdump and gdb name them: each stub jumps through a GOT
//! slot, and the dynamic relocation of that slot names the function it leads to. The slot is
//! decoded from the stub's own instructions (x86's `jmp *slot`, AArch64's `adrp`+`ldr`,
//! RISC-V's `auipc`+`ld`, ARM's `add`+`add`+`ldr pc`), so `.plt`, `.plt.sec` and `.plt.got`
//! (IBT, BTI and lazy or eager binding alike) need no per-linker layout tables.

use std::collections::HashMap;

use object::{Architecture, Object, ObjectSection, ObjectSymbol, ObjectSymbolTable, RelocationTarget};

use super::{Candidate, Origin};

/// The PLT stubs of `file` with their names.
pub fn stubs(file: &object::File<'_>) -> Vec<Candidate> {
    let slots = slot_names(file);
    if slots.is_empty() {
        return Vec::new();
    }
    let arch = file.architecture();
    let got_plt = file.section_by_name(".got.plt").or_else(|| file.section_by_name(".got")).map(|s| s.address());
    let mut out = Vec::new();
    for section in file.sections() {
        let Ok(name) = section.name() else { continue };
        if !name.starts_with(".plt") && name != ".iplt" {
            continue;
        }
        let Ok(code) = section.data() else { continue };
        for (offset, size, slot) in decode(arch, section.address(), code, got_plt) {
            if let Some(target) = slots.get(&slot) {
                let start = section.address() + offset as u64;
                out.push(Candidate::new(start, size, Some(format!("{target}@plt")), Origin::Plt));
            }
        }
    }
    out
}

/// GOT slot address -> the name of the symbol its dynamic relocation binds.
fn slot_names(file: &object::File<'_>) -> HashMap<u64, String> {
    let (Some(relocations), Some(symbols)) = (file.dynamic_relocations(), file.dynamic_symbol_table()) else {
        return HashMap::new();
    };
    relocations
        .filter_map(|(slot, r)| match r.target() {
            RelocationTarget::Symbol(index) => {
                let name = symbols.symbol_by_index(index).ok()?.name().ok()?.to_owned();
                (!name.is_empty()).then_some((slot, name))
            }
            _ => None,
        })
        .collect()
}

/// (offset in the section, stub size, GOT slot) of each stub the section's code holds.
fn decode(arch: Architecture, address: u64, code: &[u8], got_plt: Option<u64>) -> Vec<(usize, u64, u64)> {
    let word = |at: usize| code.get(at..at + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap()));
    let mut out = Vec::new();
    match arch {
        Architecture::X86_64 | Architecture::I386 => {
            // Stubs are 16 bytes (8 in a `.plt.got` without IBT); the jump is somewhere inside.
            let size = if is_short_got_plt(code) { 8 } else { 16 };
            for start in (0..code.len()).step_by(size) {
                let stub = &code[start..(start + size).min(code.len())];
                let Some(at) = stub.windows(2).position(|w| w[0] == 0xff && matches!(w[1], 0x25 | 0xa3)) else {
                    continue;
                };
                let Some(field) = stub.get(at + 2..at + 6) else { continue };
                let disp = i32::from_le_bytes(field.try_into().unwrap()) as i64;
                let slot = match (arch, stub[at + 1]) {
                    // jmp *disp(%rip)
                    (Architecture::X86_64, 0x25) => (address + (start + at + 6) as u64).wrapping_add_signed(disp),
                    // jmp *abs32
                    (Architecture::I386, 0x25) => disp as u32 as u64,
                    // jmp *disp(%ebx), %ebx holding the GOT's address
                    (Architecture::I386, 0xa3) => match got_plt {
                        Some(got) => (got as u32).wrapping_add(disp as u32) as u64,
                        None => continue,
                    },
                    _ => continue,
                };
                out.push((start, size as u64, slot));
            }
        }
        Architecture::Aarch64 => {
            // adrp x16, page; ldr x17, [x16, #off] (after a `bti c` in BTI stubs)
            for at in (0..code.len()).step_by(4) {
                let (Some(adrp), Some(ldr)) = (word(at), word(at + 4)) else { break };
                if adrp & 0x9f00_001f != 0x9000_0010 || ldr & 0xffc0_03ff != 0xf940_0211 {
                    continue;
                }
                let imm = ((((adrp >> 5) & 0x7_ffff) << 2) | ((adrp >> 29) & 3)) as i64;
                let page_delta = ((imm << 43) >> 43) << 12;
                let pc = address + at as u64;
                let slot = (pc & !0xfff).wrapping_add_signed(page_delta) + u64::from((ldr >> 10) & 0xfff) * 8;
                let bti = at >= 4 && word(at - 4) == Some(0xd503_245f);
                let start = if bti { at - 4 } else { at };
                out.push((start, 16, slot));
            }
        }
        Architecture::Riscv64 => {
            // auipc t3, hi; ld t3, lo(t3); jalr t1, t3; nop
            for at in (0..code.len()).step_by(4) {
                let (Some(auipc), Some(ld)) = (word(at), word(at + 4)) else { break };
                if auipc & 0xfff == 0xe17 && ld & 0x000f_ffff == 0x000e_3e03 {
                    let hi = (auipc & 0xffff_f000) as i32 as i64;
                    let lo = (ld as i32 >> 20) as i64;
                    out.push((at, 16, (address + at as u64).wrapping_add_signed(hi + lo)));
                }
            }
        }
        Architecture::Arm => {
            // add ip, pc, #a; add ip, ip, #b; ldr pc, [ip, #c]!
            let rotated = |insn: u32| (insn & 0xff).rotate_right(((insn >> 8) & 0xf) * 2);
            for at in (0..code.len()).step_by(4) {
                let (Some(a), Some(b), Some(c)) = (word(at), word(at + 4), word(at + 8)) else { break };
                if a & 0xffff_f000 == 0xe28f_c000 && b & 0xffff_f000 == 0xe28c_c000 && c & 0xffff_f000 == 0xe5bc_f000 {
                    let slot =
                        address + at as u64 + 8 + u64::from(rotated(a)) + u64::from(rotated(b)) + u64::from(c & 0xfff);
                    out.push((at, 12, slot));
                }
            }
        }
        _ => {}
    }
    out
}

/// An x86 `.plt.got` of 8-byte stubs: `jmp *slot` followed by a 2-byte nop, repeated.
fn is_short_got_plt(code: &[u8]) -> bool {
    code.chunks(8).all(|c| c.len() == 8 && c[0] == 0xff && matches!(c[1], 0x25 | 0xa3) && c[6..8] == [0x66, 0x90])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_x86_64_stubs_and_the_short_got_plt() {
        // At 0x1020: PLT0 (push; jmp *GOT+16), then `jmp *0x2fe2(%rip); push $0; jmp PLT0` at 0x1030.
        let mut plt = vec![0xff, 0x35, 0xca, 0x2f, 0, 0, 0xff, 0x25, 0xcc, 0x2f, 0, 0, 0x0f, 0x1f, 0x40, 0];
        plt.extend([0xff, 0x25, 0xe2, 0x2f, 0, 0, 0x68, 0, 0, 0, 0, 0xe9, 0xe0, 0xff, 0xff, 0xff]);
        let stubs = decode(Architecture::X86_64, 0x1020, &plt, None);
        assert_eq!(stubs[1], (16, 16, 0x1030 + 6 + 0x2fe2));
        let got = [0xff, 0x25, 0x10, 0, 0, 0, 0x66, 0x90];
        assert_eq!(decode(Architecture::X86_64, 0x1040, &got, None), [(0, 8, 0x1040 + 6 + 0x10)]);
    }

    #[test]
    fn decodes_aarch64_and_riscv64_stubs() {
        // adrp x16, 0x11000 (from 0x10400); ldr x17, [x16, #0x18]; add; br x17
        let mut a64 = Vec::new();
        for w in [0xb000_0090u32, 0xf940_0e11, 0x9100_6210, 0xd61f_0220] {
            a64.extend(w.to_le_bytes());
        }
        assert_eq!(decode(Architecture::Aarch64, 0x10400, &a64, None), [(0, 16, 0x21018)]);
        // auipc t3, 0x2; ld t3, -8(t3); jalr t1, t3; nop
        let mut rv = Vec::new();
        for w in [0x0000_2e17u32, 0xff8e_3e03, 0x000e_0367, 0x0000_0013] {
            rv.extend(w.to_le_bytes());
        }
        assert_eq!(decode(Architecture::Riscv64, 0x600, &rv, None), [(0, 16, 0x600 + 0x2000 - 8)]);
    }
}
