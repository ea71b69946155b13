//! The sign-extension and big-endian bits of every memory access (`event-batch.mem-info` bits
//! 4 and 5, `signed` and `big_endian` in dump's JSON lines), on a little-endian (x86_64,
//! mipsel) and a big-endian guest (mips). Oracles independent of QEMU and of us: the compiler's
//! choice of instruction for each access, read with binutils' objdump (x86 `movs*`/`movz*`,
//! MIPS `lb`/`lh`/`lbu`/`lhu`), and the byte order in the program's ELF header. (libmem prints
//! neither bit.) tests/programs/signed_loads.c makes 1000 sign-extending and 1000
//! zero-extending loads of a byte and of a halfword, each in a function of its own.

use std::collections::BTreeMap;
use std::path::Path;

use cannonball_tests::cross::{Cross, Linking};
use cannonball_tests::objdump::{cross_function_listing, nm_symbols};
use cannonball_tests::{TempDir, cli, plugin, plugin_arg, program, run_qemu, watchdog};

const ROUNDS: usize = 1000;

/// (pc, signed, big-endian, size) of every load dump decoded from a `forward=memory` stream.
fn forwarded_loads(arch: &str, binary: &Path, work: &TempDir) -> Vec<(u64, bool, bool, u64)> {
    let stream = work.join(&format!("{arch}.cbal"));
    let fwd = plugin_arg(&plugin(), &[format!("fwd={}", stream.display()), "forward=memory".into()]);
    let run = run_qemu(arch, &[fwd], binary, &[], work);
    assert!(run.output.status.success(), "{arch}: {}", run.stderr());
    assert!(run.stdout().contains("signed 51380 unsigned 32947380"), "{arch}: {}", run.stdout());
    let lines = work.join(&format!("{arch}.jsonl"));
    let mut dump = std::process::Command::new(cli());
    dump.arg("dump").arg("--from").arg(&stream).arg("-o").arg(&lines);
    let out = watchdog::output(&mut dump);
    assert!(out.status.success(), "{arch}: dump: {}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&lines).unwrap();
    let mut loads = Vec::new();
    for line in text.lines().filter(|l| l.contains(r#""event":"mem""#)) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["store"].as_bool().unwrap() {
            continue;
        }
        let pc = u64::from_str_radix(v["pc"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
        loads.push((
            pc,
            v["signed"].as_bool().unwrap(),
            v["big_endian"].as_bool().unwrap(),
            v["size"].as_u64().unwrap(),
        ));
    }
    loads
}

/// Whether objdump's mnemonic is a sign-extending load (`Some(false)`: zero-extending).
fn sign_extends(mnemonic: &str) -> Option<bool> {
    let m = mnemonic.split_whitespace().next().unwrap_or("");
    match m {
        "lb" | "lh" => Some(true),
        "lbu" | "lhu" => Some(false),
        _ if m.starts_with("movs") => Some(true),
        _ if m.starts_with("movz") => Some(false),
        _ => None,
    }
}

fn check(arch: &str, binary: &Path, objdump: &str, nm: &str, work: &TempDir) {
    let loads = forwarded_loads(arch, binary, work);
    let elf = std::fs::read(binary).unwrap();
    let big_endian = elf[5] == 2; // EI_DATA: ELFDATA2MSB
    // A single byte has no byte order: QEMU drops it from 1-byte accesses (tcg_canonicalize_memop).
    for &(pc, _, bit, size) in &loads {
        assert_eq!(bit, big_endian && size > 1, "{arch}: the byte order of the {size}-byte load at {pc:#x}");
    }
    let symbols = nm_symbols(nm, binary, false);
    for (function, signed) in [("load_signed", true), ("load_unsigned", false)] {
        let mnemonics: BTreeMap<u64, String> = cross_function_listing(objdump, binary, function).into_iter().collect();
        let (start, size) = symbols[function];
        let mut extending = 0;
        for (pc, bit, _, _) in loads.iter().filter(|l| (start..start + size).contains(&l.0)) {
            let mnemonic = mnemonics.get(pc).unwrap_or_else(|| panic!("{arch}: no instruction at {pc:#x}"));
            match sign_extends(mnemonic) {
                Some(extends) => {
                    assert_eq!(extends, signed, "{arch}: the compiler's load at {pc:#x} ({mnemonic}) in {function}");
                    assert_eq!(*bit, signed, "{arch}: the sign bit of the load at {pc:#x} ({mnemonic})");
                    extending += 1;
                }
                // x86's `ret` loads the return address: a full word, no extension.
                None => assert!(!bit, "{arch}: {pc:#x} ({mnemonic}) does not sign-extend"),
            }
        }
        assert_eq!(extending, 2 * ROUNDS, "{arch}: {function} loads a byte and a halfword {ROUNDS} times");
    }
}

#[test]
fn sign_and_byte_order_bits_match_the_instructions_and_the_elf_header() {
    let work = TempDir::new("memory-info");
    check("x86_64", &program("signed_loads"), "objdump", "nm", &work);
    let src = cannonball_tests::root().join("tests/programs/signed_loads.c");
    for arch in ["mips", "mipsel"] {
        let cross = Cross::by_arch(arch);
        let binary = work.join(&format!("signed_loads-{arch}"));
        cross.compile(&src, &binary, Linking::Static, &[]);
        check(arch, &binary, &cross.objdump(), &format!("{}-nm", cross.triple), &work);
    }
}
