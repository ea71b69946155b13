//! The profile example on a program with a known call tree (tests/programs/calltree.c): the
//! folded stacks have the program's shape (main → a ×3 → leaf, main → b → leaf, a tail call,
//! a longjmp out of two frames, a signal handler inside raise(), leaf straight from main),
//! every function's exclusive count equals what QEMU's execlog saw execute inside the
//! function's symbol (nm) in the same run, the total equals libinsn's in the same run, and the flame graph opens in Chromium with the
//! functions' frames. On x86_64 and on every foreign target (calls and returns are recognised
//! per architecture).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cannonball_tests::browser;
use cannonball_tests::cross::{Cross, Linking};
use cannonball_tests::{TempDir, oracle, oracle_plugin, plugin, plugin_arg, program, root, run_qemu, script};

/// The functions of calltree.c.
const FUNCTIONS: [&str; 10] =
    ["main", "a", "b", "leaf", "tailer", "tail_target", "deep", "thrower", "raiser", "handler"];

/// Runs profile on `binary` under qemu-`arch` with libinsn and execlog loaded first; returns
/// the out directory, libinsn's total and, per function of calltree.c, the instructions
/// execlog saw execute inside its symbol (`nm` is the binutils for the binary).
fn run(arch: &str, nm: &str, binary: &Path, work: &TempDir) -> (PathBuf, u64, HashMap<String, u64>) {
    let out = work.join("out-profile");
    let options = [format!("script={}", script("profile").display()), format!("out={}", out.display())];
    let plugins = [
        plugin_arg(&oracle_plugin("insn"), &[]),
        plugin_arg(&oracle_plugin("execlog"), &[]),
        plugin_arg(&plugin(), &options),
    ];
    let run = run_qemu(arch, &plugins, binary, &[], work);
    assert!(run.output.status.success(), "{}", run.stderr());
    let symbols = cannonball_tests::objdump::nm_symbols(nm, binary, arch == "arm");
    let hits = oracle::execlog_hits(&run.plugin_log);
    let own = FUNCTIONS
        .iter()
        .map(|&name| {
            let &(start, size) = symbols.get(name).unwrap_or_else(|| panic!("{arch}: nm has no {name}"));
            assert!(size > 0, "{arch}: {name} has a size");
            let n = hits.iter().filter(|&(&pc, _)| (start..start + size).contains(&pc)).map(|(_, &n)| n).sum();
            (name.to_string(), n)
        })
        .collect();
    (out, oracle::insn(&run.plugin_log).total, own)
}

/// profile.folded: (frames, instructions) per line.
fn folded(text: &str) -> Vec<(Vec<String>, u64)> {
    text.lines()
        .map(|l| {
            let (stack, n) = l.rsplit_once(' ').unwrap();
            (stack.split(';').map(String::from).collect(), n.parse().unwrap())
        })
        .collect()
}

fn check_call_tree(arch: &str, nm: &str, binary: &Path, work: &TempDir) {
    let (out, libinsn_total, execlog) = run(arch, nm, binary, work);
    let stacks = folded(&std::fs::read_to_string(out.join("profile.folded")).unwrap());
    let total: u64 = stacks.iter().map(|s| s.1).sum();
    assert_eq!(total, libinsn_total, "{arch}: every instruction is in one stack (libinsn)");

    // Exclusive counts per function of the program equal execlog's per-function hits.
    let mut exclusive: HashMap<&str, u64> = HashMap::new();
    for (frames, n) in &stacks {
        *exclusive.entry(frames.last().unwrap().as_str()).or_default() += n;
    }
    for (function, hits) in &execlog {
        assert!(*hits > 0, "{arch}: {function} ran");
        assert_eq!(
            exclusive.get(function.as_str()).copied().unwrap_or(0),
            *hits,
            "{arch}: exclusive count of {function}"
        );
    }

    // Everything from main on: one prefix below main (longjmp and the signal handler must not
    // leave frames behind), and the stacks of the program's functions.
    let prefixes: Vec<&[String]> =
        stacks.iter().filter_map(|(f, _)| f.iter().position(|x| x == "main").map(|i| &f[..i])).collect();
    assert!(prefixes.windows(2).all(|w| w[0] == w[1]), "{arch}: main at one place: {prefixes:?}");
    let mut from_main: HashMap<String, u64> = HashMap::new();
    for (frames, n) in &stacks {
        if let Some(i) = frames.iter().position(|x| x == "main") {
            *from_main.entry(frames[i..].join(";")).or_default() += n;
        }
    }
    let get = |stack: &str| from_main.get(stack).copied().unwrap_or_else(|| panic!("{arch}: no stack {stack}"));
    // leaf(n) runs k0 + n*k1 instructions: b's leaf(100) and the handler's leaf(20) give k0
    // and k1; a's three leaf(10) and main's leaf(5) must agree.
    let handler_leaf = from_main
        .iter()
        .filter(|(s, _)| s.ends_with(";handler;leaf"))
        .map(|(s, &n)| {
            assert!(s.starts_with("main;raiser;"), "{arch}: the handler runs inside raise: {s}");
            n
        })
        .sum::<u64>();
    let b_leaf = get("main;b;leaf");
    assert_eq!((b_leaf - handler_leaf) % 80, 0, "{arch}: {b_leaf} {handler_leaf}");
    let k1 = (b_leaf - handler_leaf) / 80;
    let k0 = handler_leaf - 20 * k1;
    assert!(k1 > 0, "{arch}: the loop body");
    assert_eq!(get("main;a;leaf"), 3 * (k0 + 10 * k1), "{arch}: main → a ×3 → leaf(10)");
    assert_eq!(get("main;leaf"), k0 + 5 * k1, "{arch}: leaf(5) from main after the signal and the longjmp");
    assert_eq!(get("main;a"), execlog["a"], "{arch}: a");
    // The tail call: tailer's frame becomes tail_target's, which returns to main. (On i386
    // the argument goes on the stack and GCC -O1 makes a real call and return instead.)
    assert_eq!(get("main;tailer"), execlog["tailer"]);
    if arch == "i386" {
        assert_eq!(get("main;tailer;tail_target"), execlog["tail_target"], "{arch}: a real call");
    } else {
        assert_eq!(get("main;tail_target"), execlog["tail_target"]);
        assert!(!from_main.keys().any(|s| s.contains("tailer;tail_target")), "{arch}: tail call pushed a frame");
    }
    // The longjmp leaves deep and thrower: raiser runs right under main.
    assert_eq!(get("main;deep;thrower"), execlog["thrower"], "{arch}: thrower");
    assert!(from_main.contains_key("main;raiser"), "{arch}");
    assert!(!from_main.keys().any(|s| s.contains("deep;") && s.contains("raiser")), "{arch}: longjmp left frames");

    // Inclusive counts (profile.txt) are the sums over the stacks that contain the function.
    let text = std::fs::read_to_string(out.join("profile.txt")).unwrap();
    let inclusive: HashMap<&str, u64> = text
        .lines()
        .skip(1)
        .map(|l| {
            let mut f = l.splitn(3, ' ');
            let inc = f.next().unwrap().parse().unwrap();
            f.next();
            (f.next().unwrap(), inc)
        })
        .collect();
    let containing = |name: &str| stacks.iter().filter(|(f, _)| f.iter().any(|x| x == name)).map(|s| s.1).sum::<u64>();
    for name in ["main", "a", "b", "raiser", "deep", "handler"] {
        assert_eq!(inclusive[name], containing(name), "{arch}: inclusive count of {name}");
    }
    // a's inclusive count: itself and its callees — the three leaf(10) (checked above), and on
    // i386 the thunks position-independent code calls for its own address.
    let below_a: u64 = from_main.iter().filter(|(s, _)| s.starts_with("main;a;")).map(|(_, n)| n).sum();
    let thunks = below_a - get("main;a;leaf");
    assert!(arch == "i386" || thunks == 0, "{arch}: a calls only leaf: {from_main:?}");
    assert_eq!(inclusive["a"], execlog["a"] + 3 * (k0 + 10 * k1) + thunks, "{arch}: a = itself + 3 leaf(10)");

    // The flame graph opens in Chromium, without a console message, and draws the frames.
    let svg = out.join("profile.svg");
    let page = browser::load(&browser::file_url(&svg, ""));
    assert!(page.console.is_empty(), "{arch}: console messages: {:#?}", page.console);
    for name in ["main", "a", "b", "leaf", "tail_target", "thrower", "handler"] {
        assert!(page.dom.contains(&format!("<title>{name} (")), "{arch}: no frame for {name} in the SVG");
    }
    assert!(page.dom.contains("instructions"), "{arch}: counts are named instructions");
    let png = work.join(&format!("profile-{arch}.png"));
    browser::screenshot(&browser::file_url(&svg, ""), &png);
    assert!(std::fs::metadata(&png).unwrap().len() > 5_000);
}

#[test]
fn profile_of_a_known_call_tree() {
    let work = TempDir::new("profile");
    check_call_tree("x86_64", "nm", &program("calltree"), &work);
}

/// The same call tree built by Debian's cross compiler: calls and returns as each
/// architecture makes them (link registers, delay slots, Thumb interworking, TOC entries).
fn call_tree_on(arch: &str) {
    let work = TempDir::new(&format!("profile-{arch}"));
    let binary = work.join("calltree");
    let cross = Cross::by_arch(arch);
    cross.compile(&root().join("tests/programs/calltree.c"), &binary, Linking::Static, &[]);
    check_call_tree(arch, &format!("{}-nm", cross.triple), &binary, &work);
}

mod foreign {
    #[test]
    fn i386() {
        super::call_tree_on("i386")
    }
    #[test]
    fn aarch64() {
        super::call_tree_on("aarch64")
    }
    #[test]
    fn arm() {
        super::call_tree_on("arm")
    }
    #[test]
    fn riscv64() {
        super::call_tree_on("riscv64")
    }
    #[test]
    fn mips() {
        super::call_tree_on("mips")
    }
    #[test]
    fn mipsel() {
        super::call_tree_on("mipsel")
    }
    #[test]
    fn ppc64le() {
        super::call_tree_on("ppc64le")
    }
}
