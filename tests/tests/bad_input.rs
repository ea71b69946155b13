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

/// A component made from WIT text (no toolchain: wit-component's dummy module).
fn component_of(wit_files: &[(&str, String)], world: &str, work: &TempDir) -> std::path::PathBuf {
    let dir = work.join("wit");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in wit_files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let mut resolve = wit_parser::Resolve::default();
    let (pkg, _) = resolve.push_dir(&dir).unwrap();
    let world = resolve.select_world(&[pkg], Some(world)).unwrap();
    let mut module = wit_component::dummy_module(&resolve, world, wit_parser::ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(&mut module, &resolve, world, wit_component::StringEncoding::UTF8).unwrap();
    let component =
        wit_component::ComponentEncoder::default().module(&module).unwrap().validate(true).encode().unwrap();
    let path = work.join("other.wasm");
    std::fs::write(&path, component).unwrap();
    path
}

#[test]
fn component_of_another_world() {
    let work = TempDir::new("other-world");
    let wit =
        "package acme:plugin@1.0.0;\nworld tool {\n  import log: func(msg: string);\n  export run: func() -> u32;\n}\n";
    let path = component_of(&[("tool.wit", wit.to_string())], "tool", &work);
    let line = expect_error(&[format!("script={}", path.display())]);
    assert!(line.contains("is a component of another world"), "{line}");
    assert!(line.contains("not a cannonball:script@0.3.1 script"), "{line}");
}

#[test]
fn component_of_another_interface_version() {
    let work = TempDir::new("other-version");
    // Our own WIT, as a future version 0.4.0 would be.
    let files: Vec<(&str, String)> = ["types.wit", "host.wit", "world.wit", "merge.wit"]
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(cannonball_tests::root().join("wit").join(f)).unwrap();
            (*f, text.replace("cannonball:script@0.3.1", "cannonball:script@0.4.0"))
        })
        .collect();
    let path = component_of(&files, "script", &work);
    let line = expect_error(&[format!("script={}", path.display())]);
    assert!(
        line.contains(
            "was built for cannonball:script@0.4.0; this host speaks cannonball:script@0.3.1 (and 0.3.0, 0.2.x and 0.1.0)"
        ),
        "{line}"
    );
}

#[test]
fn bad_limits_and_policies() {
    for (option, expected) in [
        ("on-error=explode", "on-error=explode: expected detach or abort"),
        ("script-memory=0", "script-memory=0"),
        ("script-time=-1", "script-time=-1"),
        ("report-limit=lots", "report-limit=MIB"),
    ] {
        let line = expect_error(&[icount(), option.to_string()]);
        assert!(line.contains(expected), "{option}: {line}");
    }
    // Found by fuzzing: a finite but huge timeout was a panic, now an argument error.
    let line = expect_error(&[icount(), "sock=/tmp/cannonball-nowhere.sock".into(), "sock-timeout=1e20".into()]);
    assert!(line.contains("is not a number of seconds"), "{line}");
}
