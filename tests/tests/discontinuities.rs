//! Discontinuities in user mode: a signal delivered to a guest handler, from the PC the guest
//! left to the handler's first instruction; synchronous signals (faults) as exceptions, the
//! others as interrupts. Oracles: the programs' own construction (tests/programs/fault_loop.c
//! faults a known number of times; timer_signals.c ends after a known number of timer
//! signals), QEMU's contrib/plugins/traps.c in the same process, and the binaries' symbols
//! (`nm`: the handlers, the faulting functions).

use std::collections::HashMap;
use std::path::Path;

use cannonball_tests::census;
use cannonball_tests::cross::{Cross, Linking};
use cannonball_tests::{TempDir, oracle, oracle_plugin, plugin, plugin_arg, program, run_qemu, script};

fn symbols(nm: &str, binary: &Path) -> HashMap<String, (u64, u64)> {
    cannonball_tests::objdump::nm_symbols(nm, binary, false)
}

fn census_plugin(out: &Path) -> String {
    plugin_arg(
        &plugin(),
        &[
            format!("script={}", script("census").display()),
            format!("out={}", out.display()),
            "kinds=blocks+trace+discontinuities".into(),
        ],
    )
}

/// (interrupts, exceptions, host calls) summed over vCPUs.
fn summed(per_vcpu: &std::collections::BTreeMap<u32, (u64, u64, u64)>) -> (u64, u64, u64) {
    per_vcpu.values().fold((0, 0, 0), |a, v| (a.0 + v.0, a.1 + v.1, a.2 + v.2))
}

/// What fault_loop's handlers caught, summed over its lines `thread N: SIGSEGV a, SIGBUS b,
/// SIGFPE c, sum s`.
fn caught(stdout: &str) -> u64 {
    stdout
        .lines()
        .filter(|l| l.starts_with("thread "))
        .flat_map(|l| l.split(", ").filter_map(|f| f.rsplit_once(' ')).filter(|(k, _)| k.contains("SIG")))
        .map(|(_, n)| n.parse::<u64>().unwrap())
        .sum()
}

/// fault_loop on `arch`: `kinds` fault kinds (SIGSEGV, SIGBUS and, where division by zero
/// traps, SIGFPE) `rounds` times each, on the main thread and `threads` more.
fn check_fault_loop(arch: &str, binary: &Path, nm: &str, kinds: u64, threads: u64, work: &TempDir) {
    let rounds = 300u64;
    let out = work.join(&format!("out-{arch}-{threads}"));
    let mut args = vec![rounds.to_string()];
    if threads > 0 {
        args.push("threads".into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_qemu(arch, &[plugin_arg(&oracle_plugin("traps"), &[]), census_plugin(&out)], binary, &args, work);
    assert!(run.output.status.success(), "{arch}: {}", run.stderr());
    let census = census::parse(&std::fs::read_to_string(out.join("census.txt")).unwrap());
    let what = format!("{arch}, {threads} thread(s)");
    assert_eq!(summed(&census.discontinuities), summed(&oracle::traps(&run.plugin_log)), "{what}: against libtraps");
    let expected = kinds * rounds * (threads + 1);
    assert_eq!(caught(&run.stdout()), expected, "{what}: the program's own count\n{}", run.stdout());
    assert_eq!(summed(&census.discontinuities), (0, expected, 0), "{what}: by construction");
    assert_eq!(census.get("disc-order-errors"), 0, "{what}: each fault in the block execution that raised it");
    let syms = symbols(nm, binary);
    let (handler, _) = syms["on_fault"];
    let faulting: Vec<(u64, u64)> = ["segv", "bus", "fpe"].iter().filter_map(|f| syms.get(*f).copied()).collect();
    for (_, kind, from, to) in &census.disc {
        assert_eq!(kind, "exception", "{what}");
        assert_eq!(*to, handler, "{what}: a fault goes to on_fault");
        assert!(
            faulting.iter().any(|(start, size)| (*start..start + size).contains(from)),
            "{what}: a fault from {from:#x}, inside segv, bus or fpe"
        );
    }
}

#[test]
fn faults_are_exceptions_from_the_faulting_instruction_to_the_handler() {
    let work = TempDir::new("discontinuities-faults");
    check_fault_loop("x86_64", &program("fault_loop"), "nm", 3, 0, &work);
    check_fault_loop("x86_64", &program("fault_loop"), "nm", 3, 4, &work);
    let src = cannonball_tests::root().join("tests/programs/fault_loop.c");
    for (arch, kinds) in [("aarch64", 2), ("riscv64", 2)] {
        let cross = Cross::by_arch(arch);
        let binary = work.join(&format!("fault_loop-{arch}"));
        cross.compile(&src, &binary, Linking::Static, &[]);
        check_fault_loop(arch, &binary, &format!("{}-nm", cross.triple), kinds, 0, &work);
    }
}

#[test]
fn timer_signals_are_interrupts_to_their_handlers_on_every_thread() {
    let work = TempDir::new("discontinuities-timers");
    let out = work.join("out");
    let target = 60u64;
    let binary = program("timer_signals");
    let run = run_qemu(
        "x86_64",
        &[plugin_arg(&oracle_plugin("traps"), &[]), census_plugin(&out)],
        &binary,
        &[&target.to_string()],
        &work,
    );
    assert!(run.output.status.success(), "{}", run.stderr());
    let census = census::parse(&std::fs::read_to_string(out.join("census.txt")).unwrap());
    let traps = oracle::traps(&run.plugin_log);
    assert_eq!(census.discontinuities, traps, "per vCPU, against libtraps");
    // Both timers fire until each signal arrived `target` times; the program counts what its
    // handlers ran (stderr: `alrm A rt R, ...`).
    let stderr = run.stderr();
    let line = stderr.lines().find(|l| l.starts_with("alrm ")).unwrap_or_else(|| panic!("{stderr}"));
    let f: Vec<&str> = line.split([' ', ',']).collect();
    let handled: u64 = f[1].parse::<u64>().unwrap() + f[3].parse::<u64>().unwrap();
    let (interrupts, exceptions, hostcalls) = summed(&census.discontinuities);
    assert_eq!((interrupts, exceptions, hostcalls), (handled, 0, 0), "the handlers' own count: {line}");
    assert!(handled >= 2 * target, "{line}");
    assert!(census.discontinuities.len() > 2, "handled on several threads: {:?}", census.discontinuities);
    let syms = symbols("nm", &binary);
    let handlers = [syms["on_alrm"].0, syms["on_rt"].0];
    for (_, kind, _, to) in &census.disc {
        assert_eq!(kind, "interrupt");
        assert!(handlers.contains(to), "a timer signal goes to on_alrm or on_rt, not {to:#x}");
    }
}
