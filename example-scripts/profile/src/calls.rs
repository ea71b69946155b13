//! What a block's last instruction does to the call stack, per guest architecture, from the
//! disassembly in the block facts (capstone's text: AT&T syntax on x86, objdump's names
//! elsewhere).

/// How a block ends, as far as the call stack is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// A call: the return address is the end of the block (after the delay slot on MIPS).
    Call,
    /// A return through the return address (register or stack).
    Ret,
    /// A system call: a signal handler may run next.
    Syscall,
    /// Anything else: a jump, a branch, or no transfer at all.
    Other,
}

fn mnemonic_and_operands(disas: &str) -> (&str, &str) {
    let disas = disas.trim();
    match disas.split_once(char::is_whitespace) {
        Some((m, rest)) => (m, rest.trim()),
        None => (disas, ""),
    }
}

/// x86 prefixes that can precede call and ret in capstone's text.
const X86_PREFIXES: &[&str] = &["bnd", "notrack", "rep", "repz", "repe", "data16"];

fn x86(disas: &str) -> End {
    let mut words = disas.split_whitespace().skip_while(|w| X86_PREFIXES.contains(w));
    let m = words.next().unwrap_or("");
    if m.starts_with("call") || m == "lcall" {
        End::Call
    } else if m.starts_with("ret") || m == "lret" {
        End::Ret
    } else if matches!(m, "syscall" | "sysenter" | "int") {
        End::Syscall
    } else {
        End::Other
    }
}

fn aarch64(disas: &str) -> End {
    let (m, _) = mnemonic_and_operands(disas);
    match m {
        "bl" | "blr" | "blraa" | "blraaz" | "blrab" | "blrabz" => End::Call,
        "ret" | "retaa" | "retab" => End::Ret,
        "svc" => End::Syscall,
        _ => End::Other,
    }
}

/// ARM condition codes: a conditional call or return is still one (when not taken, the next
/// block is the fall-through and nothing changes).
const ARM_CONDS: &[&str] =
    &["", "eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al"];

fn arm_is(m: &str, base: &str) -> bool {
    let m = m.trim_end_matches(".w").trim_end_matches(".n");
    m.strip_prefix(base).is_some_and(|c| ARM_CONDS.contains(&c))
}

fn arm(disas: &str) -> End {
    let (m, ops) = mnemonic_and_operands(disas);
    let ops = ops.replace(' ', "");
    let pops_pc = ops.ends_with("pc}") || ops.contains(",pc}") || ops.contains("{pc}");
    if arm_is(m, "bl") || arm_is(m, "blx") {
        End::Call
    } else if (arm_is(m, "bx") && ops == "lr")
        || (arm_is(m, "pop") && pops_pc)
        || ((arm_is(m, "ldm") || arm_is(m, "ldmia") || arm_is(m, "ldmfd")) && ops.starts_with("sp!") && pops_pc)
        || (arm_is(m, "ldr") && ops.starts_with("pc,[sp]"))
        || (arm_is(m, "mov") && ops == "pc,lr")
    {
        End::Ret
    } else if arm_is(m, "svc") || arm_is(m, "swi") {
        End::Syscall
    } else {
        End::Other
    }
}

fn riscv(disas: &str) -> End {
    let (m, ops) = mnemonic_and_operands(disas);
    let m = m.trim_start_matches("c.");
    let first = ops.split(',').next().unwrap_or("").trim();
    match m {
        "ret" => End::Ret,
        // jr ra, or jalr zero, 0(ra) / jalr zero, ra, 0: a return.
        "jr" if first == "ra" => End::Ret,
        "jalr" if first == "zero" && ops.contains("ra") => End::Ret,
        // jal/jalr link into ra unless the destination is zero (then they are j/jr).
        "jal" | "jalr" if first != "zero" => End::Call,
        "ecall" => End::Syscall,
        _ => End::Other,
    }
}

fn mips(disas: &str) -> End {
    let (m, ops) = mnemonic_and_operands(disas);
    match m {
        "jal" | "jalr" | "jalr.hb" | "jalx" | "bal" | "bgezal" | "bltzal" | "jalrc" | "jialc" | "balc" => End::Call,
        "jr" | "jr.hb" | "jrc" | "jic" if ops.trim() == "$ra" || ops.starts_with("$ra") => End::Ret,
        "syscall" => End::Syscall,
        _ => End::Other,
    }
}

fn ppc(disas: &str) -> End {
    let (m, _) = mnemonic_and_operands(disas);
    let m = m.trim_end_matches(['+', '-']);
    if m == "sc" || m == "scv" {
        return End::Syscall;
    }
    let Some(rest) = m.strip_prefix('b') else { return End::Other };
    // b[cond]lr: return; b[cond]l, b[cond]ctrl, b[cond]lrl, bla: call (link bit set).
    if rest.ends_with("lrl") || rest.ends_with("ctrl") || rest == "l" || rest == "la" {
        return End::Call;
    }
    if rest.ends_with("lr") {
        return End::Ret;
    }
    // Conditional branch-and-link: bc l, beql, bnel, ... (b<cond>l).
    const CONDS: &[&str] = &["eq", "ne", "lt", "gt", "le", "ge", "so", "ns", "un", "nu", "dnz", "dz", "c"];
    if rest.strip_suffix('l').is_some_and(|c| CONDS.contains(&c)) {
        return End::Call;
    }
    End::Other
}

/// How a block whose instructions disassemble as `disas` ends, on `arch`. On MIPS a block that
/// ends with a branch ends with its delay slot: the branch is the second-to-last instruction.
pub fn block_end(arch: &str, disas: &[String]) -> End {
    let Some(last) = disas.last() else { return End::Other };
    match arch {
        "x86_64" | "i386" => x86(last),
        "aarch64" => aarch64(last),
        "arm" => arm(last),
        "riscv64" | "riscv32" => riscv(last),
        "mips" | "mipsel" | "mips64" | "mips64el" => {
            // The delay slot follows the transfer; a syscall has none.
            match (disas.len().checked_sub(2).map(|i| mips(&disas[i])), mips(last)) {
                (_, End::Syscall) => End::Syscall,
                (Some(e @ (End::Call | End::Ret)), _) => e,
                _ => End::Other,
            }
        }
        "ppc64le" | "ppc64" | "ppc" => ppc(last),
        _ => End::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(arch: &str, text: &str) -> End {
        block_end(arch, &[text.to_owned()])
    }

    #[test]
    fn every_arch() {
        assert_eq!(one("x86_64", "call 0x401136"), End::Call);
        assert_eq!(one("x86_64", "callq *%rax"), End::Call);
        assert_eq!(one("x86_64", "bnd ret"), End::Ret);
        assert_eq!(one("x86_64", "jmp 0x401000"), End::Other);
        assert_eq!(one("x86_64", "syscall"), End::Syscall);
        assert_eq!(one("aarch64", "bl #0x400600"), End::Call);
        assert_eq!(one("aarch64", "blr x3"), End::Call);
        assert_eq!(one("aarch64", "ret"), End::Ret);
        assert_eq!(one("aarch64", "br x16"), End::Other);
        assert_eq!(one("aarch64", "b.ne #0x400"), End::Other);
        assert_eq!(one("arm", "bl #0x10400"), End::Call);
        assert_eq!(one("arm", "blx r3"), End::Call);
        assert_eq!(one("arm", "bx lr"), End::Ret);
        assert_eq!(one("arm", "pop {r4, pc}"), End::Ret);
        assert_eq!(one("arm", "pop.w {r4, r5, r6, pc}"), End::Ret);
        assert_eq!(one("arm", "ldr pc, [sp], #4"), End::Ret);
        assert_eq!(one("arm", "bx r3"), End::Other);
        assert_eq!(one("arm", "bic r0, r0, #1"), End::Other);
        assert_eq!(one("riscv64", "jal 0x10400"), End::Call);
        assert_eq!(one("riscv64", "jalr a5"), End::Call);
        assert_eq!(one("riscv64", "jalr ra, 0(a5)"), End::Call);
        assert_eq!(one("riscv64", "ret"), End::Ret);
        assert_eq!(one("riscv64", "jr a5"), End::Other);
        assert_eq!(one("riscv64", "j 0x10400"), End::Other);
        let mips = |a: &str, b: &str| block_end("mips", &[a.to_owned(), b.to_owned()]);
        assert_eq!(mips("jal 0x400600", "nop"), End::Call);
        assert_eq!(mips("jalr $t9", "move $a0, $s0"), End::Call);
        assert_eq!(mips("jr $ra", "addiu $sp, $sp, 32"), End::Ret);
        assert_eq!(mips("jr $t9", "nop"), End::Other);
        assert_eq!(one("ppc64le", "bl 0x10000600"), End::Call);
        assert_eq!(one("ppc64le", "bctrl"), End::Call);
        assert_eq!(one("ppc64le", "blr"), End::Ret);
        assert_eq!(one("ppc64le", "beqlr"), End::Ret);
        assert_eq!(one("ppc64le", "bctr"), End::Other);
        assert_eq!(one("ppc64le", "ble 0x1000"), End::Other);
        assert_eq!(one("ppc64le", "sc"), End::Syscall);
    }
}
