//! The example scripts on real programs, each against an independent oracle: objdump and
//! QEMU's execlog for cov and trace, QEMU's hotblocks for hotblocks, a program with a known
//! branch pattern for branches.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cannonball_tests::objdump::{all_instruction_addresses, function_addresses};
use cannonball_tests::{QemuRun, TempDir, oracle, oracle_plugin, plugin, plugin_arg, program, run_qemu, script};

/// Runs `program` with the script (and optional oracle plugins loaded first); returns the run
/// and the out directory.
fn run_script(name: &str, args: &[&str], oracles: &[String], program: &Path, work: &TempDir) -> (QemuRun, PathBuf) {
    let out = work.join("out");
    let mut options = vec![format!("script={}", script(name).display()), format!("out={}", out.display())];
    options.extend(args.iter().map(|a| a.to_string()));
    let mut plugins = oracles.to_vec();
    plugins.push(plugin_arg(&plugin(), &options));
    let run = run_qemu("x86_64", &plugins, program, &[], work);
    assert!(run.output.status.success(), "{}", run.stderr());
    (run, out)
}

#[test]
fn cov_lists_main_with_hit_counts() {
    let demo = program("demo");
    let main = function_addresses(&demo, "main");
    // execlog logs every execution of the listed addresses: the per-instruction hit oracle.
    let afilter: Vec<String> = main.iter().map(|a| format!("afilter={a:#x}")).collect();
    let work = TempDir::new("cov");
    let (run, out) = run_script("cov", &[], &[plugin_arg(&oracle_plugin("execlog"), &afilter)], &demo, &work);
    let mut expected: HashMap<u64, u64> = HashMap::new();
    for pc in oracle::execlog_pcs(&run.plugin_log) {
        *expected.entry(pc).or_default() += 1;
    }

    let text = std::fs::read_to_string(out.join("cov.txt")).unwrap();
    let listing: Vec<(u64, u64)> = text
        .lines()
        .skip_while(|l| !l.starts_with("// symbol main "))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<_> = l.split_whitespace().collect();
            (u64::from_str_radix(f[0].trim_start_matches("0x"), 16).unwrap(), f[1].parse().unwrap())
        })
        .collect();
    let addrs: Vec<u64> = listing.iter().map(|&(a, _)| a).collect();
    assert_eq!(addrs, main, "cov lists exactly objdump's instructions of main");
    for (addr, hits) in listing {
        assert_eq!(hits, expected.get(&addr).copied().unwrap_or(0), "hits of {addr:#x} (execlog)");
    }
    assert!(text.contains("// symbol _start "), "{text}");
    assert!(!text.contains("libc"), "only the main binary by default");
}

#[test]
fn cov_writes_a_drcov_file() {
    let demo = program("demo");
    let work = TempDir::new("drcov");
    let (_, out) = run_script("cov", &[], &[], &demo, &work);
    let bytes = std::fs::read(out.join("cov.drcov")).unwrap();
    let header_end = bytes.windows(4).position(|w| w == b"bbs\n").expect("BB Table line") + 4;
    let header = String::from_utf8_lossy(&bytes[..header_end]);
    assert!(header.starts_with("DRCOV VERSION: 2\n"), "{header}");
    assert!(header.contains("Module Table: version 2, count 1\n"), "{header}");
    let module_line = header.lines().find(|l| l.starts_with("0, ")).unwrap();
    let f: Vec<_> = module_line.split(", ").collect();
    assert_eq!(f[6], demo.display().to_string());
    let (base, end) = (u64::from_str_radix(&f[1][2..], 16).unwrap(), u64::from_str_radix(&f[2][2..], 16).unwrap());
    let n: usize = header.lines().last().unwrap().split_whitespace().nth(2).unwrap().parse().unwrap();
    let records = &bytes[header_end..];
    assert_eq!(records.len(), n * 8, "{n} records of 8 bytes");
    let main = function_addresses(&demo, "main");
    let mut saw_main = false;
    for r in records.chunks(8) {
        let start = u32::from_le_bytes(r[0..4].try_into().unwrap()) as u64;
        let size = u16::from_le_bytes(r[4..6].try_into().unwrap()) as u64;
        let id = u16::from_le_bytes(r[6..8].try_into().unwrap());
        assert_eq!(id, 0);
        assert!(size > 0 && base + start + size <= end, "block {start:#x}+{size} outside the module");
        saw_main |= base + start == main[0];
    }
    assert!(saw_main, "main's first block, module-relative");
}

#[test]
fn hotblocks_match_qemu_hotblocks() {
    let work = TempDir::new("hotblocks");
    let (run, out) = run_script(
        "hotblocks",
        &["top=100000"],
        &[plugin_arg(&oracle_plugin("hotblocks"), &[])],
        &program("demo"),
        &work,
    );
    let ours: HashMap<(u64, u64), u64> = std::fs::read_to_string(out.join("hotblocks.txt"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<_> = l.split(", ").collect();
            ((u64::from_str_radix(&f[0][2..], 16).unwrap(), f[2].parse().unwrap()), f[1].parse().unwrap())
        })
        .collect();
    // contrib hotblocks: "pc, tcount, icount, ecount" for its top 20.
    let mut checked = 0;
    for line in run.plugin_log.lines().filter(|l| l.starts_with("0x")) {
        let f: Vec<_> = line.split(", ").collect();
        let key = (u64::from_str_radix(&f[0][2..], 16).unwrap(), f[2].parse().unwrap());
        let execs: u64 = f[3].parse().unwrap();
        assert_eq!(ours.get(&key), Some(&execs), "block {:#x} with {} instructions", key.0, key.1);
        checked += 1;
    }
    assert!(checked >= 10, "hotblocks printed {checked} blocks:\n{}", run.plugin_log);
    // Our top entry is the hottest block, named by its symbol.
    let first = std::fs::read_to_string(out.join("hotblocks.txt")).unwrap().lines().nth(1).unwrap().to_owned();
    assert!(first.split(", ").last().unwrap().starts_with("main+0x"), "{first}");
}

#[test]
fn branches_of_a_known_pattern() {
    let branchy = program("branchy");
    let pattern = function_addresses(&branchy, "pattern");
    let work = TempDir::new("branches");
    let execlog = plugin_arg(&oracle_plugin("execlog"), &[]);
    let (run, out) = run_script("branches", &[], &[execlog], &branchy, &work);
    assert!(run.stdout().contains("pattern: 1666"));
    let text = std::fs::read_to_string(out.join("branches.txt")).unwrap();
    let mut in_pattern = Vec::new();
    for line in text.lines().take_while(|l| !l.starts_with("# edges")).skip(1) {
        let f: Vec<_> = line.split_whitespace().collect();
        let pc = u64::from_str_radix(&f[0][2..], 16).unwrap();
        if pattern.contains(&pc) {
            in_pattern.push((f[1].parse::<u64>().unwrap(), f[2].parse::<u64>().unwrap()));
        }
    }
    in_pattern.sort();
    // i % 3 == 0 holds for 334 of 0..1000: its branch goes one way 334 times, the other 666;
    // the loop test falls through 999 times and leaves once; the entry test runs once.
    let sums: Vec<u64> = in_pattern.iter().map(|(t, n)| t + n).collect();
    assert!(in_pattern.iter().any(|&p| p == (666, 334) || p == (334, 666)), "{in_pattern:?}");
    assert!(in_pattern.iter().any(|&p| p == (1, 999) || p == (999, 1)), "{in_pattern:?}");
    assert!(sums.iter().all(|&s| s == 1 || s == 1000), "{in_pattern:?}");
    // Each direction of every branch against execlog, in the same process: after the branch,
    // the next executed PC is its fall-through (the next instruction, objdump) when not taken,
    // and another address when taken.
    let insns = all_instruction_addresses(&branchy);
    let listed: Vec<(u64, u64, u64)> = text
        .lines()
        .take_while(|l| !l.starts_with("# edges"))
        .skip(1)
        .map(|l| {
            let f: Vec<_> = l.split_whitespace().collect();
            (u64::from_str_radix(&f[0][2..], 16).unwrap(), f[1].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect();
    let mut directions: HashMap<u64, (u64, u64)> = listed.iter().map(|l| (l.0, (0, 0))).collect();
    for pair in oracle::execlog_pcs(&run.plugin_log).windows(2) {
        if let Some(d) = directions.get_mut(&pair[0]) {
            let fall_through = insns.range(pair[0] + 1..).next().copied();
            if Some(pair[1]) == fall_through {
                d.1 += 1;
            } else {
                d.0 += 1;
            }
        }
    }
    assert!(listed.len() >= 3, "{listed:?}");
    for (pc, taken, not_taken) in &listed {
        assert_eq!((*taken, *not_taken), directions[pc], "{pc:#x}: (taken, not taken) against execlog");
    }
    let edges: usize =
        text.lines().find(|l| l.starts_with("# edges: ")).unwrap()[9..].split(' ').next().unwrap().parse().unwrap();
    assert_eq!(edges, text.lines().filter(|l| l.starts_with("0x") && l.contains(" -> ")).count());
}

#[test]
fn trace_matches_execlog() {
    let demo = program("demo");
    let work = TempDir::new("trace");
    // The whole process, dynamic loader and libc included, in execution order.
    let (run, out) = run_script("trace", &[], &[plugin_arg(&oracle_plugin("execlog"), &[])], &demo, &work);
    let expected: Vec<u64> = oracle::execlog_pcs(&run.plugin_log);
    let traced: Vec<u64> = std::fs::read_to_string(out.join("trace.txt"))
        .unwrap()
        .lines()
        .map(|l| u64::from_str_radix(l.split_whitespace().nth(1).unwrap().trim_start_matches("0x"), 16).unwrap())
        .collect();
    assert!(expected.len() > 100_000);
    assert_eq!(traced.len(), expected.len());
    assert!(traced == expected, "the traced sequence differs from execlog's");
}

#[test]
fn memstat_matches_libmem_and_execlog() {
    // libmem counts reads and writes; execlog lists every access's address.
    let work = TempDir::new("memstat");
    let [mem_r, mem_w] = cannonball_tests::libmem_reads_writes(&work);
    let oracles = [plugin_arg(&oracle_plugin("execlog"), &[]), mem_r, mem_w];
    let (run, out) = run_script("memstat", &["top=5"], &oracles, &program("demo"), &work);
    let (reads, writes) = cannonball_tests::oracle::mem_reads_writes(&run.plugin_log);
    let text = std::fs::read_to_string(out.join("memstat.txt")).unwrap();
    let value =
        |key: &str| -> u64 { text.lines().find_map(|l| l.strip_prefix(&format!("{key} "))).unwrap().parse().unwrap() };
    assert_eq!(value("reads"), reads, "reads (libmem track=r)");
    assert_eq!(value("writes"), writes, "writes (libmem track=w)");
    let (mut size_reads, mut size_writes) = (0, 0);
    for l in text.lines().filter(|l| l.starts_with("size-")) {
        let f: Vec<_> = l.split_whitespace().collect();
        size_reads += f[2].parse::<u64>().unwrap();
        size_writes += f[4].parse::<u64>().unwrap();
    }
    assert_eq!((size_reads, size_writes), (reads, writes), "sizes add up");

    // execlog: `cpu, pc, opcode, "disas", load|store, 0xaddr[, load|store, 0xaddr...]`.
    let per_addr = oracle::execlog_access_counts(&run.plugin_log);
    let hot: Vec<(u64, u64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("hot "))
        .map(|l| {
            let (a, n) = l.split_once(' ').unwrap();
            (u64::from_str_radix(a.trim_start_matches("0x"), 16).unwrap(), n.parse().unwrap())
        })
        .collect();
    assert_eq!(hot.len(), 5);
    let max = per_addr.values().copied().max().unwrap();
    assert_eq!(hot[0].1, max, "the hottest address's count (execlog)");
    for (addr, n) in hot {
        assert_eq!(per_addr.get(&addr), Some(&n), "accesses to {addr:#x} (execlog)");
    }
}
