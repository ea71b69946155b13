//! A failed execve does not end the analysis: tests/programs/failed_exec.c works, makes an
//! execve that fails (a missing file, one without execute permission, one with an ELF header no
//! kernel loads, an argument over the kernel's limit), then works three times as much. Counts,
//! the trace, memory and system calls after the failure equal QEMU's plugins in the same
//! process: libinsn, libmem (reads, writes), libsyscall. Before the fix the census ended at the
//! execve (6,103,883 instructions against libinsn's 24,111,174).

use std::os::unix::fs::PermissionsExt;

use cannonball_tests::{
    TempDir, census, libmem_reads_writes, oracle, oracle_plugin, plugin, plugin_arg, program, run_qemu, script,
};

fn check(mode: &str, extra: Option<&std::path::Path>, errno: &str, work: &TempDir) {
    let out = work.join(&format!("out-{mode}"));
    let mut plugins = vec![plugin_arg(&oracle_plugin("insn"), &[]), plugin_arg(&oracle_plugin("syscall"), &[])];
    plugins.extend(libmem_reads_writes(work));
    plugins.push(plugin_arg(
        &plugin(),
        &[
            format!("script={}", script("census").display()),
            format!("out={}", out.display()),
            "kinds=blocks+trace+memory+syscalls".into(),
        ],
    ));
    let mut args = vec![mode.to_string()];
    if let Some(file) = extra {
        args.push(file.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_qemu("x86_64", &plugins, &program("failed_exec"), &args, work);
    assert!(run.output.status.success(), "{mode}: {}", run.stderr());
    assert!(run.stdout().contains(&format!("execve failed: {errno}")), "{mode}: {}", run.stdout());
    assert!(!run.stderr().contains("cannonball: warning"), "{mode}: {}", run.stderr());
    let census = census::parse(&std::fs::read_to_string(out.join("census.txt")).unwrap());
    let insns = oracle::insn(&run.plugin_log).total;
    assert_eq!(census.get("instructions"), insns, "{mode}: instructions against libinsn");
    assert_eq!(census.get("trace-instructions"), insns, "{mode}: the trace against libinsn");
    assert!(insns > 20_000_000, "{mode}: the work after the execve ran: {insns}");
    let (reads, writes) = oracle::mem_reads_writes(&run.plugin_log);
    assert_eq!((census.get("mem-reads"), census.get("mem-writes")), (reads, writes), "{mode}: memory against libmem");
    let calls: std::collections::BTreeMap<i64, (u64, u64)> =
        census.syscalls.iter().map(|(&n, &(calls, errors, _))| (n, (calls, errors))).collect();
    assert_eq!(calls, oracle::syscalls(&run.plugin_log), "{mode}: system calls against libsyscall");
    assert_eq!(census.syscalls.get(&110).map(|c| c.0), Some(5), "{mode}: the getppid calls after the execve");
    assert_eq!(census.syscalls.get(&59).map(|c| (c.0, c.1)), Some((1, 1)), "{mode}: one failed execve");
}

#[test]
fn counts_trace_memory_and_system_calls_go_on_after_a_failed_execve() {
    let work = TempDir::new("failed-exec");
    let noexec = work.join("not-executable");
    std::fs::write(&noexec, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&noexec, std::fs::Permissions::from_mode(0o644)).unwrap();
    let badelf = work.join("bad-elf");
    let mut header = b"\x7fELF\x02\x01\x01".to_vec();
    header.resize(64, 0xff);
    std::fs::write(&badelf, header).unwrap();
    std::fs::set_permissions(&badelf, std::fs::Permissions::from_mode(0o755)).unwrap();
    check("missing", None, "ENOENT", &work);
    check("noexec", Some(&noexec), "EACCES", &work);
    check("badelf", Some(&badelf), "ENOEXEC", &work);
    check("e2big", None, "E2BIG", &work);
}
