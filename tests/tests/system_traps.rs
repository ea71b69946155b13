//! Discontinuities, privilege levels and physical addresses under the system emulators, on
//! tests/firmware/traps.c: a program that makes exactly CALLS supervisor calls, takes exactly
//! TICKS timer interrupts, runs `user_work` at user level and comes back with one more call,
//! on riscv64 `virt`, aarch64 `virt` and a Cortex-M3. Oracles: the program's own counts (known
//! by construction, and printed by it), QEMU's contrib/plugins/traps.c (libtraps) in the same
//! process, the cross binutils' symbols and disassembly (where each call instruction and
//! handler is), execlog (every executed PC) and libmem with `haddr=true` (RAM against I/O).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;

use cannonball_tests::census;
use cannonball_tests::cov::read_listing;
use cannonball_tests::system::{AARCH64, Board, CORTEX_M3, RISCV64};
use cannonball_tests::{TempDir, oracle, oracle_plugin, plugin, plugin_arg, script};

/// tests/firmware/traps.c's constants.
const CALLS: u64 = 7;
const TICKS: u64 = 5;
const USER_N: u64 = 300;

/// How each board's firmware ends: host calls (semihosting on ARM; riscv64 writes the SiFive
/// test device) and the level its privileged code runs at (M-mode; EL1; privileged thread
/// mode or handler mode).
fn host_calls(board: &Board) -> u64 {
    if board.arch == "riscv64" { 0 } else { 1 }
}

fn kernel_level(board: &Board) -> u8 {
    if board.arch == "riscv64" { 3 } else { 1 }
}

/// Function symbols of the firmware: name -> (start, size), from the cross `nm` (Thumb
/// addresses without their mode bit).
fn symbols(board: &Board, fw: &Path) -> HashMap<String, (u64, u64)> {
    cannonball_tests::objdump::nm_symbols(&board.binutil("nm"), fw, board.arch == "arm")
}

/// Every instruction of the firmware: address -> (mnemonic, size), from the cross `objdump`.
fn instructions(board: &Board, fw: &Path) -> BTreeMap<u64, (String, u64)> {
    let out = Command::new(board.binutil("objdump")).arg("-d").arg(fw).output().unwrap();
    assert!(out.status.success(), "{} failed", board.binutil("objdump"));
    let mut map = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut parts = line.split('\t');
        let (Some(addr), Some(bytes), Some(mnemonic)) = (parts.next(), parts.next(), parts.next()) else { continue };
        let Ok(addr) = u64::from_str_radix(addr.trim().trim_end_matches(':'), 16) else { continue };
        // objdump prints the encoding as hex groups: 2 characters per byte.
        let size = bytes.split_whitespace().map(|g| g.len() as u64 / 2).sum();
        map.insert(addr, (mnemonic.trim().to_string(), size));
    }
    map
}

fn census_plugin(out: &Path, kinds: &str) -> String {
    plugin_arg(
        &plugin(),
        &[format!("script={}", script("census").display()), format!("out={}", out.display()), format!("kinds={kinds}")],
    )
}

/// The line traps.c prints: its own counts and user_work's result.
fn assert_program_output(board: &Board, run: &cannonball_tests::QemuRun) {
    let squares: u64 = (0..USER_N).map(|i| i * i).sum();
    let expected = format!("traps: calls {CALLS} ticks {TICKS} returns 1 user {squares}");
    assert_eq!(run.output.status.code(), Some(0), "{}: exit status\n{}", board.arch, run.stderr());
    assert!(run.stdout().contains(&expected), "{}: expected '{expected}' in:\n{}", board.arch, run.stdout());
    assert!(!run.stderr().contains("cannonball: error"), "{}: {}", board.arch, run.stderr());
}

#[test]
fn discontinuities_equal_libtraps_and_the_programs_own() {
    for board in [RISCV64, AARCH64, CORTEX_M3] {
        let arch = board.arch;
        let work = TempDir::new(&format!("traps-{arch}"));
        let fw = board.traps_firmware(&work);
        let out = work.join("out");
        let plugins = [plugin_arg(&oracle_plugin("traps"), &[]), census_plugin(&out, "blocks+trace+discontinuities")];
        let run = board.run(&fw, &plugins, &work);
        assert_program_output(&board, &run);
        let census = census::parse(&std::fs::read_to_string(out.join("census.txt")).unwrap());

        // Counts: libtraps in the same process, and the program's own construction.
        let traps = oracle::traps(&run.plugin_log);
        assert_eq!(census.discontinuities, traps, "{arch}: against libtraps");
        assert_eq!(traps.get(&0), Some(&(TICKS, CALLS + 1, host_calls(&board))), "{arch}: libtraps, by construction");
        assert_eq!(census.get("disc-order-errors"), 0, "{arch}: each exception in the block execution that raised it");

        // Where each one left and went, against the binutils' view of the firmware.
        let syms = symbols(&board, &fw);
        let insns = instructions(&board, &fw);
        let sym = |name: &str| syms.get(name).copied().unwrap_or_else(|| panic!("{arch}: no symbol {name}"));
        let within = |addr: u64, name: &str| {
            let (start, size) = sym(name);
            (start..start + size).contains(&addr)
        };
        let mnemonic = |addr: u64| insns.get(&addr).map(|(m, _)| m.as_str()).unwrap_or("?");
        let call_insn = if arch == "riscv64" { "ecall" } else { "svc" };
        let handler = |kind: &str, from_user: bool| match arch {
            "riscv64" => sym("trap_entry").0,
            "aarch64" => {
                sym("vectors").0
                    + if from_user {
                        0x400
                    } else if kind == "interrupt" {
                        0x280
                    } else {
                        0x200
                    }
            }
            _ => sym(if kind == "interrupt" { "systick_handler" } else { "svc_handler" }).0,
        };
        let list = &census.disc;
        assert_eq!(list.len() as u64, TICKS + CALLS + 1 + host_calls(&board), "{arch}: {list:#x?}");
        let calls: Vec<_> = list.iter().filter(|d| d.1 == "exception" && within(d.2, "make_calls")).collect();
        assert_eq!(calls.len() as u64, CALLS, "{arch}: calls from make_calls: {list:#x?}");
        for (i, d) in calls.iter().enumerate() {
            assert!(mnemonic(d.2).starts_with(call_insn), "{arch}: call {i} from {:#x} ({})", d.2, mnemonic(d.2));
            assert_eq!(d.3, handler("exception", false), "{arch}: call {i} goes to the handler");
            if i > 0 {
                assert!(d.2 > calls[i - 1].2, "{arch}: the calls in program order");
            }
        }
        let ticks: Vec<_> = list.iter().filter(|d| d.1 == "interrupt").collect();
        assert_eq!(ticks.len() as u64, TICKS, "{arch}: {list:#x?}");
        for d in &ticks {
            assert!(within(d.2, "wait_for_ticks"), "{arch}: a tick while waiting, from {:#x}", d.2);
            assert_eq!(d.3, handler("interrupt", false), "{arch}: a tick goes to the handler");
        }
        let back: Vec<_> = list.iter().filter(|d| d.1 == "exception" && !within(d.2, "make_calls")).collect();
        assert_eq!(back.len(), 1, "{arch}: one call back from user level: {list:#x?}");
        assert!(mnemonic(back[0].2).starts_with(call_insn), "{arch}: from {:#x} ({})", back[0].2, mnemonic(back[0].2));
        assert_eq!(back[0].3, handler("exception", true), "{arch}: the call from user level");
        for d in list.iter().filter(|d| d.1 == "host-call") {
            let (m, size) = insns.get(&d.2).cloned().unwrap_or_default();
            assert!(m.starts_with("hlt") || m.starts_with("bkpt"), "{arch}: host call from {:#x} ({m})", d.2);
            assert_eq!(d.3, d.2 + size, "{arch}: a host call continues after its instruction");
        }
    }
}

#[test]
fn privilege_splits_coverage_between_user_and_kernel_code() {
    for board in [RISCV64, AARCH64, CORTEX_M3] {
        let arch = board.arch;
        let work = TempDir::new(&format!("traps-privilege-{arch}"));
        let fw = board.traps_firmware(&work);
        let cov = |level: &str| {
            plugin_arg(
                &plugin(),
                &[
                    format!("script={}", script("cov").display()),
                    format!("out={}", work.join(level).display()),
                    format!("symbols={}", fw.display()),
                    format!("privilege={level}"),
                ],
            )
        };
        // One plugin instance per QEMU: the user listing with execlog, then the rest.
        let run = board.run(&fw, &[plugin_arg(&oracle_plugin("execlog"), &[]), cov("user")], &work);
        assert_program_output(&board, &run);
        let hits = oracle::execlog_hits(&run.plugin_log);
        assert_program_output(&board, &board.run(&fw, &[cov("kernel")], &work));
        let census_out = work.join("census");
        let counted = board.run(
            &fw,
            &[plugin_arg(&oracle_plugin("insn"), &[]), census_plugin(&census_out, "blocks+block-counts")],
            &work,
        );
        assert_program_output(&board, &counted);

        let user = read_listing(&work.join("user"));
        let names: Vec<&str> = user.iter().map(|f| f.name.as_str()).collect();
        for name in ["user_work", "user_body"] {
            assert!(names.contains(&name), "{arch}: {name} ran at user level: {names:?}");
        }
        for name in ["make_calls", "wait_for_ticks", "firmware_main"] {
            assert!(!names.contains(&name), "{arch}: {name} ran privileged, not at user level: {names:?}");
        }
        let kernel = read_listing(&work.join("kernel"));
        let kernel_names: Vec<&str> = kernel.iter().map(|f| f.name.as_str()).collect();
        for name in ["make_calls", "wait_for_ticks", "firmware_main"] {
            assert!(kernel_names.contains(&name), "{arch}: {name} ran privileged: {kernel_names:?}");
        }
        for name in ["user_work", "user_body"] {
            assert!(!kernel_names.contains(&name), "{arch}: {name} ran at user level only: {kernel_names:?}");
        }
        // The user-level functions' hit counts are execlog's, instruction by instruction (they
        // run only at user level: all of their executions are in the user listing).
        for f in user.iter().filter(|f| f.name == "user_work" || f.name == "user_body") {
            for (address, count, text) in &f.insns {
                assert_eq!(*count, hits.get(address).copied().unwrap_or(0), "{arch}: {}+{address:#x} ({text})", f.name);
            }
        }
        let work_loop = user.iter().find(|f| f.name == "user_work").unwrap();
        assert!(work_loop.insns.iter().any(|i| i.1 == USER_N), "{arch}: user_work's loop: {:?}", work_loop.insns);

        // Instructions per level add up to libinsn's total; the user level's are at least
        // user_work's and user_body's (execlog), and only a few glue instructions more.
        let census = census::parse(&std::fs::read_to_string(census_out.join("census.txt")).unwrap());
        let total = oracle::insn(&counted.plugin_log).total;
        let user_level = census.get("privilege-0");
        let kernel_level = census.get(&format!("privilege-{}", kernel_level(&board)));
        assert_eq!(user_level + kernel_level, total, "{arch}: the levels against libinsn");
        let in_user_functions: u64 = ["user_work", "user_body"]
            .iter()
            .flat_map(|name| user.iter().filter(move |f| f.name == *name))
            .flat_map(|f| f.insns.iter().map(|i| i.1))
            .sum();
        assert!(
            (in_user_functions..=in_user_functions + 4).contains(&user_level),
            "{arch}: user level {user_level} against user_work and user_body's {in_user_functions}"
        );

        // The profile splits the same way: at user level, user_work's own instructions are
        // execlog's count of its addresses; the privileged profile has none of them.
        let profile = |level: &str| {
            let out = work.join(&format!("profile-{level}"));
            let options = [
                format!("script={}", script("profile").display()),
                format!("out={}", out.display()),
                format!("symbols={}", fw.display()),
                format!("privilege={level}"),
            ];
            assert_program_output(&board, &board.run(&fw, &[plugin_arg(&plugin(), &options)], &work));
            std::fs::read_to_string(out.join("profile.txt")).unwrap()
        };
        let exclusive = |text: &str, name: &str| {
            text.lines().find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 3 && f[2] == name).then(|| f[1].parse::<u64>().unwrap())
            })
        };
        let (start, size) = symbols(&board, &fw)["user_work"];
        let in_user_work: u64 = hits.iter().filter(|(pc, _)| (start..start + size).contains(pc)).map(|(_, n)| n).sum();
        let user_profile = profile("user");
        assert_eq!(exclusive(&user_profile, "user_work"), Some(in_user_work), "{arch}: user profile\n{user_profile}");
        assert_eq!(exclusive(&user_profile, "make_calls"), None, "{arch}: user profile\n{user_profile}");
        let kernel_profile = profile("kernel");
        assert_eq!(exclusive(&kernel_profile, "user_work"), None, "{arch}: kernel profile\n{kernel_profile}");
        assert!(exclusive(&kernel_profile, "make_calls").is_some(), "{arch}: kernel profile\n{kernel_profile}");
    }
}

#[test]
fn physical_addresses_tell_ram_from_devices_as_libmem_does() {
    for board in [RISCV64, AARCH64, CORTEX_M3] {
        let arch = board.arch;
        let work = TempDir::new(&format!("traps-physical-{arch}"));
        let fw = board.traps_firmware(&work);
        let out = work.join("out");
        let libmem = plugin_arg(&oracle_plugin("mem"), &["haddr=true".into(), "callback=true".into()]);
        let run = board.run(&fw, &[libmem, census_plugin(&out, "memory+memory-physical")], &work);
        assert_program_output(&board, &run);
        let census = census::parse(&std::fs::read_to_string(out.join("census.txt")).unwrap());
        let (ram, io) = oracle::mem_ram_io(&run.plugin_log);
        assert_eq!(census.devices.get("RAM").copied().unwrap_or(0), ram, "{arch}: RAM and ROM against libmem");
        let devices: u64 = census.devices.iter().filter(|(name, _)| *name != "RAM").map(|(_, n)| n).sum();
        assert_eq!(devices, io, "{arch}: I/O against libmem: {:?}", census.devices);
        assert!(io > 40, "{arch}: the UART's characters and the timer are I/O: {:?}", census.devices);
        // Where the firmware prints: the board's UART, by its QEMU name.
        let uart = match arch {
            "riscv64" => "serial",
            "aarch64" => "pl011",
            _ => "uart",
        };
        assert!(census.devices.keys().any(|k| k.contains(uart)), "{arch}: the UART ({uart}): {:?}", census.devices);
    }
}

#[test]
fn forwarded_discontinuities_reach_dump_as_libtraps_counts_them() {
    let board = RISCV64;
    let work = TempDir::new("traps-forward");
    let fw = board.traps_firmware(&work);
    let stream = work.join("stream.cbal");
    let fwd = plugin_arg(&plugin(), &[format!("fwd={}", stream.display()), "forward=trace+discontinuities".into()]);
    let run = board.run(&fw, &[plugin_arg(&oracle_plugin("traps"), &[]), fwd], &work);
    assert_program_output(&board, &run);
    let lines = work.join("dump.jsonl");
    let mut dump = Command::new(cannonball_tests::cli());
    dump.arg("dump").arg("--from").arg(&stream).arg("-o").arg(&lines);
    let out = cannonball_tests::watchdog::output(&mut dump);
    assert!(out.status.success(), "dump: {}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&lines).unwrap();
    let events: Vec<&str> = text.lines().filter(|l| l.contains(r#""event":"discontinuity""#)).collect();
    let count = |kind: &str| events.iter().filter(|l| l.contains(&format!(r#""kind":"{kind}""#))).count() as u64;
    let traps = oracle::traps(&run.plugin_log)[&0];
    assert_eq!((count("interrupt"), count("exception"), count("host-call")), traps, "against libtraps:\n{events:#?}");
    let handler = format!(r#""to":"{:#x}""#, symbols(&board, &fw)["trap_entry"].0);
    assert!(events.iter().all(|l| l.contains(&handler)), "every one to trap_entry ({handler}):\n{events:#?}");

    // The same stream as Parquet, queried by DuckDB (target/py, which `cargo xtask test` makes).
    let tables = work.join("tables");
    let mut dump = Command::new(cannonball_tests::cli());
    dump.arg("dump").arg("--from").arg(&stream).arg("--parquet").arg(&tables);
    let out = cannonball_tests::watchdog::output(&mut dump);
    assert!(out.status.success(), "dump --parquet: {}", String::from_utf8_lossy(&out.stderr));
    let python = cannonball_tests::root().join("target/py/bin/python3");
    let query = format!(
        "import duckdb\nfor kind, n in duckdb.sql(\"select kind, count(*) from read_parquet('{}/discontinuities/*/*.parquet') group by kind\").fetchall(): print(kind, n)",
        tables.display()
    );
    let out = cannonball_tests::watchdog::output(Command::new(python).arg("-c").arg(&query));
    assert!(out.status.success(), "duckdb: {}", String::from_utf8_lossy(&out.stderr));
    let rows = String::from_utf8_lossy(&out.stdout).into_owned();
    let count = |kind: &str| {
        rows.lines().find_map(|l| l.strip_prefix(&format!("{kind} "))).map_or(0, |n| n.trim().parse::<u64>().unwrap())
    };
    assert_eq!(
        (count("interrupt"), count("exception"), count("host-call")),
        traps,
        "Parquet against libtraps:\n{rows}"
    );
}
