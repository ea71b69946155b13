//! Disassembly, symbols and the example scripts on every foreign guest architecture, against
//! binutils: cov's listing of a function must have exactly the addresses of the cross
//! `objdump -d` of that function, with corresponding mnemonics (on arm: a Thumb function and
//! an ARM function); symbolize must find a shared library's function (cov of libc.so.6 in a
//! dynamically linked program); branches must count the conditional branches of a known loop.

use std::path::{Path, PathBuf};

use cannonball_tests::cross::{Cross, FOREIGN, Linking};
use cannonball_tests::objdump::cross_function_listing;
use cannonball_tests::{TempDir, oracle, oracle_plugin, plugin, plugin_arg, qemu_command, script};

/// `pattern` runs its loop 1000 times; `i % 3 == 0` holds 334 times (a branch on most
/// targets; on arm GCC predicates it with an IT block). On arm, `pattern` is Thumb (the
/// compiler's default) and `arm_pattern` is ARM code.
const SOURCE: &str = r#"
#include <stdio.h>
#if defined(__arm__)
#define ARM_CODE __attribute__((target("arm")))
#else
#define ARM_CODE
#endif
static volatile unsigned threes, others;
__attribute__((noinline)) unsigned pattern(void) {
    for (volatile unsigned i = 0; i < 1000; i++) {
        if (i % 3 == 0) threes++;
        else others += 2;
    }
    return threes + others;
}
__attribute__((noinline)) ARM_CODE unsigned arm_pattern(unsigned n) {
    unsigned s = 0;
    for (unsigned i = 0; i < n; i++) s += i * i;
    return s;
}
int main(int argc, char **argv) {
    (void)argv;
    printf("pattern: %u\n", pattern());
    printf("arm: %u\n", arm_pattern(argc + 9));
    return 0;
}
"#;

fn build(cross: &Cross, work: &TempDir, linking: Linking) -> PathBuf {
    let src = work.join("listing.c");
    std::fs::write(&src, SOURCE).unwrap();
    let out = work.join(&format!("listing-{}", cross.arch));
    cross.compile(&src, &out, linking, &[]);
    out
}

/// Runs `program` under qemu-<arch> with one example script; returns the out directory.
/// Runs `program` under the script `name` (after QEMU's `oracles`, whose output goes to
/// `work/qemu.log`) and returns the out directory.
fn run_script(cross: &Cross, name: &str, args: &[&str], oracles: &[String], program: &Path, work: &TempDir) -> PathBuf {
    let out = work.join("out");
    let mut options = vec![format!("script={}", script(name).display()), format!("out={}", out.display())];
    options.extend(args.iter().map(|a| a.to_string()));
    let mut plugins = oracles.to_vec();
    plugins.push(plugin_arg(&plugin(), &options));
    let mut cmd = qemu_command(cross.arch, &plugins, program, &[], &work.join("qemu.log"));
    // Dynamically linked guests find their loader and libraries under the cross root.
    cmd.env("QEMU_LD_PREFIX", cross.sysroot()).env("LC_ALL", "C").env_remove("RUST_BACKTRACE");
    let run = cannonball_tests::watchdog::output(&mut cmd);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{} {name}: {}", cross.arch, String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("pattern: 1666"), "{}: {stdout}", cross.arch);
    out
}

/// cov.txt's listing of one function: (address, hits, text).
fn cov_listing(cov: &str, name: &str) -> Vec<(u64, u64, String)> {
    cov.lines()
        .skip_while(|l| !l.starts_with(&format!("// symbol {name} ")))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let (addr, rest) = l.trim().split_once(char::is_whitespace).unwrap();
            let (hits, text) = rest.trim().split_once(char::is_whitespace).unwrap_or((rest.trim(), ""));
            let addr = u64::from_str_radix(addr.trim_start_matches("0x"), 16).unwrap();
            (addr, hits.parse().unwrap(), text.trim().to_owned())
        })
        .collect()
}

/// Whether our mnemonic and objdump's name the same instruction, allowing for the ways two
/// disassemblers spell it: AT&T operand-size suffixes (`movl`/`mov`), Thumb width
/// qualifiers, ARM's two names of the carry conditions, PowerPC branch hints.
fn same_mnemonic(ours: &str, theirs: &str) -> bool {
    let norm = |t: &str| {
        let m = t.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
        let m = m.trim_end_matches(".w").trim_end_matches(".n").trim_end_matches(['+', '-']).to_owned();
        m.replace("hs", "cs").replace("lo", "cc")
    };
    let (o, t) = (norm(ours), norm(theirs));
    o == t || o.strip_suffix(['l', 'q', 'w', 'b']) == Some(&t)
}

/// Checks cov's listing of `name` against the cross objdump: equal addresses, mostly equal
/// mnemonics. Returns the listing.
fn check_listing(cross: &Cross, binary: &Path, cov: &str, name: &str, offset: u64) -> Vec<(u64, u64, String)> {
    let ours = cov_listing(cov, name);
    let theirs = cross_function_listing(&cross.objdump(), binary, name);
    let our_addrs: Vec<u64> = ours.iter().map(|i| i.0 - offset).collect();
    let their_addrs: Vec<u64> = theirs.iter().map(|i| i.0).collect();
    assert_eq!(our_addrs, their_addrs, "{}: {name}'s instruction addresses (cov vs objdump)\n{cov}", cross.arch);
    let same = ours.iter().zip(&theirs).filter(|(o, t)| same_mnemonic(&o.2, &t.1)).count();
    let pairs: Vec<_> = ours.iter().zip(&theirs).map(|(o, t)| format!("{} | {}", o.2, t.1)).collect();
    // RISC-V objdump prefers pseudo-instructions (li, mv, sext.w) where capstone names the
    // real one; everywhere else nearly every mnemonic agrees. (The whole text of every
    // executed instruction, operands included, is compared in disassembly.rs.)
    let need = if cross.arch == "riscv64" { 0.4 } else { 0.8 };
    assert!(
        same as f64 >= need * ours.len() as f64,
        "{}: {name}: {same}/{} mnemonics agree\n{}",
        cross.arch,
        ours.len(),
        pairs.join("\n")
    );
    ours
}

#[test]
fn cov_lists_functions_like_objdump() {
    for cross in FOREIGN {
        let work = TempDir::new(&format!("listing-{}", cross.arch));
        let program = build(cross, &work, Linking::Static);
        let out = run_script(cross, "cov", &[], &[], &program, &work);
        let cov = std::fs::read_to_string(out.join("cov.txt")).unwrap();
        let pattern = check_listing(cross, &program, &cov, "pattern", 0);
        assert!(pattern.iter().any(|i| i.1 == 1000), "{}: the loop ran 1000 times\n{cov}", cross.arch);
        let arm = check_listing(cross, &program, &cov, "arm_pattern", 0);
        if cross.arch == "arm" {
            // Thumb code has 2-byte instructions; ARM code only 4-byte ones.
            let sizes = |l: &[(u64, u64, String)]| l.windows(2).map(|w| w[1].0 - w[0].0).collect::<Vec<_>>();
            assert!(sizes(&pattern).contains(&2), "pattern is Thumb: {pattern:?}");
            assert!(sizes(&arm).iter().all(|&s| s == 4), "arm_pattern is ARM: {arm:?}");
            assert!(arm.iter().all(|i| !i.2.is_empty()), "every ARM instruction decodes: {arm:?}");
        }
        // drcov: pattern's first executed block (on ppc64le after the TOC setup of the global
        // entry), relative to the module base.
        let entered = pattern.iter().find(|i| i.1 > 0).unwrap().0;
        let drcov = std::fs::read(out.join("cov.drcov")).unwrap();
        let header_end = drcov.windows(4).position(|w| w == b"bbs\n").unwrap() + 4;
        let header = String::from_utf8_lossy(&drcov[..header_end]);
        let module = header.lines().find(|l| l.starts_with("0, ")).unwrap();
        let base = u64::from_str_radix(&module.split(", ").nth(1).unwrap()[2..], 16).unwrap();
        let starts: Vec<u64> =
            drcov[header_end..].chunks(8).map(|r| u64::from(u32::from_le_bytes(r[..4].try_into().unwrap()))).collect();
        assert!(
            starts.contains(&(entered - base)),
            "{}: drcov has pattern's block at {entered:#x} - {base:#x}",
            cross.arch
        );
    }
}

#[test]
fn symbolize_finds_shared_library_functions() {
    for cross in FOREIGN {
        let work = TempDir::new(&format!("listing-dyn-{}", cross.arch));
        let program = build(cross, &work, Linking::Dynamic);
        let out = run_script(cross, "cov", &["module=libc.so.6"], &[], &program, &work);
        let cov = std::fs::read_to_string(out.join("cov.txt")).unwrap();
        let drcov = std::fs::read(out.join("cov.drcov")).unwrap();
        let header = String::from_utf8_lossy(&drcov[..drcov.windows(4).position(|w| w == b"bbs\n").unwrap()]);
        let module = header.lines().find(|l| l.starts_with("0, ")).unwrap();
        let f: Vec<_> = module.split(", ").collect();
        let libc = cross.sysroot().join("lib/libc.so.6");
        assert_eq!(Path::new(f[6]).canonicalize().unwrap(), libc.canonicalize().unwrap(), "{module}");
        let base = u64::from_str_radix(&f[1][2..], 16).unwrap();
        // A shared library's symbols are relative to its load address (libc's first segment
        // is at 0): listing address - module base = objdump address.
        let exit = check_listing(cross, &libc, &cov, "exit", base);
        // (On ppc64le a local call enters after the TOC setup: the first two show 0 hits.)
        assert!(exit.iter().any(|i| i.1 >= 1), "{}: exit ran\n{cov}", cross.arch);
    }
}

#[test]
fn branches_counts_a_known_loop() {
    for cross in FOREIGN {
        let work = TempDir::new(&format!("listing-br-{}", cross.arch));
        let program = build(cross, &work, Linking::Static);
        let pattern = cross_function_listing(&cross.objdump(), &program, "pattern");
        let range = pattern[0].0..=pattern.last().unwrap().0;
        let execlog = plugin_arg(&oracle_plugin("execlog"), &[]);
        let out = run_script(cross, "branches", &[], &[execlog], &program, &work);
        let text = std::fs::read_to_string(out.join("branches.txt")).unwrap();
        let pcs = oracle::execlog_pcs(&std::fs::read_to_string(work.join("qemu.log")).unwrap());
        // MIPS executes the delay slot after the branch either way: the direction shows in the
        // PC after it, compared with the instruction after the delay slot.
        let after = if cross.arch.starts_with("mips") { 2 } else { 1 };
        let mut counts = Vec::new();
        for line in text.lines().skip(1).take_while(|l| !l.starts_with("# edges")) {
            let f: Vec<_> = line.split_whitespace().collect();
            let pc = u64::from_str_radix(&f[0][2..], 16).unwrap();
            if range.contains(&pc) {
                // The reported address is the branch itself (on MIPS not its delay slot).
                let theirs = pattern
                    .iter()
                    .find(|i| i.0 == pc)
                    .unwrap_or_else(|| panic!("{}: {pc:#x} is no instruction", cross.arch));
                let mnemonic = theirs.1.split_whitespace().next().unwrap_or("");
                assert!(mnemonic.starts_with(['b', 'j', 'c']), "{}: {pc:#x} is {theirs:?}, no branch", cross.arch);
                let listed = (f[1].parse::<u64>().unwrap(), f[2].parse::<u64>().unwrap());
                // Each direction against execlog: the fall-through is the instruction `after`
                // the branch in objdump's listing of the function.
                let at = pattern.iter().position(|i| i.0 == pc).unwrap();
                let fall_through = pattern.get(at + after).map(|i| i.0);
                let mut seen = (0, 0);
                for w in pcs.windows(after + 1).filter(|w| w[0] == pc) {
                    if Some(w[after]) == fall_through {
                        seen.1 += 1;
                    } else {
                        seen.0 += 1;
                    }
                }
                assert_eq!(listed, seen, "{}: {pc:#x} (taken, not taken) against execlog", cross.arch);
                counts.push(listed);
            }
        }
        // The loop test: 999 times one way, once the other; every branch ran 1 or 1000 times.
        assert!(counts.iter().any(|&c| c == (1, 999) || c == (999, 1)), "{}: {counts:?}\n{text}", cross.arch);
        assert!(counts.iter().all(|&(t, n)| t + n == 1 || t + n == 1000), "{}: {counts:?}", cross.arch);
        if cross.arch != "arm" {
            assert!(counts.iter().any(|&c| c == (666, 334) || c == (334, 666)), "{}: {counts:?}\n{text}", cross.arch);
        }
    }
}
