//! The binaries people have: stripped, PIE, debug information in a separate file. cov's
//! listing must show every instruction that ran, with its exact count, whatever the file
//! kept. Oracles: QEMU's execlog (every executed PC), drcov (every executed block), libinsn
//! (the total), `nm` of the unstripped build (function starts), and the unstripped run
//! itself for what a separate debug file must give back.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use cannonball_tests::cov::{Listed, read_listing};
use cannonball_tests::{QemuRun, TempDir, oracle, oracle_plugin, plugin, plugin_arg, root, run_qemu, script};

/// Hits per address of the functions of `module`.
fn hits_in(listing: &[Listed], module: &Path) -> HashMap<u64, u64> {
    let module = module.display().to_string();
    listing.iter().filter(|f| f.module == module).flat_map(|f| f.insns.iter().map(|i| (i.0, i.1))).collect()
}

/// The module table of a drcov file: path -> (module id, base).
fn drcov_modules(bytes: &[u8]) -> HashMap<String, (u16, u64)> {
    let end = bytes.windows(4).position(|w| w == b"bbs\n").unwrap();
    String::from_utf8_lossy(&bytes[..end])
        .lines()
        .filter_map(|l| {
            let f: Vec<_> = l.split(", ").collect();
            let id = f.first()?.parse().ok().filter(|_| f.len() >= 5)?;
            Some((f.last()?.to_string(), (id, u64::from_str_radix(f[1].trim_start_matches("0x"), 16).ok()?)))
        })
        .collect()
}

/// The module table of a drcov file: path -> base.
fn drcov_bases(bytes: &[u8]) -> HashMap<String, u64> {
    drcov_modules(bytes).into_iter().map(|(path, (_, base))| (path, base)).collect()
}

/// The blocks of a drcov file: (start as recorded, size, module id).
fn drcov_blocks(bytes: &[u8]) -> Vec<(u32, u16, u16)> {
    let end = bytes.windows(4).position(|w| w == b"bbs\n").unwrap() + 4;
    bytes[end..]
        .chunks_exact(8)
        .map(|r| {
            (
                u32::from_le_bytes(r[0..4].try_into().unwrap()),
                u16::from_le_bytes(r[4..6].try_into().unwrap()),
                u16::from_le_bytes(r[6..8].try_into().unwrap()),
            )
        })
        .collect()
}

/// The extent of a file's loadable segments from its first page (readelf -lW).
fn load_span(path: &Path) -> u64 {
    let out = Command::new("readelf").args(["-lW"]).arg(path).output().expect("readelf");
    let text = String::from_utf8_lossy(&out.stdout);
    let segments: Vec<(u64, u64)> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("LOAD"))
        .map(|l| {
            let f: Vec<_> = l.split_whitespace().collect();
            let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
            (hex(f[2]), hex(f[5]))
        })
        .collect();
    let first = segments.iter().map(|s| s.0).min().unwrap() & !0xfff;
    segments.iter().map(|s| s.0 + s.1).max().unwrap() - first
}

/// Executions per PC of QEMU's execlog.
fn execlog_counts(run: &QemuRun) -> HashMap<u64, u64> {
    let mut counts = HashMap::new();
    for pc in oracle::execlog_pcs(&run.plugin_log) {
        *counts.entry(pc).or_default() += 1;
    }
    counts
}

fn run_cov(program: &Path, args: &[&str], cov_args: &[&str], oracles: &[String], work: &TempDir) -> (QemuRun, PathBuf) {
    let out = work.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let mut options = vec![format!("script={}", script("cov").display()), format!("out={}", out.display())];
    options.extend(cov_args.iter().map(|a| a.to_string()));
    let mut plugins = oracles.to_vec();
    plugins.push(plugin_arg(&plugin(), &options));
    let run = run_qemu("x86_64", &plugins, program, args, work);
    assert!(run.output.status.success(), "{}: {}", program.display(), run.stderr());
    (run, out)
}

fn sh(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A subdirectory of `work`. Builds of the program live in directories whose names have the
/// same length, so that argv[0], which the program looks at, has the same length too.
fn dir(work: &TempDir, name: &str) -> PathBuf {
    let d = work.join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// tests/programs/stripped/listing.c built as a PIE with -g into `dir`.
fn build(dir: &Path) -> PathBuf {
    let prog = dir.join("listing");
    let src = root().join("tests/programs/stripped/listing.c");
    sh(Command::new("gcc").args(["-O1", "-g", "-fPIE", "-pie", "-o"]).arg(&prog).arg(&src));
    prog
}

/// A copy of `prog` at `dest` stripped with `flags`.
fn stripped(prog: &Path, dest: &Path, flags: &[&str]) -> PathBuf {
    sh(Command::new("strip").args(flags).arg("-o").arg(dest).arg(prog));
    dest.to_path_buf()
}

/// Every address of `module` (loaded at `base`) that execlog saw run is listed with
/// execlog's count, and nothing else in it is listed as run.
fn assert_listing_exact(execlog: &HashMap<u64, u64>, listing: &[Listed], module: &Path, base: u64) {
    let span = load_span(module);
    let ours = hits_in(listing, module);
    let theirs: BTreeMap<u64, u64> =
        execlog.iter().filter(|(pc, _)| (base..base + span).contains(*pc)).map(|(&pc, &n)| (pc, n)).collect();
    assert!(theirs.len() > 20, "{}: execlog saw only {} addresses", module.display(), theirs.len());
    let missing: Vec<String> = theirs
        .iter()
        .filter(|(pc, n)| ours.get(pc) != Some(n))
        .map(|(pc, n)| format!("{:#x} (+{:#x}): execlog {n}, cov {:?}", pc, pc - base, ours.get(pc)))
        .collect();
    assert!(
        missing.is_empty(),
        "{}: {} of {} addresses wrong:\n{}",
        module.display(),
        missing.len(),
        theirs.len(),
        missing.join("\n")
    );
    let extra: Vec<_> = ours.iter().filter(|(pc, n)| **n > 0 && !theirs.contains_key(pc)).collect();
    assert!(extra.is_empty(), "{}: listed as run, never seen by execlog: {extra:x?}", module.display());
}

#[test]
fn the_listing_is_exact_against_execlog_stripped_or_not() {
    let work = TempDir::new("stripped-exact");
    let prog = build(&dir(&work, "full"));
    let bare = stripped(&prog, &dir(&work, "bare").join("listing"), &["--strip-all"]);
    for program in [&prog, &bare] {
        let (run, out) = run_cov(program, &[], &[], &[plugin_arg(&oracle_plugin("execlog"), &[])], &work);
        let listing = read_listing(&out);
        let bases = drcov_bases(&std::fs::read(out.join("cov.drcov")).unwrap());
        assert_listing_exact(&execlog_counts(&run), &listing, program, bases[&program.display().to_string()]);
        let names: BTreeSet<&str> = listing.iter().map(|f| f.name.as_str()).collect();
        if program == &prog {
            // Local symbols and code outside .text are listed too.
            for name in ["main", "compare", "mix", "_init", "frame_dummy", "register_tm_clones", "_start", "_fini"] {
                assert!(names.contains(name), "{name} missing from {names:?}");
            }
        } else {
            assert!(names.iter().any(|n| n.starts_with("sub_")), "{names:?}");
            assert!(names.contains("_init") && names.contains("_start"), "{names:?}");
        }
    }
}

#[test]
fn a_library_listing_is_exact_with_module() {
    // Debian's libc.so.6 is stripped: its functions come from .dynsym and its unwind tables.
    let work = TempDir::new("stripped-lib");
    let prog = build(work.path());
    let (run, out) = run_cov(&prog, &[], &["module=libc.so.6"], &[plugin_arg(&oracle_plugin("execlog"), &[])], &work);
    let listing = read_listing(&out);
    let bases = drcov_bases(&std::fs::read(out.join("cov.drcov")).unwrap());
    let (libc, base) = bases.iter().find(|(p, _)| p.ends_with("/libc.so.6")).expect("libc in cov.drcov");
    assert_listing_exact(&execlog_counts(&run), &listing, Path::new(libc), *base);
    let names: BTreeSet<&str> = listing.iter().map(|f| f.name.as_str()).collect();
    // Exported names, whether from .dynsym or (with libc6-dbg installed) the debug file's
    // symbol table, where the global name wins over its local aliases (__GI_qsort).
    assert!(names.contains("qsort") && names.contains("__libc_start_main"), "{names:?}");
}

/// Function starts of the unstripped build, as `nm` reads its symbol table, at `base`.
fn nm_starts(prog: &Path, base: u64) -> BTreeSet<u64> {
    let out = Command::new("nm").arg(prog).output().expect("nm");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<_> = l.split_whitespace().collect();
            match f.as_slice() {
                [a, "t" | "T" | "W", _] => Some(base + u64::from_str_radix(a, 16).ok()?),
                _ => None,
            }
        })
        .collect()
}

/// Address ranges of the PLT sections (stubs a symbol table does not name).
fn plt_ranges(prog: &Path, base: u64) -> Vec<(u64, u64)> {
    let out = Command::new("readelf").args(["-SW"]).arg(prog).output().expect("readelf");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let l = l.split_once(']')?.1;
            let f: Vec<_> = l.split_whitespace().collect();
            let hex = |s: &str| u64::from_str_radix(s, 16).ok();
            if !f.first()?.starts_with(".plt") {
                return None;
            }
            let (address, size) = (hex(f.get(2)?)?, hex(f.get(4)?)?);
            Some((base + address, base + address + size))
        })
        .collect()
}

#[test]
fn stripped_builds_list_the_symbol_tables_function_starts_with_the_same_counts() {
    let work = TempDir::new("stripped-starts");
    let prog = build(&dir(&work, "full"));
    // Module-relative function starts (PLT stubs aside) and hit counts of a run of `program`.
    let run = |program: &Path| -> (BTreeSet<u64>, BTreeMap<u64, u64>) {
        let (_, out) = run_cov(program, &[], &[], &[], &work);
        let listing = read_listing(&out);
        let base = drcov_bases(&std::fs::read(out.join("cov.drcov")).unwrap())[&program.display().to_string()];
        let plt = plt_ranges(program, 0);
        let starts = listing
            .iter()
            .map(|f| f.insns[0].0 - base)
            .filter(|a| !plt.iter().any(|r| (r.0..r.1).contains(a)))
            .collect();
        // Instructions that ran (padding after a function the symbol table sizes to the next
        // one may be listed or not).
        let counts =
            listing.iter().flat_map(|f| f.insns.iter().filter(|i| i.1 > 0).map(|i| (i.0 - base, i.1))).collect();
        (starts, counts)
    };
    let symbol_table = nm_starts(&prog, 0);
    let (full_starts, full_counts) = run(&prog);
    assert!(full_starts.is_subset(&symbol_table), "{full_starts:x?} vs nm {symbol_table:x?}");
    for (label, flags) in [("sall", &["--strip-all"][..]), ("sdbg", &["--strip-debug"][..])] {
        let copy = stripped(&prog, &dir(&work, label).join("listing"), flags);
        let (starts, counts) = run(&copy);
        assert_eq!(starts, full_starts, "{flags:?}: function starts (names aside)");
        assert_eq!(counts, full_counts, "{flags:?}: hit counts");
    }
}

/// cov.txt with module paths taken out (runs of different copies of one program compare
/// equal), and cov.info.
fn reports(out: &Path, program: &Path) -> (String, Option<String>) {
    let text = std::fs::read_to_string(out.join("cov.txt")).unwrap().replace(&program.display().to_string(), "PROG");
    (text, std::fs::read_to_string(out.join("cov.info")).ok())
}

#[test]
fn a_separate_debug_file_gives_names_and_lines_back_three_ways() {
    let work = TempDir::new("stripped-debug");
    let prog = build(&dir(&work, "full"));
    let (_, out) = run_cov(&prog, &[], &[], &[], &work);
    let (full_text, full_info) = reports(&out, &prog);
    assert!(full_info.as_deref().is_some_and(|i| i.contains("listing.c")), "{full_info:?}");
    let debug = dir(&work, "dbgs").join("listing.debug");
    sh(Command::new("objcopy").arg("--only-keep-debug").arg(&prog).arg(&debug));
    let id = build_id(&prog);

    // Without its debug file: sub_ names, and no cov.info but one line saying why.
    let bare = stripped(&prog, &dir(&work, "bare").join("listing"), &["--strip-all"]);
    let (run, out) = run_cov(&bare, &[], &[], &[], &work);
    let (text, info) = reports(&out, &bare);
    assert_ne!(text, full_text);
    assert!(text.contains("// symbol sub_"), "{text}");
    assert_eq!(info, None, "no cov.info without source lines");
    let said: Vec<_> = run.stderr().lines().filter(|l| l.contains("cov.info not written")).map(str::to_owned).collect();
    assert_eq!(said.len(), 1, "{}", run.stderr());

    // 1. By build-id, under the user's debug directory.
    let ids = dir(&work, "byid");
    let under = ids.join(".build-id").join(&id[..2]);
    std::fs::create_dir_all(&under).unwrap();
    std::fs::copy(&debug, under.join(format!("{}.debug", &id[2..]))).unwrap();
    let (_, out) = run_cov(&bare, &[], &[&format!("debug-dir={}", ids.display())], &[], &work);
    assert_eq!(reports(&out, &bare), (full_text.clone(), full_info.clone()), "found by build-id");

    // 2. By .gnu_debuglink, the debug file next to the program.
    let linked = dir(&work, "link").join("listing");
    sh(Command::new("objcopy").arg(format!("--add-gnu-debuglink={}", debug.display())).arg(&bare).arg(&linked));
    std::fs::copy(&debug, work.join("link").join("listing.debug")).unwrap();
    let (_, out) = run_cov(&linked, &[], &[], &[], &work);
    assert_eq!(reports(&out, &linked), (full_text.clone(), full_info.clone()), "found by .gnu_debuglink");

    // 3. By .gnu_debuglink, in the directory the user names (cannonball run --debug-dir).
    let elsewhere = dir(&work, "else").join("listing");
    std::fs::copy(&linked, &elsewhere).unwrap();
    let out = work.join("cli-out");
    let status = cannonball_tests::watchdog::output(
        Command::new(cannonball_tests::cli())
            .args(["run", "-q", "-s"])
            .arg(script("cov"))
            .arg("-o")
            .arg(&out)
            .arg("--debug-dir")
            .arg(work.join("dbgs"))
            .arg("--")
            .arg(&elsewhere)
            .env("LC_ALL", "C")
            .env_remove("RUST_BACKTRACE"),
    );
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert_eq!(reports(&out, &elsewhere), (full_text, full_info), "found in --debug-dir");
}

/// The GNU build-id of `path` in hex (readelf -n).
fn build_id(path: &Path) -> String {
    let out = Command::new("readelf").arg("-n").arg(path).output().expect("readelf");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: ").map(str::to_owned))
        .unwrap_or_else(|| panic!("no build-id:\n{text}"))
}

/// Debian's own stripped PIE programs: every block QEMU's drcov saw run in the program lies
/// inside a function of cov's listing with the count execlog gives its first instruction;
/// the whole listing (all=true) adds up to libinsn's total, in the same process.
#[test]
fn debian_programs_stripped_and_pie() {
    let work = TempDir::new("stripped-debian");
    let input = work.join("input.txt");
    let lines: String = (0..200).map(|i| format!("line {:05} tcp {}\n", (i * 7919) % 1000, i % 13)).collect();
    std::fs::write(&input, lines).unwrap();
    let input = input.display().to_string();
    let archive = work.join("out.tar").display().to_string();
    let cases: [(&str, Vec<&str>); 3] = [
        ("/usr/bin/sort", vec![&input]),
        ("/usr/bin/tar", vec!["-cf", &archive, &input]),
        ("/usr/bin/grep", vec!["-c", "tcp 1", &input]),
    ];
    for (program, args) in &cases {
        let program = Path::new(program);
        let span = load_span(program);
        // Run 1: the blocks QEMU's drcov saw, and cov's listing of the program.
        let drcov_file = work.join("qemu.drcov");
        let (_, out) = run_cov(
            program,
            args,
            &[],
            &[plugin_arg(&oracle_plugin("drcov"), &[format!("filename={}", drcov_file.display())])],
            &work,
        );
        let ours = std::fs::read(out.join("cov.drcov")).unwrap();
        let base = drcov_bases(&ours)[&program.display().to_string()];
        let in_program = |a: u64| (base..base + span).contains(&a);
        // QEMU's drcov keeps 32 bits of each address; the program lies in one 4 GiB window.
        let qemu_blocks: BTreeSet<(u64, u64)> = drcov_blocks(&std::fs::read(&drcov_file).unwrap())
            .into_iter()
            .map(|(start, size, _)| ((base & !0xffff_ffff) | u64::from(start), u64::from(size)))
            .filter(|b| in_program(b.0))
            .collect();
        assert!(qemu_blocks.len() > 50, "{}: drcov saw {} blocks", program.display(), qemu_blocks.len());
        let listing = read_listing(&out);
        let functions = extents(&listing, program);
        let (id, _) = drcov_modules(&ours)[&program.display().to_string()];
        let our_blocks: Vec<(u64, u64)> = drcov_blocks(&ours)
            .into_iter()
            .filter(|b| b.2 == id)
            .map(|(start, size, _)| (base + u64::from(start), u64::from(size)))
            .collect();
        for (whose, blocks) in
            [("QEMU's drcov", qemu_blocks.iter().copied().collect::<Vec<_>>()), ("cov.drcov", our_blocks)]
        {
            for (start, size) in blocks {
                let inside = functions.iter().find(|f| f.0 <= start && start + size <= f.1);
                let near: Vec<_> = functions.iter().filter(|f| f.1 + 64 > start && f.0 < start + size + 64).collect();
                assert!(
                    inside.is_some(),
                    "{}: block {start:#x}+{size} of {whose} in no listed function; near: {near:x?}",
                    program.display()
                );
            }
        }

        // Run 2: execlog at those blocks' starts, libinsn, cov over all code.
        let afilter: Vec<String> = qemu_blocks.iter().map(|b| format!("afilter={:#x}", b.0)).collect();
        let (run, out) = run_cov(
            program,
            args,
            &["all=true"],
            &[
                plugin_arg(&oracle_plugin("execlog"), &afilter),
                plugin_arg(&oracle_plugin("insn"), &["inline=true".into()]),
            ],
            &work,
        );
        let listing = read_listing(&out);
        let execs = execlog_counts(&run);
        let hits: HashMap<u64, u64> = listing.iter().flat_map(|f| f.insns.iter().map(|i| (i.0, i.1))).collect();
        let mut compared = 0;
        for (start, _) in &qemu_blocks {
            let n = execs.get(start).copied().unwrap_or(0);
            assert_eq!(hits.get(start).copied().unwrap_or(0), n, "{}: hits of block {start:#x}", program.display());
            compared += usize::from(n > 0);
        }
        assert!(compared > 50, "{}: {compared} blocks compared", program.display());
        let total: u64 = hits.values().sum();
        assert_eq!(
            total,
            oracle::insn(&run.plugin_log).total,
            "{}: every instruction that ran is listed",
            program.display()
        );
    }
}

/// [first address, end) of each listed function of `module`, the end estimated as the last
/// instruction's address plus the longest instruction of the architecture.
fn extents(listing: &[Listed], module: &Path) -> Vec<(u64, u64)> {
    let module = module.display().to_string();
    listing.iter().filter(|f| f.module == module).map(|f| (f.insns[0].0, f.insns.last().unwrap().0 + 15)).collect()
}

/// A PIE main program under cov's `module=` and census's address filters (runtime addresses,
/// `main`, `module:NAME`): each instruments exactly the program's code, by execlog's count.
#[test]
fn a_pie_program_under_module_and_address_filters() {
    let work = TempDir::new("stripped-pie-filter");
    let prog = build(&dir(&work, "full"));
    let execlog = [plugin_arg(&oracle_plugin("execlog"), &[])];
    let (run, out) = run_cov(&prog, &[], &["module=listing"], &execlog, &work);
    let listing = read_listing(&out);
    assert!(listing.iter().any(|f| f.name == "main"), "module=listing lists the program");
    // QEMU loads a PIE at the same address in every run (no ASLR in user mode).
    let base = drcov_bases(&std::fs::read(out.join("cov.drcov")).unwrap())[&prog.display().to_string()];
    assert_listing_exact(&execlog_counts(&run), &listing, &prog, base);

    let end = base + load_span(&prog);
    for filter in [format!("filter={base:x}-{end:x}"), "filter=main".into(), "filter=module:listing".into()] {
        let out = work.join("census");
        let options = vec![
            format!("script={}", script("census").display()),
            format!("out={}", out.display()),
            "kinds=trace".into(),
            filter.clone(),
        ];
        let plugins = [execlog[0].clone(), plugin_arg(&plugin(), &options)];
        let run = run_qemu("x86_64", &plugins, &prog, &[], &work);
        assert!(run.output.status.success(), "{filter}: {}", run.stderr());
        let inside =
            oracle::execlog_pcs(&run.plugin_log).into_iter().filter(|pc| (base..end).contains(pc)).count() as u64;
        let census = cannonball_tests::census::parse(&std::fs::read_to_string(out.join("census.txt")).unwrap());
        assert!(inside > 1000, "{filter}: {inside}");
        assert_eq!(
            census.get("trace-instructions"),
            inside,
            "{filter}: traced instructions = execlog's in the program"
        );
    }
}

/// Code in anonymous memory has no file to take functions from: cov lists it as an address
/// range, with its counts, and says why in one line.
#[test]
fn code_in_anonymous_memory_is_listed_as_ranges() {
    let work = TempDir::new("stripped-jit");
    let prog = work.join("jit");
    let src = root().join("tests/programs/stripped/jit.c");
    sh(Command::new("gcc").args(["-O1", "-o"]).arg(&prog).arg(&src));
    let (run, out) = run_cov(&prog, &[], &["all=true"], &[], &work);
    let listing = read_listing(&out);
    let ranges: Vec<&Listed> = listing.iter().filter(|f| f.module == "[anonymous]").collect();
    // The program's own: the page it wrote, each instruction run once per call (the
    // program checked every result).
    let jit = ranges
        .iter()
        .find(|f| f.insns.iter().map(|i| &i.2).collect::<Vec<_>>() == ["movl $0x309, %eax", "retq"])
        .unwrap_or_else(|| panic!("no range with the generated code: {ranges:#?}"));
    assert!(jit.name.starts_with("range_"), "{}", jit.name);
    assert!(jit.insns.iter().all(|i| i.1 == 777), "{jit:?}");
    let said = run.stderr().lines().filter(|l| l.contains("anonymous memory")).count();
    assert_eq!(said, 1, "{}", run.stderr());
}
