//! `cannonball run`: one command for a QEMU run with the plugin. Finds QEMU and
//! libcannonball.so, picks the target from the program's ELF header, shows a live progress
//! line (instructions so far, events per second) on a terminal, and says where the reports
//! went. Exits with the guest's exit status.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result, bail};

use crate::locate;

/// The plugin's own lines (errors, warnings, the script's log) of a run, in its out directory;
/// a forked child's in `cannonball.PID.log`.
pub const LOG: &str = "cannonball.log";

/// Where a run from a registry reference records what it ran.
pub const SCRIPT_REF: &str = "script.ref";

#[derive(clap::Args)]
pub struct RunArgs {
    /// The analysis script: a .wasm component, or a registry reference HOST/REPO:TAG or
    /// HOST/REPO@sha256:... (pulled once into the component cache). Without one, give --sock
    /// or --fwd to forward.
    #[arg(short, long)]
    script: Option<String>,
    /// A script argument KEY=VALUE (repeatable).
    #[arg(short = 'a', long = "arg", value_name = "KEY=VALUE")]
    args: Vec<String>,
    /// Directory for the script's reports.
    #[arg(short, long, default_value = ".")]
    out: PathBuf,
    #[command(flatten)]
    guest: crate::locate::GuestOptions,
    #[command(flatten)]
    corpus: crate::corpus::CorpusArgs,
    /// Forward to a consumer listening on this Unix socket (see `cannonball dump`).
    #[arg(long)]
    sock: Option<PathBuf>,
    /// Forward to this file (- for stdout).
    #[arg(long)]
    fwd: Option<String>,
    /// Raw event kinds to forward, joined with + (trace, memory, syscalls, syscall-data, threads, blocks).
    #[arg(long)]
    forward: Option<String>,
    /// A directory of separate debug files (as gdb's debug-file-directory), searched before
    /// /usr/lib/debug for the symbols and source lines of stripped modules.
    #[arg(long, value_name = "DIR")]
    debug_dir: Option<PathBuf>,
    /// Show the progress line even when stderr is not a terminal.
    #[arg(long, conflicts_with = "quiet")]
    progress: bool,
    /// No progress line and no closing summary.
    #[arg(short, long)]
    quiet: bool,
    /// Run a kernel or firmware under the system emulator for ARCH (x86_64, aarch64, arm,
    /// riscv64; default: from the -kernel image's ELF header). What follows `--` is then
    /// QEMU's machine arguments, e.g. `-M virt -kernel fw.elf`.
    #[arg(long, value_name = "ARCH", num_args = 0..=1, default_missing_value = "", conflicts_with_all = ["sysroot", "arch"])]
    system: Option<String>,
    /// With --system: an ELF file or System.map with the guest code's symbols, FILE[@ADDRESS]
    /// to place it (repeatable; default: the -kernel image when it is an ELF file).
    #[arg(long, value_name = "FILE[@ADDRESS]", requires = "system")]
    symbols: Vec<String>,
    /// The program and its arguments (with --system: QEMU's machine arguments).
    #[arg(last = true, required = true)]
    program: Vec<OsString>,
}

/// The run's guest: a program in user mode, or a machine under a system emulator.
enum Started {
    User(locate::Guest),
    System(crate::system::SystemGuest),
}

impl Started {
    fn command(&self, options: &[String]) -> Result<std::process::Command> {
        match self {
            Started::User(guest) => guest.command(options),
            Started::System(machine) => machine.command(options),
        }
    }
}

pub fn run(args: RunArgs) -> Result<i32> {
    let machine = match &args.system {
        Some(arch) => Started::System(crate::system::SystemGuest::new(&args.program, arch, &args.symbols)?),
        None => Started::User(locate::Guest::new(&args.program, &args.guest)?),
    };
    let mut options = Vec::new();
    let script = args.script.as_deref().map(crate::oci::resolve).transpose()?;
    if let Some(script) = &script {
        if !script.path.is_file() {
            bail!("script {} not found", script.path.display());
        }
        options.push(format!("script={}", script.path.display()));
    }
    let log = if args.corpus.corpus.is_none() {
        options.push(format!("out={}", args.out.display()));
        // Our lines go to a file of the run, so that the guest's stdout and stderr are what
        // plain QEMU gives (a harness parsing them sees no difference); shown after the run.
        std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
        let log = std::path::absolute(args.out.join(LOG))?;
        let _ = std::fs::remove_file(&log);
        options.push(format!("log={}", log.display()));
        record_origin(&args.out, script.as_ref())?;
        Some(log)
    } else {
        None
    };
    for (key, value) in [("sock", args.sock.as_ref().map(|p| p.display().to_string())), ("fwd", args.fwd.clone())] {
        if let Some(value) = value {
            options.push(format!("{key}={value}"));
        }
    }
    if let Some(kinds) = &args.forward {
        options.push(format!("forward={kinds}"));
    }
    if let Some(dir) = &args.debug_dir {
        if !dir.is_dir() {
            bail!("--debug-dir {}: not a directory", dir.display());
        }
        // Absolute: QEMU of a corpus run starts in another directory.
        options.push(format!("debug-dir={}", std::path::absolute(dir)?.display()));
    }
    for arg in &args.args {
        if !arg.contains('=') {
            bail!("script argument '{arg}' is not KEY=VALUE");
        }
        options.push(arg.clone());
    }
    if args.corpus.corpus.is_some() {
        std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
        record_origin(&args.out, script.as_ref())?;
        let Started::User(guest) = &machine else {
            bail!("--corpus runs programs in user mode; it does not combine with --system")
        };
        return crate::corpus::run(&crate::corpus::Plan {
            corpus: &args.corpus,
            guest,
            plugin_options: &options,
            out: &args.out,
            script: script.as_ref().map(|s| s.path.as_path()),
            quiet: args.quiet,
        });
    }
    let show_progress = !args.quiet && (args.progress || std::io::stderr().is_terminal());
    let pipe = if show_progress { Some(progress_pipe()?) } else { None };
    if let Some((_, write_end)) = &pipe {
        options.push(format!("progress-fd={}", std::os::fd::AsRawFd::as_raw_fd(write_end)));
    }

    let started = Instant::now();
    let wall_start = SystemTime::now();
    let mut child = machine.command(&options)?.spawn().context("cannot start QEMU")?;
    crate::forward_signals::install(child.id());
    let mut last = (0u64, 0u64);
    if let Some((read_end, write_end)) = pipe {
        drop(write_end); // QEMU holds its copy; EOF comes when QEMU exits.
        let mut stderr = std::io::stderr();
        for line in BufReader::new(std::fs::File::from(read_end)).lines() {
            let Ok(line) = line else { break };
            let mut fields = line.split_whitespace().map(|f| f.parse::<u64>().unwrap_or(0));
            last = (fields.next().unwrap_or(0), fields.next().unwrap_or(0));
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            let _ = write!(
                stderr,
                "\r\x1b[2Kcannonball: {} instructions, {} events ({}/s), {:.1} s",
                human(last.0),
                human(last.1),
                human((last.1 as f64 / secs) as u64),
                secs
            );
            let _ = stderr.flush();
        }
        let _ = writeln!(stderr);
    }
    let status = child.wait().context("waiting for QEMU")?;
    crate::forward_signals::child_exited();
    if !args.quiet {
        // The plugin's lines, after the guest's output instead of inside it.
        if let Some(text) = log.and_then(|l| std::fs::read_to_string(l).ok()) {
            eprint!("{text}");
        }
        summarize(&args, last, started.elapsed().as_secs_f64(), wall_start);
    }
    Ok(crate::forward_signals::exit_code(&status))
}

/// A script from a registry leaves `script.ref` in the out directory (reference, manifest and
/// component digests), so that the reports say which bytes made them (merged ones too); a
/// file run removes a stale one.
pub fn record_origin(out: &std::path::Path, script: Option<&crate::oci::Script>) -> Result<()> {
    let path = out.join(SCRIPT_REF);
    match script.and_then(|s| s.origin.as_ref()) {
        Some(origin) => {
            std::fs::write(&path, origin.record()).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            let _ = std::fs::remove_file(&path);
            Ok(())
        }
    }
}

fn summarize(args: &RunArgs, (insns, events): (u64, u64), secs: f64, since: SystemTime) {
    if insns > 0 {
        eprintln!("cannonball: {} instructions, {} events in {secs:.2} s", human(insns), human(events));
    }
    let mut reports: Vec<String> = std::fs::read_dir(&args.out)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t >= since))
        .filter(|e| e.file_name() != LOG && e.file_name() != SCRIPT_REF)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    reports.sort();
    if !reports.is_empty() {
        eprintln!("cannonball: reports in {}: {}", args.out.display(), reports.join(", "));
    }
}

/// A pipe whose write end QEMU inherits (the read end is close-on-exec).
fn progress_pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors on success.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        bail!("cannot create a pipe: {}", std::io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors we own; the write end loses close-on-exec.
    unsafe {
        libc::fcntl(fds[1], libc::F_SETFD, 0);
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}

fn human(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.2} G", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.1} M", n as f64 / 1e6),
        n if n >= 10_000 => format!("{:.1} k", n as f64 / 1e3),
        n => n.to_string(),
    }
}
