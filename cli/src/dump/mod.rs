//! `cannonball dump`: listen for forwarded events and print each as a JSON line (or count
//! them, or write them as Parquet tables), until every guest process that connected has
//! ended. With a program, it also runs that program under QEMU with the plugin pointed at
//! its socket.

mod json_lines;
mod parquet;
mod printer;

use std::cell::Cell;
use std::ffi::OsString;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use cannonball_client::{Connection, ConnectionId, Frame, Listener};

use crate::locate;
pub use printer::Printer;

#[derive(clap::Args)]
pub struct DumpArgs {
    /// The socket to listen on (default: a fresh one under /tmp when running a program).
    #[arg(long)]
    sock: Option<PathBuf>,
    /// Read streams recorded with the plugin's fwd=FILE instead of listening (each file one
    /// stream, as if each had connected).
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with_all = ["sock", "program"])]
    from: Vec<PathBuf>,
    /// Write the JSON lines here instead of stdout.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Print only totals per event kind and rates, one JSON object at the end.
    #[arg(long)]
    count: bool,
    /// Write the events as Parquet tables under DIR (new or empty): DIR/TABLE/pid=PID/
    /// TABLE-NNN.parquet. No JSON lines then; with --count, the totals as well.
    #[arg(long, value_name = "DIR")]
    parquet: Option<PathBuf>,
    /// With --parquet: rows per row group.
    #[arg(long, value_name = "ROWS", default_value_t = parquet::ROW_GROUP)]
    row_group: usize,
    /// With --parquet: rows per file; a table's next rows go to its next file.
    #[arg(long, value_name = "ROWS", default_value_t = parquet::FILE_ROWS)]
    file_rows: usize,
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
    let out: Box<dyn std::io::Write> = match &args.output {
        Some(path) => {
            Box::new(std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mode = match (args.count, args.parquet.is_some()) {
        (true, _) => printer::Mode::Count,
        (false, true) => printer::Mode::Check,
        (false, false) => printer::Mode::Lines,
    };
    let mut printer = Printer::new(out, mode);
    let mut tables = match &args.parquet {
        Some(dir) => {
            let layout = parquet::Layout { row_group: args.row_group, file_rows: args.file_rows };
            Some(parquet::ParquetSink::new(dir, layout)?)
        }
        None => None,
    };
    let mut handle = |conn, frame: std::io::Result<Frame>| {
        let frame = frame?;
        if let Some(tables) = &mut tables {
            tables.frame(conn, &frame).map_err(|e| std::io::Error::other(format!("{e:#}")))?;
        }
        printer.frame(conn, frame)
    };
    let started = Instant::now();
    let status = if args.from.is_empty() {
        serve(&args, &mut handle).await
    } else {
        replay(&args.from, &mut handle).await.map(|()| None)
    };
    // Totals and the missing-end check also when a stream broke off (QEMU killed with
    // SIGKILL, or crashed): what arrived before is reported (and written), then why it is
    // incomplete.
    let written = tables.as_mut().map(|t| t.finish());
    let finished = printer.finish(started.elapsed(), written.as_ref().and_then(|w| w.as_ref().ok()).copied());
    let status = status?;
    if let Some(written) = written {
        written.context("cannot complete the Parquet files")?;
    }
    finished?;
    Ok(status.map_or(0, |s| crate::forward_signals::exit_code(&s)))
}

type Handler<'a> = dyn FnMut(ConnectionId, std::io::Result<Frame>) -> std::io::Result<()> + 'a;

/// Listens (and runs the program, if one was given) until every stream ended: the guest's
/// exit status when dump ran it.
async fn serve(args: &DumpArgs, handle: &mut Handler<'_>) -> Result<Option<std::process::ExitStatus>> {
    let sock = match (&args.sock, args.program.is_empty()) {
        (Some(sock), _) => sock.clone(),
        (None, false) => std::env::temp_dir().join(format!("cannonball-dump-{}.sock", std::process::id())),
        (None, true) => bail!("give --sock PATH to listen on, --from FILE to read, or a program to run after --"),
    };
    let listener = Listener::bind(&sock).with_context(|| format!("cannot listen on {}", sock.display()))?;
    let frames_seen = Cell::new(0u64);
    // The plugin's own lines (a script's log, warnings) go to files of their own while the
    // guest runs, and to stderr after it, as `cannonball run` does with its out directory.
    let plugin_log = (!args.program.is_empty()).then(PluginLog::new).transpose()?;
    let mut child = if args.program.is_empty() {
        eprintln!(
            "cannonball: listening on {}; start QEMU with -plugin libcannonball.so,sock={}",
            sock.display(),
            sock.display()
        );
        None
    } else {
        let child = spawn_qemu(args, &sock, plugin_log.as_ref())?;
        if let Some(pid) = child.id() {
            crate::forward_signals::install(pid);
        }
        Some(child)
    };
    let serve = listener.serve(|conn, frame| {
        frames_seen.set(frames_seen.get() + 1);
        handle(conn, frame)
    });
    let status = serve_until_done(serve, child.as_mut(), &frames_seen, &sock)
        .await
        .context("a stream ended without its end frame (QEMU killed or crashed?)")?;
    crate::forward_signals::child_exited();
    if let Some(log) = plugin_log {
        log.replay();
    }
    Ok(status)
}

/// A directory for the plugin's `log=` file (a forked child's is named as its reports are),
/// removed after its lines were shown.
struct PluginLog {
    dir: PathBuf,
}

impl PluginLog {
    fn new() -> Result<PluginLog> {
        let dir = std::env::temp_dir().join(format!("cannonball-dump-{}.log.d", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(PluginLog { dir })
    }

    fn option(&self) -> String {
        format!("log={}", self.dir.join(crate::run::LOG).display())
    }

    /// Writes every log to stderr, the parent's first, then removes them.
    fn replay(self) {
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(&self.dir).into_iter().flatten().filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort_by_key(|p| (p.file_name() != Some(std::ffi::OsStr::new(crate::run::LOG)), p.clone()));
        for file in files {
            if let Ok(text) = std::fs::read_to_string(&file) {
                eprint!("{text}");
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Streams recorded with `fwd=FILE`, one connection each, in the order given.
async fn replay(files: &[PathBuf], handle: &mut Handler<'_>) -> Result<()> {
    for (conn, path) in files.iter().enumerate() {
        let file = tokio::fs::File::open(path).await.with_context(|| format!("cannot open {}", path.display()))?;
        let mut stream = Connection::new(file);
        while let Some(frame) = stream.next_frame().await.transpose() {
            handle(conn as ConnectionId, frame).with_context(|| format!("in {}", path.display()))?;
        }
    }
    Ok(())
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
                // QEMU may exit right after its last frame, before we read its connection:
                // what it sent is still queued on the socket, so serve on for a moment before
                // concluding that it never connected.
                if frames_seen.get() == 0 {
                    match tokio::time::timeout(std::time::Duration::from_secs(2), &mut serve).await {
                        Ok(served) => served?,
                        Err(_) if frames_seen.get() == 0 => {
                            bail!("QEMU exited ({status}) before it connected to {}", sock.display())
                        }
                        Err(_) => serve.await?,
                    }
                } else {
                    serve.await?;
                }
                Some(status)
            }
        },
    })
}

fn spawn_qemu(args: &DumpArgs, sock: &std::path::Path, log: Option<&PluginLog>) -> Result<tokio::process::Child> {
    let guest = locate::Guest::new(&args.program, &args.guest)?;
    let mut options = vec![format!("sock={}", sock.display())];
    if let Some(script) = &args.script {
        options.push(format!("script={}", script.display()));
    }
    if let Some(kinds) = &args.forward {
        options.push(format!("forward={kinds}"));
    }
    if let Some(log) = log.filter(|_| !args.plugin_opts.iter().any(|o| o.starts_with("log="))) {
        options.push(log.option());
    }
    options.extend(args.plugin_opts.iter().cloned());
    let mut cmd = tokio::process::Command::from(guest.command(&options)?);
    // Our output never mixes with the guest's: with -o (or Parquet alone) the guest's stdout
    // and stderr are plain QEMU's; without -o stdout carries the JSON lines or the count,
    // and the guest's stdout joins its stderr.
    let dump_uses_stdout = args.output.is_none() && (args.count || args.parquet.is_none());
    if dump_uses_stdout {
        cmd.stdout(std::process::Stdio::from(std::io::stderr().as_fd().try_clone_to_owned()?));
    }
    cmd.kill_on_drop(true).spawn().context("cannot start QEMU")
}
