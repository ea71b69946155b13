//! The paths a QEMU without our patches' extensions gets (`CANNONBALL_CAPTURE=plain`: the
//! plugin ignores them all): a fatal fault is corrected at exit from the faulting PC, and a
//! signal delivered as a system call returns is told apart from a fault at that same address
//! later (the vCPU's count moved since the call). Oracle: libinsn in the same process.

use std::os::unix::process::ExitStatusExt;

use cannonball_tests::{TempDir, oracle, oracle_plugin, plugin, plugin_arg, program, qemu_command, script, watchdog};

/// icount's total and libinsn's for `name`, which dies of `signal`, on the plain path.
fn totals(name: &str, signal: i32) -> (u64, u64) {
    let work = TempDir::new(&format!("plain-{name}"));
    let out = work.join("out");
    let icount = [format!("script={}", script("icount").display()), format!("out={}", out.display())];
    let plugins = [plugin_arg(&oracle_plugin("insn"), &["inline=true".into()]), plugin_arg(&plugin(), &icount)];
    let log = work.join("qemu-plugin.log");
    let mut cmd = qemu_command("x86_64", &plugins, &program(name), &[], &log);
    cmd.current_dir(work.path()).env("CANNONBALL_CAPTURE", "plain").env_remove("RUST_BACKTRACE");
    let run = watchdog::output(&mut cmd);
    assert_eq!(run.status.signal(), Some(signal), "{name}: {}", String::from_utf8_lossy(&run.stderr));
    let report = std::fs::read_to_string(out.join("icount.txt")).unwrap();
    let ours = report.lines().find_map(|l| l.strip_prefix("total ")).unwrap().parse().unwrap();
    (ours, oracle::insn(&std::fs::read_to_string(&log).unwrap()).total)
}

#[test]
fn a_fault_in_a_block_is_corrected_at_exit() {
    let (ours, libinsn) = totals("segv", libc::SIGSEGV);
    assert_eq!(ours, libinsn);
}

#[test]
fn a_fault_at_the_return_address_of_an_earlier_system_call_is_corrected() {
    let (ours, libinsn) = totals("syscall_then_fault", libc::SIGSEGV);
    assert_eq!(ours, libinsn);
}

#[test]
fn a_signal_delivered_as_a_system_call_returns_takes_nothing_back() {
    let (ours, libinsn) = totals("aborts", libc::SIGABRT);
    assert_eq!(ours, libinsn);
}
