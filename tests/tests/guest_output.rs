//! Under `cannonball run`, the guest's stdout and stderr are byte for byte what plain QEMU
//! gives, with every example script, on a program that writes to both from two processes
//! (a fork): the plugin's own lines (a script's log, icount's total, warnings) go to
//! `cannonball.log` in the out directory (a forked child's to `cannonball.PID.log`), and
//! `cannonball run` shows them after the guest's output unless `-q`.

use std::process::{Command, Output};

use cannonball_launcher::Tree;
use cannonball_tests::{TempDir, cli, program, qemu, watchdog};

fn run(cmd: &mut Command, work: &TempDir) -> Output {
    cmd.current_dir(work.path()).env("LC_ALL", "C").env_remove("RUST_BACKTRACE");
    watchdog::output(cmd)
}

#[test]
fn the_guest_output_is_plain_qemus_under_every_example_script() {
    let work = TempDir::new("guest-output");
    let prog = program("fork_output");
    let plain = run(Command::new(qemu("x86_64")).arg(&prog), &work);
    assert_eq!(plain.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&plain.stderr).contains("err: child"), "the program's own output");
    let mut scripts: Vec<_> = std::fs::read_dir(Tree::source().scripts())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    scripts.sort();
    assert!(scripts.len() >= 9, "{scripts:?}");
    for script in &scripts {
        let name = script.file_stem().unwrap().to_string_lossy().into_owned();
        let out = work.join(&format!("out-{name}"));
        let ours = run(
            Command::new(cli()).args(["run", "-q", "-s"]).arg(script).arg("-o").arg(&out).arg("--").arg(&prog),
            &work,
        );
        assert_eq!(ours.status.code(), plain.status.code(), "{name}: exit status");
        assert_eq!(ours.stdout, plain.stdout, "{name}: stdout");
        assert_eq!(
            String::from_utf8_lossy(&ours.stderr),
            String::from_utf8_lossy(&plain.stderr),
            "{name}: stderr (the plugin's lines are in {})",
            out.display()
        );
    }
    // icount says its total in a line of its own: in the parent's log and the child's.
    let logs: Vec<String> = std::fs::read_dir(work.join("out-icount"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("cannonball.") && n.ends_with(".log"))
        .collect();
    assert_eq!(logs.len(), 2, "the parent's and the child's log: {logs:?}");
    for log in &logs {
        let text = std::fs::read_to_string(work.join("out-icount").join(log)).unwrap();
        assert!(text.contains("[icount] info: ") && text.contains(" instructions executed"), "{log}: {text}");
    }
}

#[test]
fn without_q_the_plugins_lines_follow_the_guests_output() {
    let work = TempDir::new("guest-output-shown");
    let icount = cannonball_tests::script("icount");
    let out = run(
        Command::new(cli()).args(["run", "-s"]).arg(&icount).args(["-o", "r", "--"]).arg(program("fork_output")),
        &work,
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let guest_end = stderr.find("err: parent").unwrap_or_else(|| panic!("{stderr}"));
    let ours = stderr.find("[icount] info: ").unwrap_or_else(|| panic!("{stderr}"));
    assert!(ours > guest_end, "after the guest's output: {stderr}");
}

/// `cannonball dump` running a program keeps its own output apart from the guest's too: with
/// `-o` the guest's stdout and stderr are plain QEMU's and the plugin's lines follow them;
/// without `-o` stdout is dump's count alone, and the guest's stdout joins its stderr.
#[test]
fn dump_keeps_its_output_apart_from_the_guests() {
    let work = TempDir::new("guest-output-dump");
    let prog = program("fork_output");
    let plain = run(Command::new(qemu("x86_64")).arg(&prog), &work);
    let icount = cannonball_tests::script("icount");
    let to_file = run(
        Command::new(cli()).args(["dump", "--count", "-o", "count.json", "--script"]).arg(&icount).arg("--").arg(&prog),
        &work,
    );
    assert!(to_file.status.success(), "{}", String::from_utf8_lossy(&to_file.stderr));
    assert_eq!(to_file.stdout, plain.stdout, "stdout with -o");
    let stderr = String::from_utf8_lossy(&to_file.stderr);
    let plain_stderr = String::from_utf8_lossy(&plain.stderr);
    let ours = stderr.strip_prefix(&*plain_stderr).unwrap_or_else(|| panic!("the guest's stderr first:\n{stderr}"));
    assert_eq!(ours.lines().count(), 2, "then the plugin's lines, parent and child: {ours}");
    assert!(ours.lines().all(|l| l.starts_with("[icount] info: ")), "{ours}");
    assert!(std::fs::read_to_string(work.join("count.json")).unwrap().contains("\"end_instructions\""));

    let to_stdout = run(Command::new(cli()).args(["dump", "--count", "--"]).arg(&prog), &work);
    assert!(to_stdout.status.success(), "{}", String::from_utf8_lossy(&to_stdout.stderr));
    let stdout = String::from_utf8_lossy(&to_stdout.stdout);
    assert_eq!(stdout.lines().count(), 1, "the count alone on stdout: {stdout}");
    assert!(stdout.starts_with('{') && stdout.contains("\"end_instructions\""), "{stdout}");
    let stderr = String::from_utf8_lossy(&to_stdout.stderr);
    for line in String::from_utf8_lossy(&plain.stdout).lines().chain(plain_stderr.lines()) {
        assert!(stderr.contains(line), "the guest's '{line}' on stderr: {stderr}");
    }
}
