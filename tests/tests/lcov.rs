//! cov.info, cov's source-line coverage (example-scripts/cov/src/lcov.rs), checked against gcov
//! and rendered the way people look at coverage: genhtml's pages in a browser.
//!
//! Oracle: tests/programs/lcov/wordstat.c built with `gcc --coverage -O0 -g` and run (natively
//! or under plain QEMU), its counts collected by lcov from gcov; the same source built with
//! the same flags but without --coverage runs under cov. Every line both report has the same
//! count, on every guest architecture. Lines only one side reports, each class checked:
//! - gcov only: `case`/`default` labels (no code of their own at -O0) and a function's
//!   declarator line, where gcov puts the function's entry;
//! - cov only: a function's opening `{` (the line table's line for the entry: its count must
//!   be gcov's count of the declarator) and closing `}` (the epilogue, which gcov folds into
//!   the function's other lines).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cannonball_tests::cross::FOREIGN;
use cannonball_tests::{TempDir, plugin, plugin_arg, qemu, root, script};

/// The lines, functions and totals of one source file of an lcov tracefile.
#[derive(Debug, Default)]
struct Record {
    lines: BTreeMap<u32, u64>,
    /// name -> (line, calls)
    functions: BTreeMap<String, (u32, u64)>,
    lf: usize,
    lh: usize,
}

/// Parses a tracefile into records by source file name (the last path component).
fn parse(info: &str) -> BTreeMap<String, Record> {
    let mut out = BTreeMap::new();
    let mut name = String::new();
    let mut rec = Record::default();
    for line in info.lines() {
        let (key, value) = line.split_once(':').unwrap_or((line, ""));
        let mut fields = value.split(',');
        let mut num = || fields.next().unwrap().parse::<u64>().unwrap();
        match key {
            "SF" => name = value.rsplit('/').next().unwrap().to_owned(),
            "DA" => {
                let (l, n) = (num() as u32, num());
                rec.lines.insert(l, n);
            }
            "FN" => {
                let l = num() as u32;
                let f = value.split_once(',').unwrap().1.to_owned();
                rec.functions.entry(f).or_default().0 = l;
            }
            "FNDA" => {
                let (n, f) = value.split_once(',').unwrap();
                rec.functions.entry(f.to_owned()).or_default().1 = n.parse().unwrap();
            }
            "LF" => rec.lf = value.parse().unwrap(),
            "LH" => rec.lh = value.parse().unwrap(),
            "end_of_record" => {
                out.insert(std::mem::take(&mut name), std::mem::take(&mut rec));
            }
            _ => {}
        }
    }
    out
}

fn run(cmd: &mut Command) -> Output {
    let out = cannonball_tests::watchdog::output(cmd);
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn source() -> PathBuf {
    root().join("tests/programs/lcov/wordstat.c")
}

/// Builds the program twice in `work` (gcov build and plain build) with `gcc`, runs the gcov
/// build with `runner` (empty: natively) and collects its counts with lcov (`gcov`: the
/// matching gcov), runs the plain one under cov. Returns (gcov's, cov's) tracefile.
fn both_counts(work: &TempDir, arch: &str, gcc: &str, gcov: &str, flags: &[&str]) -> (String, String) {
    let src = work.join("wordstat.c");
    std::fs::copy(source(), &src).unwrap();
    let (instrumented, plain) = (work.join("wordstat_gcov"), work.join("wordstat"));
    run(Command::new(gcc).args(["--coverage", "-O0", "-g"]).args(flags).arg("-o").arg(&instrumented).arg(&src));
    run(Command::new(gcc).args(["-O0", "-g"]).args(flags).arg("-o").arg(&plain).arg(&src));

    let mut gcov_run = if arch == std::env::consts::ARCH {
        Command::new(&instrumented)
    } else {
        let mut c = Command::new(qemu(arch));
        c.arg(&instrumented);
        c
    };
    run(gcov_run.current_dir(work.path()));
    let gcov_info = work.join("gcov.info");
    run(Command::new("lcov")
        .args(["--quiet", "--gcov-tool", gcov, "--capture", "--directory"])
        .arg(work.path())
        .arg("--output-file")
        .arg(&gcov_info));

    let out = work.join("out");
    let arg = plugin_arg(&plugin(), &[format!("script={}", script("cov").display()), format!("out={}", out.display())]);
    run(Command::new(qemu(arch)).arg("-plugin").arg(arg).arg(&plain).current_dir(work.path()));
    (std::fs::read_to_string(gcov_info).unwrap(), std::fs::read_to_string(out.join("cov.info")).unwrap())
}

/// Asserts the agreement described at the top of this file; returns how many lines both
/// report.
fn assert_agree(arch: &str, gcov_info: &str, cov_info: &str) -> usize {
    let text = std::fs::read_to_string(source()).unwrap();
    let src: Vec<&str> = text.lines().collect();
    let line = |n: u32| src[n as usize - 1].trim();
    let (theirs, ours) = (parse(gcov_info), parse(cov_info));
    let (g, c) = (&theirs["wordstat.c"], &ours["wordstat.c"]);
    assert_eq!(ours.len(), 1, "{arch}: cov.info covers only the program's own source: {:?}", ours.keys());

    let mut both = 0;
    for (&n, &count) in &c.lines {
        match g.lines.get(&n) {
            Some(&expected) => {
                assert_eq!(count, expected, "{arch}: line {n} `{}`: cov {count}, gcov {expected}", line(n));
                both += 1;
            }
            None => assert!(line(n) == "{" || line(n) == "}", "{arch}: only cov reports line {n} `{}`", line(n)),
        }
    }
    for &n in g.lines.keys().filter(|n| !c.lines.contains_key(n)) {
        let label = line(n).starts_with("case ") || line(n) == "default:";
        let declarator = g.functions.values().any(|f| f.0 == n);
        assert!(label || declarator, "{arch}: only gcov reports line {n} `{}`", line(n));
    }
    // Functions: the same calls; cov's line is the `{` right below gcov's declarator, with
    // gcov's count of the declarator.
    assert_eq!(g.functions.keys().collect::<Vec<_>>(), c.functions.keys().collect::<Vec<_>>(), "{arch}");
    for (name, &(gl, calls)) in &g.functions {
        let (cl, ccalls) = c.functions[name];
        assert_eq!(ccalls, calls, "{arch}: calls of {name}");
        assert_eq!((cl, line(cl)), (gl + 1, "{"), "{arch}: {name} starts at gcov's line {gl}");
        assert_eq!(c.lines[&cl], g.lines[&gl], "{arch}: entries of {name}");
    }
    assert_eq!((c.lf, c.lh), (c.lines.len(), c.lines.values().filter(|&&n| n > 0).count()));
    both
}

#[test]
fn line_counts_equal_gcov() {
    let work = TempDir::new("lcov-oracle");
    let (gcov_info, cov_info) = both_counts(&work, "x86_64", "gcc", "gcov", &[]);
    let both = assert_agree("x86_64", &gcov_info, &cov_info);
    assert!(both >= 45, "{both} lines compared:\n{cov_info}");
    // The figures the program's structure implies: classify runs once per character (152),
    // count_words once per non-empty line (4), checksum on every other one (3), report_error
    // never, and the vowel case 39 times.
    let c = &parse(&cov_info)["wordstat.c"];
    let calls: Vec<(&str, u64)> = c.functions.iter().map(|(n, f)| (n.as_str(), f.1)).collect();
    assert_eq!(calls, [("checksum", 3), ("classify", 152), ("count_words", 4), ("main", 1), ("report_error", 0)]);
}

#[test]
fn line_counts_equal_gcov_on_every_foreign_arch() {
    for target in FOREIGN {
        let work = TempDir::new(&format!("lcov-{}", target.arch));
        // Static: the gcov build's libgcov and the guest's C library without a library root.
        let (gcc, gcov) = (format!("{}-gcc", target.triple), format!("{}-gcov", target.triple));
        let (gcov_info, cov_info) = both_counts(&work, target.arch, &gcc, &gcov, &["-static"]);
        let both = assert_agree(target.arch, &gcov_info, &cov_info);
        assert!(both >= 45, "{}: {both} lines compared", target.arch);
    }
}

/// Renders `info` with genhtml into `html`; genhtml must not warn.
fn genhtml(info: &Path, html: &Path) {
    let out = run(Command::new("genhtml").arg("--output-directory").arg(html).arg(info));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.trim().is_empty(), "genhtml warned:\n{stderr}");
}

/// What headless Chromium renders of `page`: the DOM after layout and scripts.
fn chromium_dom(page: &Path) -> String {
    let out = run(Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{}", page.display())));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn genhtml_renders_cov_info_and_a_browser_shows_it() {
    let work = TempDir::new("lcov-html");
    let (_, cov_info) = both_counts(&work, "x86_64", "gcc", "gcov", &[]);
    let info = work.join("cov.info");
    std::fs::write(&info, &cov_info).unwrap();
    let html = work.join("html");
    genhtml(&info, &html);

    let c = &parse(&cov_info)["wordstat.c"];
    let pct = |hit: usize, all: usize| format!("{:.1}&nbsp;%", 100.0 * hit as f64 / all as f64);
    let fnh = c.functions.values().filter(|f| f.1 > 0).count();
    let index = chromium_dom(&html.join("index.html"));
    // The index names the program's directory with our totals; the directory page the file.
    for expected in [c.lh.to_string(), c.lf.to_string(), pct(c.lh, c.lf), pct(fnh, c.functions.len())] {
        assert!(index.contains(&format!(">{expected}</td>")), "index lacks {expected}:\n{index}");
    }
    let page = std::fs::read_dir(&html)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir() && p.join("wordstat.c.gcov.html").exists())
        .expect("a directory page for the program's source")
        .join("wordstat.c.gcov.html");
    let dom = chromium_dom(&page);
    assert!(dom.contains("wordstat.c"), "{dom}");
    // Hit counts beside the source: a covered line, the unreached function's lines.
    let classify = c.functions["classify"].0;
    let row = |n: u32, class: &str, count: u64| {
        format!("<span class=\"lineNum\">{n:>8} </span><span class=\"{class}\">{count:>11} : ")
    };
    assert!(dom.contains(&row(classify, "lineCov", 152)), "line {classify} with 152:\n{dom}");
    let unreached = c.functions["report_error"].0;
    assert!(dom.contains(&row(unreached, "lineNoCov", 0)), "line {unreached} with 0:\n{dom}");
    // The function page lists every function with its calls.
    let functions = chromium_dom(&page.with_file_name("wordstat.c.func.html"));
    for (name, (_, calls)) in &c.functions {
        assert!(functions.contains(name.as_str()) && functions.contains(&format!(">{calls}<")), "{name}:\n{functions}");
    }

    // A picture for people to look at (docs/pictures-lcov.md describes it).
    let png = root().join("target/pictures/lcov-wordstat.png");
    std::fs::create_dir_all(png.parent().unwrap()).unwrap();
    run(Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display())));
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000, "an empty screenshot");
}

#[test]
fn source_lines_come_from_separate_debug_files() {
    let work = TempDir::new("lcov-debugfile");
    let (_, with_dwarf) = both_counts(&work, "x86_64", "gcc", "gcov", &["-Wl,--build-id"]);
    let expected = &parse(&with_dwarf)["wordstat.c"];
    let prog = work.join("wordstat");
    let cov = |binary: &Path, extra: &[String]| {
        let out = work.join("out2");
        let _ = std::fs::remove_dir_all(&out);
        let mut options = vec![format!("script={}", script("cov").display()), format!("out={}", out.display())];
        options.extend(extra.iter().cloned());
        run(Command::new(qemu("x86_64")).arg("-plugin").arg(plugin_arg(&plugin(), &options)).arg(binary));
        std::fs::read_to_string(out.join("cov.info")).ok().map(|info| parse(&info))
    };

    // .gnu_debuglink: the DWARF moved to wordstat.debug beside the program (symbols stay).
    let debug = work.join("wordstat.debug");
    run(Command::new("objcopy").arg("--only-keep-debug").arg(&prog).arg(&debug));
    run(Command::new("strip").arg("--strip-debug").arg(&prog));
    let nothing = cov(&prog, &[]);
    assert!(nothing.is_none(), "no DWARF, no lines, no cov.info: {nothing:?}");
    run(Command::new("objcopy").arg(format!("--add-gnu-debuglink={}", debug.display())).arg(&prog));
    let linked = cov(&prog, &[]).expect("cov.info");
    assert_eq!(linked["wordstat.c"].lines, expected.lines);

    // Build-id: DIR/.build-id/xx/yyyy.debug (compressed, as Debian ships them under
    // /usr/lib/debug; here a debug-dir= of the test's own); a copy of the program without the
    // debuglink finds it only that way.
    let id_out = run(Command::new("readelf").arg("-n").arg(&prog));
    let notes = String::from_utf8_lossy(&id_out.stdout);
    let id = notes.lines().find_map(|l| l.trim().strip_prefix("Build ID: ")).expect("a build id").to_owned();
    let root = work.join("debug-root");
    let dir = root.join(".build-id").join(&id[..2]);
    std::fs::create_dir_all(&dir).unwrap();
    run(Command::new("objcopy")
        .arg("--compress-debug-sections=zlib")
        .arg(&debug)
        .arg(dir.join(format!("{}.debug", &id[2..]))));
    let bare = work.join("wordstat-bare");
    run(Command::new("objcopy").arg("--remove-section=.gnu_debuglink").arg(&prog).arg(&bare));
    assert!(cov(&bare, &[]).is_none(), "not found without debug-dir=");
    let by_id = cov(&bare, &[format!("debug-dir={}", root.display())]).expect("cov.info");
    assert_eq!(by_id["wordstat.c"].lines, expected.lines);
}

#[test]
fn a_cov_built_for_0_2_0_still_runs() {
    // The WIT grew source-frames and source-lines as 0.2.1: wasmtime's linker gives a
    // component importing host@0.2.0 the 0.2.1 host. The fixture is cov as built before.
    let work = TempDir::new("lcov-compat");
    let prog = cannonball_tests::program("demo");
    let listing = |wasm: &Path, out: &str| {
        let out = work.join(out);
        let arg = plugin_arg(&plugin(), &[format!("script={}", wasm.display()), format!("out={}", out.display())]);
        run(Command::new(qemu("x86_64")).arg("-plugin").arg(arg).arg(&prog));
        (std::fs::read_to_string(out.join("cov.txt")).unwrap(), out.join("cov.info").exists())
    };
    let (old, old_info) = listing(&root().join("tests/fixtures/cov-0.2.0.wasm"), "old");
    let (new, new_info) = listing(&script("cov"), "new");
    assert_eq!(old, new);
    assert!(!old_info && new_info);
}
