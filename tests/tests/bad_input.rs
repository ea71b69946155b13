//! Bad plugin arguments and unusable scripts: one clear error line, non-zero exit, and the
//! guest never runs.

use cannonball_tests::{TempDir, plugin, plugin_arg, program, run_qemu, script};

/// Runs the demo program with the given libcannonball options; asserts the failure shape and
/// returns the error line.
fn expect_error(options: &[String]) -> String {
    let work = TempDir::new("bad-input");
    let run = run_qemu("x86_64", &[plugin_arg(&plugin(), options)], &program("demo"), &[], &work);
    let stderr = run.stderr();
    assert!(!run.output.status.success(), "{options:?}: expected failure, stderr: {stderr}");
    assert!(!run.stdout().contains("primes"), "{options:?}: the guest ran");
    let lines: Vec<_> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{options:?}: expected one line, got:\n{stderr}");
    assert!(lines[0].starts_with("cannonball: error: "), "{options:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    lines[0].to_owned()
}

fn icount() -> String {
    format!("script={}", script("icount").display())
}

#[test]
fn missing_script_option() {
    let line = expect_error(&["out=/tmp".into()]);
    assert!(line.contains("script=FILE.wasm"), "{line}");
}

#[test]
fn missing_script_file() {
    let line = expect_error(&["script=/nonexistent/x.wasm".into()]);
    assert!(line.contains("cannot read script /nonexistent/x.wasm"), "{line}");
}

#[test]
fn not_a_wasm_file() {
    let work = TempDir::new("not-wasm");
    let path = work.join("x.wasm");
    std::fs::write(&path, "#!/bin/sh\necho hi\n").unwrap();
    let line = expect_error(&[format!("script={}", path.display())]);
    assert!(line.contains("is not a WebAssembly file"), "{line}");
}

#[test]
fn core_module_instead_of_component() {
    let work = TempDir::new("core-module");
    let path = work.join("core.wasm");
    std::fs::write(&path, b"\0asm\x01\0\0\0").unwrap();
    let line = expect_error(&[format!("script={}", path.display())]);
    assert!(line.contains("core Wasm module, not a component"), "{line}");
}

#[test]
fn truncated_component() {
    let work = TempDir::new("truncated");
    let bytes = std::fs::read(script("icount")).unwrap();
    let path = work.join("cut.wasm");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let line = expect_error(&[format!("script={}", path.display())]);
    assert!(line.contains("is not a valid component"), "{line}");
}

#[test]
fn unknown_script_argument_is_rejected_by_the_script() {
    let line = expect_error(&[icount(), "bogus=1".into()]);
    assert!(line.contains("unknown argument 'bogus'"), "{line}");
}

#[test]
fn bad_boolean_value() {
    let line = expect_error(&[icount(), "help=maybe".into()]);
    assert!(line.contains("help=BOOL"), "{line}");
}

#[test]
fn unwritable_out_directory() {
    let line = expect_error(&[icount(), "out=/proc/cannonball".into()]);
    assert!(line.contains("out directory"), "{line}");
}

#[test]
fn help_lists_options_and_does_not_run_the_guest() {
    let work = TempDir::new("help");
    let run = run_qemu("x86_64", &[plugin_arg(&plugin(), &["help=true".into()])], &program("demo"), &[], &work);
    assert!(run.output.status.success(), "{}", run.stderr());
    let stderr = run.stderr();
    for key in ["script=", "out=", "help="] {
        assert!(stderr.contains(key), "help lacks {key}:\n{stderr}");
    }
    assert!(!run.stdout().contains("primes"), "the guest ran");
}

#[test]
fn script_argument_of_the_wrong_type() {
    let line = expect_error(&[format!("script={}", script("census").display()), "spin=lots".into()]);
    assert!(line.contains("invalid value 'lots' for argument 'spin' of script census: expected an integer"), "{line}");
}

#[test]
fn help_with_a_script_lists_its_arguments() {
    let work = TempDir::new("help-script");
    let options = ["help=true".to_string(), format!("script={}", script("census").display())];
    let run = run_qemu("x86_64", &[plugin_arg(&plugin(), &options)], &program("demo"), &[], &work);
    assert!(run.output.status.success(), "{}", run.stderr());
    let stderr = run.stderr();
    assert!(stderr.contains("Script census 0.1.0"), "{stderr}");
    for key in ["kinds=<text>", "filter=<text>", "spin=<int>", "[default: 0]"] {
        assert!(stderr.contains(key), "help lacks {key}:\n{stderr}");
    }
    assert!(!run.stdout().contains("primes"), "the guest ran");
}
