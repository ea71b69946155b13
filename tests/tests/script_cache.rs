//! The cache of compiled scripts (`cache=DIR`): a second run loads what the first compiled,
//! with the same results as a run without the cache; damaged entries, changed scripts,
//! concurrent cold starts and a directory others may write are all handled without a crash.
//!
//! What the cache did is read from the start-up line (`CANNONBALL_STARTUP_TIMES=1`: `compile
//! ... (cache hit)`) and from the directory's files; no test looks at a timing.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cannonball_tests::{TempDir, plugin, plugin_arg, program, qemu_command, script};

/// One QEMU run of `demo` with `script` and `cache` (a `cache=` value), reports in `out`.
fn run(script: &Path, cache: &str, out: &Path, work: &TempDir) -> Output {
    let options = [format!("script={}", script.display()), format!("out={}", out.display()), format!("cache={cache}")];
    cannonball_tests::watchdog::output(&mut command(&options, work))
}

fn command(options: &[String], work: &TempDir) -> Command {
    let log = work.join(&format!("plugin-{}.log", options.join("").len()));
    let mut cmd = qemu_command("x86_64", &[plugin_arg(&plugin(), options)], &program("demo"), &[], &log);
    cmd.current_dir(work.path()).env("LC_ALL", "C").env_remove("RUST_BACKTRACE").env("CANNONBALL_STARTUP_TIMES", "1");
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// What the cache did, from the start-up line: "cache hit", "cache miss, stored", ...
fn outcome(out: &Output) -> String {
    assert!(out.status.success(), "qemu failed: {}", stderr(out));
    let text = stderr(out);
    let line = text.lines().find(|l| l.starts_with("cannonball: startup:")).unwrap_or_else(|| panic!("{text}"));
    let at = line.find("compile ").unwrap_or_else(|| panic!("{line}"));
    let rest = &line[at..];
    rest[rest.find('(').unwrap() + 1..rest.find(')').unwrap()].to_owned()
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "cwasm")).collect())
        .unwrap_or_default();
    found.sort();
    found
}

fn report(out: &Path) -> String {
    std::fs::read_to_string(out.join("icount.txt")).unwrap_or_else(|e| panic!("{}: {e}", out.display()))
}

#[test]
fn the_second_run_loads_the_first_runs_compilation_with_identical_results() {
    let work = TempDir::new("cache-hit");
    let cache = work.join("cache");
    let first = run(&script("icount"), cache.to_str().unwrap(), &work.join("a"), &work);
    assert_eq!(outcome(&first), "cache miss, stored");
    let stored = entries(&cache);
    assert_eq!(stored.len(), 1, "one entry: {stored:?}");
    let name = stored[0].file_stem().unwrap().to_str().unwrap();
    assert!(name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()), "a SHA-256 key: {name}");
    assert_eq!(std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(&stored[0]).unwrap().permissions().mode() & 0o777, 0o600);

    let second = run(&script("icount"), cache.to_str().unwrap(), &work.join("b"), &work);
    assert_eq!(outcome(&second), "cache hit");
    assert_eq!(entries(&cache), stored);
    let uncached = run(&script("icount"), "off", &work.join("c"), &work);
    assert_eq!(outcome(&uncached), "cache off");
    assert_eq!(report(&work.join("b")), report(&work.join("c")));
    assert_eq!(report(&work.join("a")), report(&work.join("c")));
    assert!(report(&work.join("c")).contains("total "), "{}", report(&work.join("c")));
}

#[test]
fn a_damaged_entry_is_compiled_again_and_replaced() {
    let work = TempDir::new("cache-damaged");
    let cache = work.join("cache");
    let c = cache.to_str().unwrap();
    outcome(&run(&script("icount"), c, &work.join("a"), &work));
    let entry = entries(&cache).pop().unwrap();
    let good = std::fs::read(&entry).unwrap();

    // A flipped byte in the code, then a file cut short (a full disk), then garbage.
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xff;
    for damaged in [flipped, good[..good.len() / 3].to_vec(), b"not an entry".to_vec(), Vec::new()] {
        std::fs::write(&entry, &damaged).unwrap();
        let out = run(&script("icount"), c, &work.join("b"), &work);
        assert!(outcome(&out).starts_with("cache entry replaced: "), "{}", stderr(&out));
        assert!(!stderr(&out).contains("warning"), "a replaced entry is not worth a warning: {}", stderr(&out));
        assert_eq!(report(&work.join("b")), report(&work.join("a")));
        assert_eq!(std::fs::read(&entry).unwrap(), good, "the entry is whole again");
        assert_eq!(outcome(&run(&script("icount"), c, &work.join("b"), &work)), "cache hit");
    }
}

#[test]
fn a_changed_script_is_not_served_from_the_old_entry() {
    let work = TempDir::new("cache-changed");
    let cache = work.join("cache");
    let c = cache.to_str().unwrap();
    // The same file name, other contents: the key is the contents, not the name.
    let path = work.join("script.wasm");
    std::fs::copy(script("icount"), &path).unwrap();
    outcome(&run(&path, c, &work.join("a"), &work));
    std::fs::copy(script("syscalls"), &path).unwrap();
    let out = run(&path, c, &work.join("b"), &work);
    assert_eq!(outcome(&out), "cache miss, stored");
    assert!(stderr(&out).contains("system calls"), "the new script ran: {}", stderr(&out));
    assert_eq!(entries(&cache).len(), 2);
    // Limits are not compiled in: a run with another memory limit shares the entry.
    let options = [
        format!("script={}", path.display()),
        format!("out={}", work.join("b").display()),
        format!("cache={c}"),
        "script-memory=64".into(),
    ];
    assert_eq!(outcome(&cannonball_tests::watchdog::output(&mut command(&options, &work))), "cache hit");
}

#[test]
fn eight_concurrent_runs_on_a_cold_cache_all_succeed() {
    let work = TempDir::new("cache-concurrent");
    let cache = work.join("cache");
    let c = cache.to_str().unwrap();
    let children: Vec<_> = (0..8)
        .map(|i| {
            let options = [
                format!("script={}", script("icount").display()),
                format!("out={}", work.join(&format!("out{i}")).display()),
                format!("cache={c}"),
            ];
            let mut cmd = command(&options, &work);
            cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
            cannonball_tests::watchdog::spawn(&mut cmd)
        })
        .collect();
    let reports: Vec<String> = children
        .into_iter()
        .enumerate()
        .map(|(i, child)| {
            let out = child.wait_with_output();
            let what = outcome(&out);
            assert!(what == "cache miss, stored" || what == "cache hit", "run {i}: {what}");
            assert!(!stderr(&out).contains("warning"), "run {i}: {}", stderr(&out));
            report(&work.join(&format!("out{i}")))
        })
        .collect();
    assert!(reports.iter().all(|r| *r == reports[0]), "{reports:?}");
    assert_eq!(entries(&cache).len(), 1);
    let left: Vec<_> = std::fs::read_dir(&cache).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(left.len(), 1, "no temporary file left behind: {left:?}");
    assert_eq!(outcome(&run(&script("icount"), c, &work.join("after"), &work)), "cache hit");
}

#[test]
fn a_directory_others_may_write_is_refused_with_one_warning() {
    let work = TempDir::new("cache-unsafe");
    let cache = work.join("shared");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = run(&script("icount"), cache.to_str().unwrap(), &work.join("a"), &work);
    assert!(outcome(&out).starts_with("cache skipped: "), "{}", stderr(&out));
    let warnings: Vec<String> =
        stderr(&out).lines().filter(|l| l.starts_with("cannonball: warning:")).map(str::to_owned).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("writable by others"), "{}", warnings[0]);
    assert!(entries(&cache).is_empty(), "nothing stored in a shared directory");
    assert!(report(&work.join("a")).contains("total "));

    // An entry others may write is not loaded either (one warning): it is replaced by a
    // private one. So is a symbolic link in an entry's place.
    let private = work.join("private");
    outcome(&run(&script("icount"), private.to_str().unwrap(), &work.join("a"), &work));
    let entry = entries(&private).pop().unwrap();
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = run(&script("icount"), private.to_str().unwrap(), &work.join("a"), &work);
    assert!(outcome(&out).starts_with("cache entry not trusted, replaced: the entry is writable by others"));
    assert_eq!(stderr(&out).matches("cannonball: warning:").count(), 1, "{}", stderr(&out));
    assert_eq!(std::fs::metadata(&entry).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(outcome(&run(&script("icount"), private.to_str().unwrap(), &work.join("a"), &work)), "cache hit");

    let elsewhere = work.join("elsewhere.cwasm");
    std::fs::rename(&entry, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &entry).unwrap();
    let out = run(&script("icount"), private.to_str().unwrap(), &work.join("a"), &work);
    assert!(outcome(&out).contains("symbolic link"), "{}", stderr(&out));
    assert!(!std::fs::symlink_metadata(&entry).unwrap().file_type().is_symlink(), "replaced by a file");
}

#[test]
fn a_cache_that_cannot_be_written_costs_one_warning_and_nothing_else() {
    let work = TempDir::new("cache-readonly");
    // A path below a regular file cannot be created (a read-only disk would fail the same way
    // at the write; root ignores permission bits, so this is how a test can make it fail).
    let blocker = work.join("file");
    std::fs::write(&blocker, b"").unwrap();
    let out = run(&script("icount"), blocker.join("cache").to_str().unwrap(), &work.join("a"), &work);
    assert!(outcome(&out).starts_with("cache skipped: cannot create"), "{}", stderr(&out));
    assert_eq!(stderr(&out).matches("cannonball: warning:").count(), 1, "{}", stderr(&out));
    assert!(report(&work.join("a")).contains("total "));
}

#[test]
fn the_cli_inspects_into_the_cache_and_run_passes_cache_off_through() {
    let work = TempDir::new("cache-cli");
    let cache = work.join("xdg");
    // `cannonball inspect` compiles into the default directory ($XDG_CACHE_HOME/cannonball)
    // with the plugin's engine settings: the plugin's next run hits.
    let inspect = cannonball_tests::watchdog::output(
        Command::new(cannonball_tests::cli())
            .args(["inspect", script("cov").to_str().unwrap()])
            .env("XDG_CACHE_HOME", &cache)
            .env_remove("RUST_BACKTRACE"),
    );
    assert!(inspect.status.success(), "{}", String::from_utf8_lossy(&inspect.stderr));
    assert_eq!(entries(&cache.join("cannonball")).len(), 1);
    let options = [format!("script={}", script("cov").display()), format!("out={}", work.join("a").display())];
    let out = cannonball_tests::watchdog::output(command(&options, &work).env("XDG_CACHE_HOME", &cache));
    assert_eq!(outcome(&out), "cache hit");

    // `cannonball run` passes script arguments through: -a cache=off reaches the plugin.
    let run = cannonball_tests::watchdog::output(
        Command::new(cannonball_tests::cli())
            .args(["run", "-q", "-s", script("icount").to_str().unwrap(), "-o", work.join("b").to_str().unwrap()])
            .args(["-a", "cache=off", "--"])
            .arg(program("demo"))
            .env("XDG_CACHE_HOME", work.join("unused"))
            .env("CANNONBALL_STARTUP_TIMES", "1")
            .env_remove("RUST_BACKTRACE"),
    );
    assert_eq!(outcome(&run), "cache off");
    assert!(!work.join("unused").exists());
}
