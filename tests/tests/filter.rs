//! Address filters, decided at translation time: only blocks inside the filter are
//! instrumented, so only they produce events.
//!
//! Oracles: `readelf` gives the main binary's executable segment (a PIE program prints where
//! its `main` is, `nm` gives main's offset); QEMU's execlog, loaded into the same run, lists
//! every executed instruction with its memory accesses, so the instructions and accesses
//! inside the segment are counted without the plugin under test; libinsn checks that the
//! per-module filters partition every executed instruction.

use std::path::Path;
use std::process::Command;

use cannonball_tests::census::{self, Census};
use cannonball_tests::{TempDir, oracle, oracle_plugin, plugin, plugin_arg, program, run_qemu, script};

/// The executable PT_LOAD segment of a non-PIE binary, from `readelf -lW`.
fn executable_segment(binary: &Path) -> (u64, u64) {
    let out = Command::new("readelf").arg("-lW").arg(binary).output().expect("readelf (binutils) is needed");
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines().filter(|l| l.trim_start().starts_with("LOAD")) {
        let f: Vec<_> = line.split_whitespace().collect();
        // LOAD offset vaddr paddr filesz memsz flags... align
        if f[6..f.len() - 1].iter().any(|flag| flag.contains('E')) {
            let vaddr = u64::from_str_radix(f[2].trim_start_matches("0x"), 16).unwrap();
            let memsz = u64::from_str_radix(f[5].trim_start_matches("0x"), 16).unwrap();
            return (vaddr, vaddr + memsz);
        }
    }
    panic!("no executable segment in readelf output:\n{text}");
}

/// What a census run saw, and what QEMU's plugins saw in the same process: libinsn's total
/// and, from execlog, the instructions executed in `inside` and their memory accesses.
struct Observed {
    census: Census,
    total: u64,
    execlog: String,
    stdout: String,
}

impl Observed {
    /// execlog's (instructions, memory accesses) with PCs in `start..end`.
    fn inside(&self, (start, end): (u64, u64)) -> (u64, u64) {
        let (mut insns, mut mem) = (0, 0);
        for line in self.execlog.lines() {
            let fields: Vec<_> = line.split(", ").collect();
            let Some(pc) = fields.get(1).and_then(|pc| u64::from_str_radix(pc.strip_prefix("0x")?, 16).ok()) else {
                continue;
            };
            if (start..end).contains(&pc) {
                insns += 1;
                mem += fields.iter().filter(|f| **f == "load" || **f == "store").count() as u64;
            }
        }
        (insns, mem)
    }
}

/// Runs `prog` with census (trace and memory, `options` added), libinsn and execlog in one QEMU.
fn census_run(prog: &Path, options: &[String]) -> Observed {
    let work = TempDir::new("filter");
    let out = work.join("out");
    let mut opts = vec![
        format!("script={}", script("census").display()),
        format!("out={}", out.display()),
        "kinds=trace+memory+block-counts".into(),
    ];
    opts.extend(options.iter().cloned());
    let plugins = [
        plugin_arg(&oracle_plugin("insn"), &[]),
        plugin_arg(&oracle_plugin("execlog"), &[]),
        plugin_arg(&plugin(), &opts),
    ];
    let run = run_qemu("x86_64", &plugins, prog, &[], &work);
    assert!(run.output.status.success(), "{}", run.stderr());
    let text = std::fs::read_to_string(out.join("census.txt")).unwrap();
    Observed {
        census: census::parse(&text),
        total: oracle::insn(&run.plugin_log).total,
        stdout: run.stdout(),
        execlog: run.plugin_log,
    }
}

/// A filtered run traced exactly what execlog saw execute inside `segment`, with its memory
/// accesses, and nothing else; the totals still count all code.
fn assert_filtered_exact(filter: &str, run: &Observed, segment: (u64, u64)) {
    let (insns, mem) = run.inside(segment);
    assert!(insns > 0 && insns < run.total, "{filter}: the main binary ran {insns} of {} instructions", run.total);
    let c = &run.census;
    assert_eq!(c.get("instructions"), run.total, "{filter}: totals still count all code (libinsn)");
    assert_eq!(c.get("trace-instructions"), insns, "{filter}: traced instructions = execlog's inside");
    assert_eq!(c.get("range-instructions"), insns, "{filter}: nothing outside the filter");
    assert_eq!(c.get("mem-reads") + c.get("mem-writes"), mem, "{filter}: memory accesses = execlog's inside");
    assert_eq!(c.get("range-mem"), mem, "{filter}: no access from outside the filter");
    assert_eq!(c.get("block-counts-total"), c.get("block-execs"), "{filter}");
    let hashes = oracle::execlog_trace_hashes(&run.execlog, |pc| (segment.0..segment.1).contains(&pc));
    assert_eq!(c.trace_by_vcpu, hashes, "{filter}: the trace checksum is execlog's sequence inside, in order");
}

#[test]
fn main_binary_filter_instruments_only_the_main_binary() {
    let demo = program("demo");
    let segment = executable_segment(&demo);
    let range = format!("range={:x}-{:x}", segment.0, segment.1);
    let all = census_run(&demo, std::slice::from_ref(&range));
    // Unfiltered: every instruction of the process, in order (execlog's sequence hashed PC by
    // PC; census folds whole blocks).
    assert_eq!(all.census.get("trace-instructions"), all.total);
    assert_eq!(all.census.trace_by_vcpu, oracle::execlog_trace_hashes(&all.execlog, |_| true));
    for filter in
        ["filter=main".to_string(), "filter=module:demo".into(), format!("filter={:x}-{:x}", segment.0, segment.1)]
    {
        let filtered = census_run(&demo, &[range.clone(), filter.clone()]);
        assert_filtered_exact(&filter, &filtered, segment);
        assert!(
            filtered.census.get("blocks-translated") < all.census.get("blocks-translated") / 10,
            "{filter}: only the main binary's blocks are instrumented"
        );
    }
}

#[test]
fn main_filter_on_a_pie_program() {
    // A position-independent main program is mapped at a base chosen at load time: the program
    // prints where its main is, nm gives main's offset in the file, and their difference moves
    // readelf's executable segment to where it ran.
    let work = TempDir::new("filter-pie");
    let src = work.join("pie.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n\
         static volatile unsigned long cells[64];\n\
         int main(void) {\n\
             for (unsigned long i = 0; i < 20000; i++) cells[i % 64] += i * 3;\n\
             printf(\"main at %p\\n\", (void *)main);\n\
             return 0;\n\
         }\n",
    )
    .unwrap();
    let prog = work.join("pie");
    let status = Command::new("gcc").args(["-O1", "-fPIE", "-pie", "-o"]).arg(&prog).arg(&src).status().unwrap();
    assert!(status.success());
    let nm = Command::new("nm").arg(&prog).output().unwrap();
    let main_offset = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .find_map(|l| l.strip_suffix(" T main").map(|a| u64::from_str_radix(a, 16).unwrap()))
        .expect("nm lists main");
    let (start, end) = executable_segment(&prog);
    let base_of = |stdout: &str| {
        let printed = stdout.trim().strip_prefix("main at 0x").unwrap_or_else(|| panic!("{stdout}"));
        u64::from_str_radix(printed, 16).unwrap() - main_offset
    };
    // QEMU maps the program at the same base every run: a first run says where.
    let base = base_of(&census_run(&prog, &[]).stdout);
    assert_ne!(base, 0, "a PIE program is moved");
    let range = format!("range={:x}-{:x}", base + start, base + end);
    for filter in ["filter=main", "filter=module:pie"] {
        let run = census_run(&prog, &[range.clone(), filter.to_string()]);
        assert_eq!(base_of(&run.stdout), base, "the same base");
        assert_filtered_exact(filter, &run, (base + start, base + end));
    }
}

#[test]
fn module_filters_partition_all_instructions() {
    // The guest runs code from three files: the program, the dynamic loader and libc.
    let mut sum = 0;
    let mut total = None;
    for module in ["demo", "ld-linux-x86-64.so.2", "libc.so.6"] {
        let run = census_run(&program("demo"), &[format!("filter=module:{module}")]);
        let (c, libinsn_total) = (run.census, run.total);
        assert!(c.get("trace-instructions") > 0, "{module} ran no instructions");
        sum += c.get("trace-instructions");
        total.get_or_insert(libinsn_total);
        assert_eq!(total, Some(libinsn_total));
    }
    assert_eq!(sum, total.unwrap(), "instructions per module add up to libinsn's total");
}
