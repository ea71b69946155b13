//! System mode on a real kernel: Debian's own x86_64 kernel (linux-image-amd64, booted with
//! `nokaslr`) with an initramfs whose /init (tests/firmware/kernel_init.c) makes a known number
//! of getppid calls and powers off. Symbols come from the running image itself: a first boot
//! copies /proc/kallsyms out through the second serial port (Debian ships the real System.map
//! only in the 860 MB -dbg package). Oracles in the same QEMU process: libinsn, libbb, libmem; the
//! number of calls is known by construction.

use std::path::PathBuf;
use std::process::Command;

use cannonball_tests::cov::read_listing;
use cannonball_tests::kernel_boot::{address_of, aliases_at, build_initramfs, kallsyms, machine_args, qemu};
use cannonball_tests::{TempDir, census, cli, oracle, oracle_plugin, plugin, plugin_arg, script, watchdog};

/// An unusual number, so that no other path of the boot hits the function as often.
const GETPPID_CALLS: u64 = 1237;

#[test]
fn the_getppid_implementation_is_hit_exactly_as_often_as_init_calls_it() {
    let work = TempDir::new("system-kernel-cov");
    let initrd = build_initramfs(work.path());
    let map = kallsyms(work.path(), &initrd);
    let getppid = address_of(&map, "__x64_sys_getppid");

    // cov through the command, as a user starts it: the image is a bzImage (not ELF), so the
    // target and the symbols are given.
    let out = work.join("cov");
    let mut cmd = Command::new(cli());
    cmd.args(["run", "-q", "-s"])
        .arg(script("cov"))
        .arg("-o")
        .arg(&out)
        .arg("--system=x86_64")
        .arg("--symbols")
        .arg(&map)
        .arg("--")
        .args(machine_args(&initrd, &format!("cannonball_getppid={GETPPID_CALLS}")))
        .stdin(std::process::Stdio::null());
    let run = watchdog::output(&mut cmd);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains(&format!("init: {GETPPID_CALLS} getppid calls done")), "{stdout}");
    let listing = read_listing(&out);
    // The function at __x64_sys_getppid's address, under one of the names the map gives it
    // (__x64_sys_getppid, __ia32_sys_getppid and __do_sys_getppid share it).
    let f = listing
        .iter()
        .find(|f| f.insns.first().is_some_and(|i| i.0 == getppid))
        .expect("the function at __x64_sys_getppid in cov.txt");
    assert!(aliases_at(&map, getppid).contains(&f.name), "{} is not a name of {getppid:#x}", f.name);
    assert_eq!(f.module, map.display().to_string());
    let entry = f.insns.iter().find(|i| i.0 == getppid).expect("its first instruction listed");
    assert_eq!(entry.1, GETPPID_CALLS, "hits of __x64_sys_getppid's first instruction ({})", entry.2);
    assert!(listing.len() > 1000, "a kernel boot runs thousands of functions: {}", listing.len());
}

/// A boot whose init makes GETPPID_CALLS calls, under QEMU's plugins `oracles` (libinsn
/// first, inline) and census with `kinds`: the command, census's out directory, the plugin log.
fn boot_with_census(work: &TempDir, kinds: &str, oracles: &[String]) -> (Command, PathBuf, PathBuf) {
    let initrd = build_initramfs(work.path());
    let out = work.join("out");
    let log = work.join("plugin.log");
    let census = plugin_arg(
        &plugin(),
        &[format!("script={}", script("census").display()), format!("out={}", out.display()), format!("kinds={kinds}")],
    );
    let mut cmd = Command::new(qemu());
    cmd.args(machine_args(&initrd, &format!("cannonball_getppid={GETPPID_CALLS}")))
        .args(["-d", "plugin", "-D"])
        .arg(&log)
        .arg("-plugin")
        .arg(plugin_arg(&oracle_plugin("insn"), &["inline=true".into()]));
    for oracle in oracles {
        cmd.arg("-plugin").arg(oracle);
    }
    cmd.arg("-plugin").arg(census).stdin(std::process::Stdio::null());
    (cmd, out, log)
}

#[test]
fn kernel_boot_counts_equal_libinsn_libbb_and_libmem() {
    let work = TempDir::new("system-kernel-counts");
    let [mem_r, mem_w] = cannonball_tests::libmem_reads_writes(&work);
    let bb = plugin_arg(&oracle_plugin("bb"), &["inline=true".into()]);
    let traps = plugin_arg(&oracle_plugin("traps"), &[]);
    let (mut cmd, out, log) = boot_with_census(
        &work,
        "blocks+block-counts+memory-counts+threads+discontinuities",
        &[bb, mem_r, mem_w, traps],
    );
    let run = watchdog::output(&mut cmd);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let log = std::fs::read_to_string(&log).unwrap();
    let census = census::parse(&std::fs::read_to_string(out.join("census.txt")).unwrap());
    let insn = oracle::insn(&log);
    assert_eq!(census.get("instructions"), insn.total, "instructions against libinsn");
    assert_eq!(census.get("block-counts-total"), oracle::bb_total(&log), "block executions against libbb");
    let (reads, writes) = oracle::mem_reads_writes(&log);
    assert_eq!((census.get("inline-reads"), census.get("inline-writes")), (reads, writes), "memory against libmem");
    assert!(insn.total > 1_000_000_000, "a whole boot: {}", insn.total);
    // Interrupts (the timer, the UART) and exceptions (page faults, ...) per CPU, as libtraps.
    let traps = oracle::traps(&log);
    assert_eq!(census.discontinuities, traps, "discontinuities against libtraps");
    let (interrupts, exceptions, _) = traps[&0];
    assert!(interrupts > 100 && exceptions > 100, "a boot takes interrupts and faults: {traps:?}");
    // Every instruction ran at CPL 0 (the kernel) or CPL 3 (init and busybox in user space).
    let (kernel, user) = (census.get("privilege-0"), census.get("privilege-3"));
    assert_eq!(kernel + user, insn.total, "the levels against libinsn");
    assert!(user > 10 * GETPPID_CALLS && kernel > user, "kernel {kernel}, user {user}");
}

#[test]
fn sigterm_in_the_middle_of_the_boot_still_writes_every_report() {
    let work = TempDir::new("system-kernel-sigterm");
    let (mut cmd, out, log) = boot_with_census(&work, "blocks+block-counts+threads", &[]);
    cmd.stdout(std::process::Stdio::piped());
    let mut child = cannonball_tests::watchdog::spawn(&mut cmd);
    // The kernel's first line on the console: the boot is under way (and far from init).
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.contains("Booting from ROM") {
            break;
        }
        line.clear();
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    // SAFETY: a plain kill of our child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut stdout, &mut rest);
    let status = child.wait();
    assert!(status.success(), "{status:?}");
    assert!(!rest.contains("getppid calls done"), "stopped before init finished:\n{rest}");
    let census = census::parse(&std::fs::read_to_string(out.join("census.txt")).expect("census.txt written"));
    let insn = oracle::insn(&std::fs::read_to_string(&log).unwrap());
    assert_eq!(census.get("instructions"), insn.total, "instructions against libinsn");
    assert!(insn.total > 10_000_000, "the boot was under way: {}", insn.total);
}
