//! Instruction addresses of a function, from binutils' `objdump -d` (an oracle independent of
//! QEMU and of Cannonball).

use std::path::Path;
use std::process::Command;

/// Every instruction address of function `name` in `binary`.
pub fn function_addresses(binary: &Path, name: &str) -> Vec<u64> {
    let out = Command::new("objdump").args(["-d", "--no-show-raw-insn"]).arg(binary).output().expect("objdump");
    let text = String::from_utf8_lossy(&out.stdout);
    let header = format!("<{name}>:");
    let mut lines = text.lines().skip_while(|l| !l.ends_with(&header)).skip(1);
    let mut addrs = Vec::new();
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
        if let Some((addr, _)) = line.trim().split_once(':')
            && let Ok(a) = u64::from_str_radix(addr, 16)
        {
            addrs.push(a);
        }
    }
    assert!(!addrs.is_empty(), "objdump shows no function {name} in {}", binary.display());
    addrs
}

/// Every instruction address objdump disassembles in `binary`'s executable sections.
pub fn all_instruction_addresses(binary: &Path) -> std::collections::BTreeSet<u64> {
    let out = Command::new("objdump").args(["-d", "--no-show-raw-insn"]).arg(binary).output().expect("objdump");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("  "))
        .filter_map(|l| l.trim().split_once(':'))
        .filter_map(|(addr, _)| u64::from_str_radix(addr, 16).ok())
        .collect()
}

/// The instructions of function `name` in `binary` as a cross `objdump` (e.g.
/// `mips-linux-gnu-objdump`) disassembles them: (address, text) within the symbol's extent
/// (from `nm -S`, `.dynsym` too), so padding and data after the function are left out. A
/// stripped library's function is found by its dynamic symbol (`<exit@@GLIBC_2.4>`).
pub fn cross_function_listing(objdump: &str, binary: &Path, name: &str) -> Vec<(u64, String)> {
    let nm = objdump.replace("objdump", "nm");
    let (start, size) = [&["-S", "--defined-only"][..], &["-S", "--defined-only", "-D"][..]]
        .iter()
        .find_map(|flags| {
            let out = Command::new(&nm).args(*flags).arg(binary).output().expect("nm");
            String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
                let f: Vec<_> = l.split_whitespace().collect();
                let bare = f.last()?.split('@').next()?;
                (f.len() == 4 && bare == name && "tTwW".contains(f[2]))
                    .then(|| (u64::from_str_radix(f[0], 16).unwrap(), u64::from_str_radix(f[1], 16).unwrap()))
            })
        })
        .unwrap_or_else(|| panic!("{nm} shows no function {name} in {}", binary.display()));
    let out = Command::new(objdump)
        // -z: zero words show as data instead of `...`, one line each as in cov's listing.
        .args([
            "-d",
            "-z",
            "--no-show-raw-insn",
            &format!("--start-address={start:#x}"),
            &format!("--stop-address={:#x}", start + size),
        ])
        .arg(binary)
        .output()
        .expect("objdump");
    let listing: Vec<(u64, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (addr, text) = l.trim().split_once(':')?;
            let addr = u64::from_str_radix(addr, 16).ok()?;
            Some((addr, text.split('<').next()?.trim().to_owned()))
        })
        .collect();
    assert!(!listing.is_empty(), "{objdump} shows no instruction of {name} in {}", binary.display());
    listing
}

/// Symbols from `nm` (a cross binutils' for a foreign binary): name -> (start,
/// size). `thumb`: clear bit 0 (ARM's Thumb functions carry it in their address).
pub fn nm_symbols(nm: &str, binary: &std::path::Path, thumb: bool) -> std::collections::HashMap<String, (u64, u64)> {
    let out = std::process::Command::new(nm).args(["-S", "--defined-only"]).arg(binary).output().unwrap();
    assert!(out.status.success(), "{nm} failed on {}", binary.display());
    let mut map = std::collections::HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // `ADDR SIZE TYPE NAME`, or `ADDR TYPE NAME` for a label without a size.
        let (addr, size, name) = match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            [addr, size, _, name] => (*addr, u64::from_str_radix(size, 16).unwrap(), *name),
            [addr, _, name] => (*addr, 0, *name),
            _ => continue,
        };
        let addr = u64::from_str_radix(addr, 16).unwrap();
        map.insert(name.to_string(), (if thumb { addr & !1 } else { addr }, size));
    }
    map
}
