//! `cannonball dump`: listen for forwarded events and print each as a JSON line (or count
//! them), until every guest process that connected has ended. With a program, it also runs
//! that program under QEMU with the plugin pointed at its socket.

mod printer;

use std::cell::Cell;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use cannonball_client::Listener;

use crate::locate;
pub use printer::Printer;

#[derive(clap::Args)]
pub struct DumpArgs {
    /// The socket to listen on (default: a fresh one under /tmp when running a program).
    #[arg(long)]
    sock: Option<PathBuf>,
    /// Write the JSON lines here instead of stdout.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Print only totals per event kind and rates, one JSON object at the end.
    #[arg(long)]
    count: bool,
    /// Raw events to forward when running a program: trace, memory, syscalls, syscall-data, threads,
    /// blocks, joined with + (default: trace).
    #[arg(long)]
    forward: Option<String>,
    /// A script to run as well; its emitted records are dumped too.
    #[arg(long)]
    script: Option<PathBuf>,
    /// Plugin options passed through (KEY=VALUE: script arguments, filter=, out=...).
    #[arg(short = 'p', long = "plugin-opt", value_name = "KEY=VALUE")]
    plugin_opts: Vec<String>,
    #[command(flatten)]
    guest: crate::locate::GuestOptions,
    /// The program to run and its arguments (omit to only listen).
    #[arg(last = true)]
    program: Vec<OsString>,
}

pub fn dump(args: DumpArgs) -> Result<i32> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(dump_async(args))
}

async fn dump_async(args: DumpArgs) -> Result<i32> {
    let sock = match (&args.sock, args.program.is_empty()) {
        (Some(sock), _) => sock.clone(),
        (None, false) => std::env::temp_dir().join(format!("cannonball-dump-{}.sock", std::process::id())),
        (None, true) => bail!("give --sock PATH to listen on, or a program to run after --"),
    };
    let listener = Listener::bind(&sock).with_context(|| format!("cannot listen on {}", sock.display()))?;
    let out: Box<dyn std::io::Write> = match &args.output {
        Some(path) => {
            Box::new(std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut printer = Printer::new(out, args.count);
    let frames_seen = Cell::new(0u64);
    let started = Instant::now();

    let mut child = if args.program.is_empty() {
        eprintln!(
            "cannonball: listening on {}; start QEMU with -plugin libcannonball.so,sock={}",
            sock.display(),
            sock.display()
        );
        None
    } else {
        let child = spawn_qemu(&args, &sock)?;
        if let Some(pid) = child.id() {
            crate::forward_signals::install(pid);
        }
        Some(child)
    };

    let serve = listener.serve(|conn, frame| {
        frames_seen.set(frames_seen.get() + 1);
        printer.frame(conn, frame?)
    });
    let served = serve_until_done(serve, child.as_mut(), &frames_seen, &sock).await;
    // Totals and the missing-end check also when a stream broke off (QEMU killed with
    // SIGKILL, or crashed): what arrived before is reported, then why it is incomplete.
    let finished = printer.finish(started.elapsed());
    let status = served.context("a stream ended without its end frame (QEMU killed or crashed?)")?;
    finished?;
    crate::forward_signals::child_exited();
    Ok(status.map_or(0, |s| {
        use std::os::unix::process::ExitStatusExt;
        s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
    }))
}

/// Serves until every stream ended; with a child QEMU, also until it exited (and fails if
/// it exited before connecting, instead of listening forever).
async fn serve_until_done(
    serve: impl std::future::Future<Output = std::io::Result<()>>,
    child: Option<&mut tokio::process::Child>,
    frames_seen: &Cell<u64>,
    sock: &std::path::Path,
) -> Result<Option<std::process::ExitStatus>> {
    tokio::pin!(serve);
    Ok(match child {
        None => {
            serve.await?;
            None
        }
        Some(child) => tokio::select! {
            served = &mut serve => {
                served?;
                Some(child.wait().await?)
            }
            status = child.wait() => {
                let status = status?;
                if frames_seen.get() == 0 {
                    bail!("QEMU exited ({status}) before it connected to {}", sock.display());
                }
                serve.await?;
                Some(status)
            }
        },
    })
}

fn spawn_qemu(args: &DumpArgs, sock: &std::path::Path) -> Result<tokio::process::Child> {
    let guest = locate::Guest::new(&args.program, &args.guest)?;
    let mut options = vec![format!("sock={}", sock.display())];
    if let Some(script) = &args.script {
        options.push(format!("script={}", script.display()));
    }
    if let Some(kinds) = &args.forward {
        options.push(format!("forward={kinds}"));
    }
    options.extend(args.plugin_opts.iter().cloned());
    let mut cmd = tokio::process::Command::from(guest.command(&options)?);
    if args.output.is_none() && !args.count {
        // stdout carries the JSON lines; the guest's own output goes to stderr.
        cmd.stdout(std::process::Stdio::from(std::io::stderr().as_fd().try_clone_to_owned()?));
    }
    cmd.kill_on_drop(true).spawn().context("cannot start QEMU")
}

use std::os::fd::AsFd;
