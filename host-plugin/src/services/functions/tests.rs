//! Recovery on real files built by gcc, against `nm`'s reading of the unstripped build.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

/// A C program built here, PIE, with gcc's default unwind tables; None without gcc.
fn build(dir: &Path) -> Option<PathBuf> {
    let src = dir.join("p.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n\
         static int __attribute__((noinline)) twice(int x) { return 2 * x; }\n\
         int __attribute__((noinline)) helper(int x) { return twice(x) + 1; }\n\
         int main(int argc, char **argv) { printf(\"%d\\n\", helper(argc)); return 0; }\n",
    )
    .unwrap();
    let out = dir.join("p");
    let ok = Command::new("gcc").args(["-O1", "-g", "-o"]).arg(&out).arg(&src).status().ok()?.success();
    ok.then_some(out)
}

fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cannonball-functions-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `nm`'s function symbols (t/T: weak `W` ones may be data) of `path`: address -> name.
fn nm_functions(path: &Path) -> BTreeMap<u64, String> {
    let out = Command::new("nm").arg(path).output().expect("nm");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<_> = l.split_whitespace().collect();
            match f.as_slice() {
                [a, "t" | "T", name] => Some((u64::from_str_radix(a, 16).ok()?, (*name).to_owned())),
                _ => None,
            }
        })
        .collect()
}

fn recovered(path: &Path) -> Vec<Function> {
    let data = std::fs::read(path).unwrap();
    let file = object::File::parse(&*data).unwrap();
    recover(&file, None, 0)
}

#[test]
fn a_stripped_program_has_every_function_start_of_its_symbol_table() {
    let dir = scratch("strip");
    let Some(prog) = build(&dir) else { return eprintln!("no gcc: skipped") };
    let stripped = dir.join("p.stripped");
    assert!(Command::new("strip").arg("--strip-all").arg("-o").arg(&stripped).arg(&prog).status().unwrap().success());
    let oracle = nm_functions(&prog);
    assert!(oracle.values().any(|n| n == "twice") && oracle.values().any(|n| n == "frame_dummy"), "{oracle:?}");
    let functions = recovered(&stripped);
    let starts: BTreeMap<u64, &Function> = functions.iter().map(|f| (f.start, f)).collect();
    for (address, name) in &oracle {
        let f = starts.get(address).unwrap_or_else(|| panic!("{name} at {address:#x} not recovered: {functions:#?}"));
        // Exported names survive in .dynsym; the rest are sub_<offset>.
        assert!(f.name == *name || f.name == format!("sub_{address:x}") || name == "_start", "{name}: {f:?}");
    }
    // Disjoint and sorted.
    assert!(functions.windows(2).all(|w| w[0].end <= w[1].start), "{functions:#?}");
    // The unstripped file's own names, with their sources.
    let named = recovered(&prog);
    let twice = named.iter().find(|f| f.name == "twice").expect("twice");
    assert_eq!(twice.origin, Origin::SymbolTable);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plt_stubs_are_named_after_their_targets() {
    let dir = scratch("plt");
    let Some(prog) = build(&dir) else { return eprintln!("no gcc: skipped") };
    let functions = recovered(&prog);
    let printf = functions.iter().find(|f| f.name == "printf@plt").unwrap_or_else(|| panic!("{functions:#?}"));
    assert_eq!(printf.origin, Origin::Plt);
    // objdump names the same stub.
    let dump = Command::new("objdump").arg("-d").arg(&prog).output().unwrap();
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(text.contains(&format!("{:016x} <printf@plt>:", printf.start)), "{printf:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
