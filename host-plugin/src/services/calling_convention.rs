//! Where a function's arguments, return value, return address and stack pointer are at its
//! first instruction and after it returned, per guest architecture's calling convention (the
//! integer/pointer class only), in QEMU's (gdb's) register names; and whether a probe request
//! (`host.add-probe`) can work with it. Capture reads the values (`capture::probes`); the
//! script host checks requests here when the script makes them.

/// Where a value lives at the function's first instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Register(&'static str),
    /// A word at the stack pointer plus this many bytes (i386's arguments, x86's return
    /// address).
    Stack(u64),
}

/// What tells a return from a jump to the same place with the same stack (the code after a
/// call is often also where `longjmp`'s `setjmp` branch joins): what the return instruction
/// leaves behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnEvidence {
    /// The return branched through this register, which still holds the return address.
    LinkRegister(&'static str),
    /// The return popped the return address: it is still in the word below the stack pointer.
    PoppedWord,
    /// Either (ARM: `bx lr`, or `pop {..., pc}`).
    Either(&'static str),
}

#[derive(Debug)]
pub struct Convention {
    /// The ABI's name, for messages.
    pub name: &'static str,
    pub arguments: &'static [Place],
    pub return_value: &'static str,
    pub stack_pointer: &'static str,
    pub return_address: Place,
    /// The stack pointer after the return, minus the one at entry: x86's `ret` pops the
    /// return address; link-register architectures leave it as it was.
    pub sp_after_return: u64,
    /// Bytes per register and stack word.
    pub word: u8,
    /// The return address may carry an instruction-set bit (ARM's Thumb bit): cleared.
    pub clear_bit0: bool,
    pub evidence: ReturnEvidence,
}

use Place::{Register as R, Stack as S};

use crate::events::{Probe, ProbeSite};

/// Reads per probe at most (their index is 4 bits of `data-info`).
const MAX_READS: usize = 16;

const X86_64: Convention = Convention {
    name: "x86_64 System V",
    arguments: &[R("rdi"), R("rsi"), R("rdx"), R("rcx"), R("r8"), R("r9")],
    return_value: "rax",
    stack_pointer: "rsp",
    return_address: S(0),
    sp_after_return: 8,
    word: 8,
    clear_bit0: false,
    evidence: ReturnEvidence::PoppedWord,
};

const I386: Convention = Convention {
    name: "i386 cdecl",
    arguments: &[S(4), S(8), S(12), S(16), S(20), S(24)],
    return_value: "eax",
    stack_pointer: "esp",
    return_address: S(0),
    sp_after_return: 4,
    word: 4,
    clear_bit0: false,
    evidence: ReturnEvidence::PoppedWord,
};

const AARCH64: Convention = Convention {
    name: "AArch64 AAPCS64",
    arguments: &[R("x0"), R("x1"), R("x2"), R("x3"), R("x4"), R("x5"), R("x6"), R("x7")],
    return_value: "x0",
    stack_pointer: "sp",
    return_address: R("x30"),
    sp_after_return: 0,
    word: 8,
    clear_bit0: false,
    evidence: ReturnEvidence::LinkRegister("x30"),
};

const ARM: Convention = Convention {
    name: "ARM EABI",
    arguments: &[R("r0"), R("r1"), R("r2"), R("r3")],
    return_value: "r0",
    stack_pointer: "sp",
    return_address: R("lr"),
    sp_after_return: 0,
    word: 4,
    clear_bit0: true,
    evidence: ReturnEvidence::Either("lr"),
};

const RISCV64: Convention = Convention {
    name: "RISC-V LP64",
    arguments: &[R("a0"), R("a1"), R("a2"), R("a3"), R("a4"), R("a5"), R("a6"), R("a7")],
    return_value: "a0",
    stack_pointer: "sp",
    return_address: R("ra"),
    sp_after_return: 0,
    word: 8,
    clear_bit0: false,
    evidence: ReturnEvidence::LinkRegister("ra"),
};

const PPC64LE: Convention = Convention {
    name: "PowerPC64 ELFv2",
    arguments: &[R("r3"), R("r4"), R("r5"), R("r6"), R("r7"), R("r8"), R("r9"), R("r10")],
    return_value: "r3",
    stack_pointer: "r1",
    return_address: R("lr"),
    sp_after_return: 0,
    word: 8,
    clear_bit0: false,
    evidence: ReturnEvidence::LinkRegister("lr"),
};

/// The convention of QEMU target `arch`, or why there is none.
pub fn for_arch(arch: &str) -> Result<&'static Convention, String> {
    Ok(match arch {
        "x86_64" => &X86_64,
        "i386" => &I386,
        "aarch64" => &AARCH64,
        "arm" => &ARM,
        "riscv64" => &RISCV64,
        "ppc64le" | "ppc64" => &PPC64LE,
        "mips" | "mipsel" => {
            return Err(format!(
                "probes are not available for {arch} guests: QEMU 10.0 describes no registers for MIPS CPUs to plugins"
            ));
        }
        other => return Err(format!("probes are not available for {other} guests (no calling convention known)")),
    })
}

/// Checks a request from `add-probe` against the guest's calling convention.
pub fn validate(arch: &str, p: &Probe) -> Result<(), String> {
    let c = for_arch(arch)?;
    let site = describe_site(&p.site);
    if let ProbeSite::Symbol(name) = &p.site
        && (name.is_empty() || name.ends_with(':'))
    {
        return Err(format!("probe '{site}': no function name"));
    }
    if usize::from(p.arguments) > c.arguments.len() {
        return Err(format!(
            "probe {site}: {} arguments asked, but the {} convention passes {} in registers{}",
            p.arguments,
            c.name,
            c.arguments.len(),
            if c.arguments.iter().all(|a| matches!(a, Place::Stack(_))) { " (here: stack words)" } else { "" }
        ));
    }
    if p.reads.len() > MAX_READS {
        return Err(format!("probe {site}: {} memory reads asked, at most {MAX_READS}", p.reads.len()));
    }
    for r in &p.reads {
        for (what, arg) in [("reads argument", Some(r.argument)), ("takes its length from argument", r.length_argument)]
        {
            if let Some(arg) = arg.filter(|&a| a >= p.arguments) {
                return Err(format!(
                    "probe {site}: a memory read {what} {arg}, but the probe captures {} argument(s) (0-based indices)",
                    p.arguments
                ));
            }
        }
    }
    Ok(())
}

pub fn describe_site(site: &ProbeSite) -> String {
    match site {
        ProbeSite::Symbol(name) => name.clone(),
        ProbeSite::Address(a) => format!("{a:#x}"),
    }
}
