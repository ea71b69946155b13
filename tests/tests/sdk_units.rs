//! The C and AssemblyScript SDKs' own helpers, checked where they run: a script in each
//! (tests/fixtures/sdk_units/) built with `cannonball build` checks arguments as the host hands
//! them over, privilege levels, memory info bits and block facts against known answers, one
//! line per check, and the run under QEMU must report every check and no failure. (The Rust
//! SDK's own tests run on the host: guest-sdk/rust/src/tests.rs.)

use std::path::{Path, PathBuf};

use cannonball_tests::{TempDir, plugin, plugin_arg, program, run_qemu};

fn build(lang: &str, fixture: &str, source: &str, work: &TempDir) -> PathBuf {
    cannonball_tests::build_sdk_fixture(lang, &format!("units_{lang}"), fixture, source, work)
}

/// Runs `wasm` on the demo program with the arguments the fixtures expect; units.txt's lines.
fn checks(wasm: &Path, name: &str, work: &TempDir) -> Vec<String> {
    let out = work.join(&format!("out-{}", wasm.file_stem().unwrap().to_string_lossy()));
    let options = [
        format!("script={}", wasm.display()),
        format!("out={}", out.display()),
        "n=0x10".into(),
        format!("name={name}"),
        "flag=true".into(),
    ];
    let run = run_qemu("x86_64", &[plugin_arg(&plugin(), &options)], &program("demo"), &[], work);
    assert!(run.output.status.success(), "{}", run.stderr());
    std::fs::read_to_string(out.join("units.txt")).unwrap().lines().map(String::from).collect()
}

#[test]
fn the_c_and_assemblyscript_sdks_helpers_give_the_known_answers() {
    let work = TempDir::new("sdk-units");
    for (lang, fixture, source, expected) in
        [("c", "units.c", "main.c", 15), ("as", "units.ts", "assembly/index.ts", 16)]
    {
        let wasm = build(lang, fixture, source, &work);
        let lines = checks(&wasm, "x", &work);
        let failed: Vec<&String> = lines.iter().filter(|l| !l.starts_with("ok ")).collect();
        assert!(failed.is_empty(), "{lang}: {failed:#?}");
        assert_eq!(lines.len(), expected, "{lang}: every check ran: {lines:#?}");
        // The same script told a different name: its check of it fails, and says so.
        let wrong = checks(&wasm, "y", &work);
        assert_eq!(wrong.iter().filter(|l| l.starts_with("FAIL ")).count(), 1, "{lang}: {wrong:#?}");
    }
}
