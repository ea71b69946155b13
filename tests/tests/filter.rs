//! Address filters, decided at translation time: only blocks inside the filter are
//! instrumented, so only they produce events.
//!
//! Oracles: `readelf` gives the main binary's executable segment; an unfiltered run (itself
//! checked against libinsn in capture.rs) counts what lies inside it; libinsn checks that the
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

/// Runs demo with census (trace and memory) and libinsn; returns census and libinsn's total.
fn census_run(options: &[String]) -> (Census, u64) {
    let work = TempDir::new("filter");
    let out = work.join("out");
    let mut opts = vec![
        format!("script={}", script("census").display()),
        format!("out={}", out.display()),
        "kinds=trace+memory+block-counts".into(),
    ];
    opts.extend(options.iter().cloned());
    let plugins = [plugin_arg(&oracle_plugin("insn"), &[]), plugin_arg(&plugin(), &opts)];
    let run = run_qemu("x86_64", &plugins, &program("demo"), &[], &work);
    assert!(run.output.status.success(), "{}", run.stderr());
    let text = std::fs::read_to_string(out.join("census.txt")).unwrap();
    (census::parse(&text), oracle::insn(&run.plugin_log).total)
}

#[test]
fn main_binary_filter_instruments_only_the_main_binary() {
    let (start, end) = executable_segment(&program("demo"));
    let range = format!("range={start:x}-{end:x}");
    let (all, total) = census_run(std::slice::from_ref(&range));
    let inside = all.get("range-instructions");
    assert!(inside > 0 && inside < total, "main binary ran {inside} of {total} instructions");

    for filter in ["filter=main".to_string(), "filter=module:demo".into(), format!("filter={start:x}-{end:x}")] {
        let (filtered, filtered_total) = census_run(&[range.clone(), filter.clone()]);
        assert_eq!(filtered_total, total, "{filter}: the program did the same work");
        assert_eq!(filtered.get("instructions"), total, "{filter}: totals still count all code");
        assert_eq!(filtered.get("trace-instructions"), inside, "{filter}: traced instructions");
        assert_eq!(filtered.get("range-instructions"), inside, "{filter}: nothing outside the filter");
        let mem = filtered.get("mem-reads") + filtered.get("mem-writes");
        assert_eq!(mem, all.get("range-mem"), "{filter}: memory accesses of the main binary's code");
        assert_eq!(filtered.get("range-mem"), mem, "{filter}: no access from outside the filter");
        assert!(
            filtered.get("blocks-translated") < all.get("blocks-translated") / 10,
            "{filter}: only the main binary's blocks are instrumented"
        );
        assert_eq!(filtered.get("block-counts-total"), filtered.get("block-execs"));
    }
}

#[test]
fn module_filters_partition_all_instructions() {
    // The guest runs code from three files: the program, the dynamic loader and libc.
    let mut sum = 0;
    let mut total = None;
    for module in ["demo", "ld-linux-x86-64.so.2", "libc.so.6"] {
        let (c, libinsn_total) = census_run(&[format!("filter=module:{module}")]);
        assert!(c.get("trace-instructions") > 0, "{module} ran no instructions");
        sum += c.get("trace-instructions");
        total.get_or_insert(libinsn_total);
        assert_eq!(total, Some(libinsn_total));
    }
    assert_eq!(sum, total.unwrap(), "instructions per module add up to libinsn's total");
}
