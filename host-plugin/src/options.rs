//! The plugin's command line: `-plugin libcannonball.so,script=X.wasm,key=value,...`.
//!
//! QEMU hands us the comma-separated `key=value` pairs. Keys that name a host option below are
//! parsed by clap (so types and defaults live in one place); every other key is a script
//! argument and goes to the script's `init` unchanged, where the script validates it.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Arg, ArgAction, CommandFactory, FromArgMatches, Parser, builder::BoolishValueParser};

use std::time::Duration;

use crate::events::{AddressFilter, AddressRange, EventKinds};
use crate::script::{CacheSetting, Limits, OnError};
use crate::sink::forward::Endpoint;

/// Options owned by the host.
#[derive(Parser, Debug, Clone)]
#[command(name = "libcannonball.so", no_binary_name = true, disable_help_flag = true)]
pub struct HostOptions {
    /// The analysis script: a Wasm component built with a Cannonball SDK.
    #[arg(long, value_name = "FILE.wasm")]
    pub script: Option<PathBuf>,

    /// Directory for report files; created if missing.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,

    /// Forward to a consumer listening on this Unix socket (e.g. `cannonball dump`); the plugin
    /// waits up to sock-timeout for it to appear.
    #[arg(long, value_name = "PATH")]
    pub sock: Option<PathBuf>,

    /// Seconds to wait for a listener on sock=PATH.
    #[arg(long = "sock-timeout", value_name = "SECONDS", default_value = "10")]
    pub sock_timeout: f64,

    /// Forward to this file instead of a socket; - is QEMU's stdout.
    #[arg(long, value_name = "FILE")]
    pub fwd: Option<String>,

    /// Raw events to pass through to the sink, joined with +: trace, memory, syscalls, syscall-data, threads,
    /// blocks. Without a script the default is trace; with one, only what the script emits.
    #[arg(long, value_name = "KINDS")]
    pub forward: Option<String>,

    /// Code the built-in forwarder instruments when there is no script: main, module:NAME, or
    /// address ranges START-END joined with +. (Not `filter=`: scripts use that name.)
    #[arg(long = "forward-filter", value_name = "FILTER")]
    pub forward_filter: Option<String>,

    /// Memory a script may use, in MiB.
    #[arg(long = "script-memory", value_name = "MIB", default_value = "1024")]
    pub script_memory: u64,

    /// Longest a single call into the script may run, in seconds; 0 for no limit.
    #[arg(long = "script-time", value_name = "SECONDS", default_value = "60")]
    pub script_time: f64,

    /// Most a script may write into report files in all, in MiB.
    #[arg(long = "report-limit", value_name = "MIB", default_value = "4096")]
    pub report_limit: u64,

    /// When a script traps or exceeds a limit: detach (drop the script, the guest runs on) or
    /// abort (QEMU exits with status 1).
    #[arg(long = "on-error", value_name = "POLICY", default_value = "detach")]
    pub on_error: String,

    /// Where compiled scripts are kept between runs (a warm start loads instead of compiling):
    /// a directory only this user can write, or off. Default: $XDG_CACHE_HOME/cannonball, else
    /// ~/.cache/cannonball. Trimmed to 256 MiB; deleting it is always safe.
    #[arg(long, value_name = "DIR|off")]
    pub cache: Option<String>,

    /// Write coverage.blocks to the out directory at exit: every code block the guest reached
    /// (offset, size, module), whatever the script; used by `cannonball run --corpus`.
    #[arg(long, value_name = "BOOL", default_value = "false", value_parser = BoolishValueParser::new(), action = ArgAction::Set)]
    pub coverage: bool,

    /// Our own lines (errors, warnings, the script's log) go to this file, appended, instead of
    /// stderr, so that the guest's stderr is what plain QEMU gives; a forked child's go to
    /// FILE named as its reports are (cannonball.log → cannonball.PID.log). A failed start is
    /// still said on stderr too.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// A directory of separate debug files, searched before /usr/lib/debug as gdb searches its
    /// debug-file-directory: DIR/.build-id/xx/rest.debug, DIR/NAME and DIR/PATH/NAME for a
    /// .gnu_debuglink NAME. Symbols and source lines of stripped modules come from there.
    #[arg(long = "debug-dir", value_name = "DIR")]
    pub debug_dir: Option<PathBuf>,

    /// System emulators: where code comes from, as there is no loader to ask. An ELF file
    /// (firmware, vmlinux, a program inside the guest) at its link address, or with its lowest
    /// loadable segment at ADDRESS; or a System.map (or /proc/kallsyms), with its lowest code
    /// symbol at ADDRESS. Repeatable; the first is the main binary.
    #[arg(long, value_name = "FILE[@ADDRESS]", action = ArgAction::Append)]
    pub symbols: Vec<String>,

    /// Write live progress lines to this descriptor (used by `cannonball run`).
    #[arg(long = "progress-fd", value_name = "FD")]
    pub progress_fd: Option<i32>,

    /// Print this list of options and exit.
    #[arg(long, value_name = "BOOL", default_value = "false", value_parser = BoolishValueParser::new(), action = ArgAction::Set)]
    pub help: bool,
}

// Typed configuration for the stages: each stage gets its own values, none reads options.

/// The script's limits and error policy (`script-memory=`, `script-time=`, `report-limit=`,
/// `on-error=`).
pub fn limits(opts: &HostOptions) -> Result<Limits> {
    if opts.script_memory == 0 {
        bail!("script-memory=0: a script needs some memory (MiB)");
    }
    // try_from: a huge finite value must be an argument error, not a panic.
    let call_time = Duration::try_from_secs_f64(opts.script_time)
        .map_err(|_| anyhow::anyhow!("script-time={} is not a number of seconds", opts.script_time))?;
    let on_error = match opts.on_error.as_str() {
        "detach" => OnError::Detach,
        "abort" => OnError::Abort,
        other => bail!("on-error={other}: expected detach or abort"),
    };
    Ok(Limits {
        memory_bytes: (opts.script_memory as usize).saturating_mul(1 << 20),
        call_time: (!call_time.is_zero()).then_some(call_time),
        report_bytes: opts.report_limit.saturating_mul(1 << 20),
        on_error,
    })
}

/// Where compiled scripts are kept (`cache=`).
pub fn cache(opts: &HostOptions) -> Result<CacheSetting> {
    match opts.cache.as_deref() {
        Some("") => bail!("cache= needs a directory, or off"),
        value => Ok(CacheSetting::from_option(value)),
    }
}

/// The forwarding sink the options name, if any (`sock=`, `sock-timeout=`, `fwd=`).
pub fn endpoint(opts: &HostOptions) -> Result<Option<Endpoint>> {
    match (&opts.sock, &opts.fwd) {
        (Some(_), Some(_)) => bail!("give one sink: sock=PATH or fwd=FILE, not both"),
        (Some(path), None) => {
            let timeout = Duration::try_from_secs_f64(opts.sock_timeout)
                .map_err(|_| anyhow::anyhow!("sock-timeout={} is not a number of seconds", opts.sock_timeout))?;
            Ok(Some(Endpoint::Socket { path: path.clone(), timeout }))
        }
        (None, Some(f)) if f == "-" => Ok(Some(Endpoint::Stdout)),
        (None, Some(f)) if f.is_empty() => bail!("fwd= needs a file name, or - for stdout"),
        (None, Some(f)) => Ok(Some(Endpoint::File(PathBuf::from(f)))),
        (None, None) => Ok(None),
    }
}

/// The `forward=` kinds: names joined with `+` (QEMU splits plugin arguments at commas).
pub fn parse_forward_kinds(text: &str) -> Result<EventKinds> {
    let mut kinds = EventKinds::empty();
    for name in text.split('+') {
        kinds |= match name {
            "trace" => EventKinds::TRACE | EventKinds::BLOCKS,
            "memory" => EventKinds::MEMORY,
            "syscalls" => EventKinds::SYSCALLS,
            "syscall-data" => EventKinds::SYSCALLS | EventKinds::SYSCALL_DATA,
            "threads" => EventKinds::THREADS,
            "blocks" => EventKinds::BLOCKS,
            "discontinuities" => EventKinds::DISCONTINUITIES,
            other => {
                bail!(
                    "forward={text}: unknown kind '{other}' (trace, memory, syscalls, syscall-data, threads, blocks, discontinuities; join with +)"
                )
            }
        };
    }
    Ok(kinds)
}

/// The `filter=` value: `main`, `module:NAME`, or `START-END` ranges joined with `+`.
pub fn parse_filter(text: &str) -> Result<AddressFilter> {
    if text == "main" {
        return Ok(AddressFilter::MainBinary);
    }
    if let Some(name) = text.strip_prefix("module:") {
        if name.is_empty() {
            bail!("forward-filter=module: needs a module name");
        }
        return Ok(AddressFilter::Module(name.to_owned()));
    }
    let mut ranges = Vec::new();
    for range in text.split('+') {
        let parsed = range.split_once('-').and_then(|(s, e)| Some((parse_address(s)?, parse_address(e)?)));
        match parsed {
            Some((start, end)) if start < end => ranges.push(AddressRange { start, end }),
            _ => bail!(
                "forward-filter={text}: expected main, module:NAME, or START-END ranges (hex with 0x) joined with +"
            ),
        }
    }
    Ok(AddressFilter::Ranges(ranges))
}

fn parse_address(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

pub use crate::script::ScriptArg;

/// The parsed command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub host: HostOptions,
    pub script_args: Vec<ScriptArg>,
}

impl Options {
    /// The script path; required unless `help=true` or events are forwarded.
    pub fn script(&self) -> Result<&PathBuf> {
        self.host.script.as_ref().context(
            "no script given: add script=FILE.wasm, or forward events with sock=PATH or fwd=FILE (help=true lists all options)",
        )
    }
}

fn host_keys() -> Vec<String> {
    HostOptions::command().get_arguments().filter_map(Arg::get_long).map(str::to_owned).collect()
}

/// Parses QEMU's plugin arguments.
pub fn parse(raw: &[String]) -> Result<Options> {
    let keys = host_keys();
    let mut clap_args = Vec::new();
    let mut script_args = Vec::new();
    for item in raw {
        // A bare `help` is accepted as `help=true`.
        let (key, value) = match item.split_once('=') {
            Some(kv) => kv,
            None if item == "help" => ("help", "true"),
            None => bail!("plugin argument '{item}' is not of the form key=value"),
        };
        if key.is_empty() {
            bail!("plugin argument '{item}' has an empty key");
        }
        if keys.iter().any(|k| k == key) {
            if key != "symbols" && clap_args.iter().any(|a: &String| a.starts_with(&format!("--{key}="))) {
                bail!("plugin argument '{key}' given more than once");
            }
            clap_args.push(format!("--{key}={value}"));
        } else {
            if script_args.iter().any(|a: &ScriptArg| a.key == key) {
                bail!("script argument '{key}' given more than once");
            }
            script_args.push(ScriptArg { key: key.to_owned(), value: value.to_owned() });
        }
    }
    let matches =
        HostOptions::command().try_get_matches_from(&clap_args).map_err(|e| anyhow::anyhow!(clap_error_line(&e)))?;
    let host = HostOptions::from_arg_matches(&matches).map_err(|e| anyhow::anyhow!(clap_error_line(&e)))?;
    Ok(Options { host, script_args })
}

/// clap's message, reduced to one line and spoken in `key=value` terms.
fn clap_error_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let first = text.lines().next().unwrap_or("invalid plugin arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // "invalid value 'x' for '--out <DIR>'" -> "invalid value 'x' for 'out=DIR'"
    let mut out = first.to_owned();
    for arg in HostOptions::command().get_arguments() {
        if let (Some(long), Some(names)) = (arg.get_long(), arg.get_value_names()) {
            let name = names.first().map(|n| n.as_str()).unwrap_or("VALUE");
            out = out.replace(&format!("--{long} <{name}>"), &format!("{long}={name}"));
        }
    }
    out
}

/// The text `help=true` prints: every host option with its default.
pub fn help_text() -> String {
    let mut text = String::from(
        "usage: qemu-ARCH -plugin libcannonball.so,script=FILE.wasm[,out=DIR][,KEY=VALUE...] PROGRAM [ARGS...]\n\n\
         Host options:\n",
    );
    let cmd = HostOptions::command();
    let rows: Vec<(String, String)> = cmd
        .get_arguments()
        .filter_map(|arg| {
            let long = arg.get_long()?;
            let value = arg.get_value_names().and_then(|v| v.first()).map(|v| v.to_string()).unwrap_or_default();
            let mut help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            if let Some(default) = arg.get_default_values().first() {
                help.push_str(&format!(" [default: {}]", default.to_string_lossy()));
            }
            Some((format!("{long}={value}"), help))
        })
        .collect();
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, help) in rows {
        text.push_str(&format!("  {key:<width$}  {help}\n"));
    }
    text.push_str("\nEvery other KEY=VALUE is a script argument, checked against what the script declares;\nhelp=true together with script=FILE.wasm lists them.\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn splits_host_options_from_script_arguments() {
        let opts = parse(&args(&["script=a.wasm", "out=/tmp/x", "top=5"])).unwrap();
        assert_eq!(opts.host.script.as_deref(), Some(std::path::Path::new("a.wasm")));
        assert_eq!(opts.host.out, PathBuf::from("/tmp/x"));
        assert_eq!(opts.script_args, vec![ScriptArg { key: "top".into(), value: "5".into() }]);
        assert!(!opts.host.help);
    }

    #[test]
    fn defaults_out_to_current_directory() {
        let opts = parse(&args(&["script=a.wasm"])).unwrap();
        assert_eq!(opts.host.out, PathBuf::from("."));
    }

    #[test]
    fn help_accepts_qemu_style_booleans() {
        assert!(parse(&args(&["help=true"])).unwrap().host.help);
        assert!(parse(&args(&["help=on"])).unwrap().host.help);
        assert!(parse(&args(&["help"])).unwrap().host.help);
        assert!(!parse(&args(&["help=off"])).unwrap().host.help);
    }

    #[test]
    fn bad_input_is_one_line() {
        for bad in [&["help=maybe"][..], &["novalue"], &["=x"], &["out=a", "out=b"], &["k=1", "k=2"]] {
            let err = parse(&args(bad)).unwrap_err().to_string();
            assert!(!err.contains('\n'), "{bad:?}: {err}");
            assert!(!err.is_empty());
        }
        for bad in [
            "forward=trace+bogus",
            "forward=",
            "forward-filter=0x10-0x5",
            "forward-filter=module:",
            "forward-filter=zz",
        ] {
            let opts = parse(&args(&[bad])).unwrap();
            let err = match (&opts.host.forward, &opts.host.forward_filter) {
                (Some(k), _) => parse_forward_kinds(k).unwrap_err(),
                (_, Some(f)) => parse_filter(f).unwrap_err(),
                _ => unreachable!(),
            };
            assert!(!err.to_string().contains('\n'), "{bad}: {err}");
        }
        let err = parse(&args(&["help=maybe"])).unwrap_err().to_string();
        assert!(err.contains("help=BOOL"), "{err}");
    }

    #[test]
    fn forward_kinds_and_filters_parse() {
        assert_eq!(parse_forward_kinds("trace").unwrap(), EventKinds::TRACE | EventKinds::BLOCKS);
        assert_eq!(parse_forward_kinds("memory+syscalls").unwrap(), EventKinds::MEMORY | EventKinds::SYSCALLS);
        assert!(matches!(parse_filter("main").unwrap(), AddressFilter::MainBinary));
        assert!(matches!(parse_filter("module:libc.so.6").unwrap(), AddressFilter::Module(m) if m == "libc.so.6"));
        match parse_filter("0x1000-0x2000+4096-8192").unwrap() {
            AddressFilter::Ranges(r) => {
                assert_eq!((r[0].start, r[0].end, r[1].start, r[1].end), (0x1000, 0x2000, 4096, 8192))
            }
            _ => panic!("ranges expected"),
        }
    }

    #[test]
    fn missing_script_is_reported() {
        let opts = parse(&args(&["out=x"])).unwrap();
        assert!(opts.script().unwrap_err().to_string().contains("script=FILE.wasm"));
    }

    #[test]
    fn help_lists_every_host_option() {
        let text = help_text();
        for key in host_keys() {
            assert!(text.contains(&format!("  {key}=")), "{key} missing from:\n{text}");
        }
    }
}
