//! Code between known functions: a linear sweep that skips padding and splits where padding
//! follows an unconditional transfer of control, which is where compilers and assemblers
//! end one function and align the next.

use crate::services::disasm::{self, Instruction};

/// The functions in the gap [start, end) whose bytes are `code`, as [start, end) pairs.
/// Without a disassembler for `arch` (or on 32-bit ARM, whose instruction set the sweep
/// cannot know), the whole gap is one function.
pub fn split(arch: &str, start: u64, end: u64, code: &[u8]) -> Vec<(u64, u64)> {
    let insns = match arch {
        "" | "arm" => None,
        _ => disasm::disassemble(arch, start, code, &[]).ok(),
    };
    let Some(insns) = insns.filter(|i| !i.is_empty()) else { return vec![(start, end)] };
    let mut pieces = Vec::new();
    let mut open: Option<u64> = None;
    // The furthest forward branch target of the open function: padding before it is the
    // function's own alignment (a loop head, a shared `ret`), not its end.
    let mut furthest = 0u64;
    let mut padding_from: Option<u64> = None;
    // At the gap's start, as after a transfer: leading padding belongs to no function.
    let mut after_transfer = true;
    for insn in &insns {
        if after_transfer && is_padding(arch, insn) {
            if open.is_some() {
                padding_from.get_or_insert(insn.address);
            }
            continue;
        }
        if let Some(from) = padding_from.take()
            && insn.address > furthest
            && let Some(s) = open.take()
        {
            pieces.push((s, from));
        }
        open.get_or_insert(insn.address);
        if let Some(target) = direct_target(&insn.text).filter(|&t| t > insn.address && t < end) {
            furthest = furthest.max(target);
        }
        after_transfer = is_transfer(arch, &insn.text);
    }
    // Bytes after the last decoded instruction (x86 stops at undecodable bytes) stay with the
    // function before them; trailing padding does not.
    if let Some(s) = open {
        pieces.push((s, padding_from.unwrap_or(end)));
    }
    pieces
}

/// The address a direct branch names as its last operand (`je 0x1234`, `b.ne #0x1234`).
fn direct_target(text: &str) -> Option<u64> {
    let last = text.rsplit([' ', ',']).next()?.trim_start_matches('#');
    u64::from_str_radix(last.strip_prefix("0x")?, 16).ok()
}

/// Filler between functions: no-operations of every length, int3, and zero units.
fn is_padding(arch: &str, insn: &Instruction) -> bool {
    let text = insn.text.as_str();
    let mnemonic = text.split_whitespace().next().unwrap_or("");
    if mnemonic.starts_with("nop") || mnemonic == "int3" {
        return true;
    }
    match arch {
        "x86_64" => text == "addb %al, (%rax)" || text == "xchgw %ax, %ax",
        // i386 pads with `lea 0(%esi,%eiz), %esi` and `mov %esi, %esi` as well.
        "i386" => {
            text == "addb %al, (%eax)"
                || text == "xchgw %ax, %ax"
                || (mnemonic == "leal" && text.contains("(%esi") && text.ends_with(", %esi"))
                || text == "movl %esi, %esi"
                || text == "movl %edi, %edi"
        }
        _ => text == "udf #0" || text.ends_with(" 0x0") && text.starts_with('.'),
    }
}

/// Whether control never falls through `text` into the next instruction.
fn is_transfer(arch: &str, text: &str) -> bool {
    let mnemonic = text.split_whitespace().next().unwrap_or("");
    match arch {
        "x86_64" | "i386" => {
            mnemonic.starts_with("ret") || mnemonic.starts_with("jmp") || mnemonic == "hlt" || mnemonic == "ud2"
        }
        "aarch64" => matches!(mnemonic, "ret" | "b" | "br" | "brk" | "udf") || mnemonic.starts_with("reta"),
        "riscv64" => matches!(mnemonic, "ret" | "j" | "jr" | "ebreak" | "unimp"),
        "ppc64le" => matches!(mnemonic, "blr" | "b" | "bctr" | "trap"),
        // MIPS transfers have a delay slot: the instruction after them still runs.
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_padding_and_splits_after_a_return() {
        // 0x1000: nopw %cs:0(%rax,%rax) (10 bytes); 0x100a: ret; 0x100b: nop x5; 0x1010: push %rbp; ret
        let mut code = vec![0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0];
        code.push(0xc3);
        code.extend([0x90; 5]);
        code.extend([0x55, 0xc3]);
        let end = 0x1000 + code.len() as u64;
        assert_eq!(split("x86_64", 0x1000, end, &code), [(0x100a, 0x100b), (0x1010, end)]);
    }

    #[test]
    fn keeps_padding_before_a_target_of_the_function() {
        // crtstuff's deregister_tm_clones: je 0x1006 (to the ret); jmp *%rax; nop x2; ret;
        // then padding and the next function.
        let code = [0x74, 0x04, 0xff, 0xe0, 0x90, 0x90, 0xc3, 0x90, 0x55, 0xc3];
        let end = 0x1000 + code.len() as u64;
        assert_eq!(split("x86_64", 0x1000, end, &code), [(0x1000, 0x1007), (0x1008, end)]);
    }

    #[test]
    fn keeps_alignment_inside_a_function_that_falls_through() {
        // push %rbp; nop x3; pop %rbp; ret: the nops follow no transfer.
        let code = [0x55, 0x90, 0x90, 0x90, 0x5d, 0xc3];
        assert_eq!(split("x86_64", 0x2000, 0x2006, &code), [(0x2000, 0x2006)]);
    }

    #[test]
    fn a_gap_of_padding_only_has_no_function() {
        assert!(split("x86_64", 0x3000, 0x3004, &[0x90; 4]).is_empty());
        assert_eq!(split("arm", 0x3000, 0x3004, &[0; 4]), [(0x3000, 0x3004)]);
    }
}
