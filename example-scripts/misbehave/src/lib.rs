//! misbehave: a script that fails on purpose, for the containment and sandbox tests (and to
//! see what the host does when a script goes wrong).
//!
//! - `at=init|blocks|events|thread|finish`: where to misbehave (default: nowhere)
//! - `how=trap|loop|hog|flood|log-flood|big-report`: trap (a panic, which is a Wasm trap), loop
//!   forever, allocate without end, append to a report without end, log without end, or
//!   write one report larger than any sane limit
//! - `probe=true`: at init, try what the sandbox must deny (read /etc/passwd, list the
//!   environment, connect to 127.0.0.1:`port` — the tests listen there, so only the sandbox
//!   can make it fail —, bind a UDP socket, list the root directory) and write what happened
//!   to `probe.txt`
//!
//! Otherwise it counts block executions and writes `misbehave.txt` at finish, so a test can
//! tell whether it ran to the end.

use std::fmt::Write;

use cannonball_sdk::{
    Args, ArgumentSpec, Block, EventBatch, EventKinds, RunInfo, RunSummary, Script, Subscription, ThreadEvent,
    append_report, export_script, log, write_report,
};

struct Misbehave {
    at: String,
    how: String,
    execs: u64,
}

impl Misbehave {
    fn maybe_misbehave(&self, here: &str) {
        if self.at != here {
            return;
        }
        match self.how.as_str() {
            "trap" => panic!("misbehaving on purpose in {here}"),
            // A load far outside the linear memory: a guard-page fault (SIGSEGV) with
            // signal-based traps, an explicit bounds check otherwise.
            "oob" => {
                let far = std::hint::black_box(0xffff_fff0usize) as *const u64;
                // SAFETY: none; it traps, which is the point.
                std::hint::black_box(unsafe { std::ptr::read_volatile(far) });
            }
            "loop" => {
                let mut x = 1u64;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(3));
                }
            }
            "hog" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1; 16 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "flood" => {
                let chunk = vec![b'x'; 1 << 20];
                while append_report("flood.txt", &chunk).is_ok() {}
                log::error("append-report refused further bytes");
            }
            "log-flood" => {
                for i in 0..1_000_000u64 {
                    log::info(format!("log line {i}"));
                }
            }
            "big-report" => {
                if let Err(e) = write_report("big.txt", vec![b'y'; 100 << 20]) {
                    log::error(format!("write-report refused: {e}"));
                }
            }
            other => panic!("unknown how={other}"),
        }
    }
}

fn probe(port: u16) -> String {
    let mut r = String::new();
    match std::fs::read_to_string("/etc/passwd") {
        Ok(text) => writeln!(r, "passwd: read {} bytes", text.len()),
        Err(e) => writeln!(r, "passwd: denied ({e})"),
    }
    .unwrap();
    match std::fs::read_dir("/") {
        Ok(entries) => writeln!(r, "rootdir: listed {} entries", entries.count()),
        Err(e) => writeln!(r, "rootdir: denied ({e})"),
    }
    .unwrap();
    let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
    writeln!(r, "env: {} variables{}", vars.len(), if vars.is_empty() { String::new() } else { format!(" {vars:?}") })
        .unwrap();
    writeln!(r, "args: {}", std::env::args().count()).unwrap();
    match std::net::TcpStream::connect(("127.0.0.1", port)) {
        Ok(_) => writeln!(r, "socket: connected"),
        Err(e) => writeln!(r, "socket: denied ({e})"),
    }
    .unwrap();
    match std::net::UdpSocket::bind("0.0.0.0:0") {
        Ok(_) => writeln!(r, "udp: bound"),
        Err(e) => writeln!(r, "udp: denied ({e})"),
    }
    .unwrap();
    r
}

impl Script for Misbehave {
    fn arguments() -> Vec<ArgumentSpec> {
        vec![
            ArgumentSpec::text("at", "where to misbehave: init, blocks, events, thread, finish").default("none"),
            ArgumentSpec::text("how", "trap, oob, loop, hog, flood, log-flood, big-report").default("trap"),
            ArgumentSpec::boolean("probe", "try what the sandbox denies; results in probe.txt").default("false"),
            ArgumentSpec::integer("port", "with probe: the local TCP port to connect to").default("22"),
        ]
    }

    fn init(_info: &RunInfo, mut args: Args) -> Result<Self, String> {
        let at = args.take("at").unwrap_or_default();
        let how = args.take("how").unwrap_or_default();
        let probe_sandbox = args.flag("probe");
        let port = args.take("port").unwrap_or_default().parse::<u16>().map_err(|e| format!("port: {e}"))?;
        args.finish()?;
        if probe_sandbox {
            write_report("probe.txt", probe(port))?;
        }
        let script = Misbehave { at, how, execs: 0 };
        script.maybe_misbehave("init");
        Ok(script)
    }

    fn subscription(&self) -> Subscription {
        Subscription { kinds: EventKinds::TRACE | EventKinds::THREADS, filter: None }
    }

    fn on_blocks(&mut self, _blocks: &[Block]) {
        self.maybe_misbehave("blocks");
    }

    fn on_events(&mut self, batch: &EventBatch) {
        self.execs += batch.execs.len() as u64;
        self.maybe_misbehave("events");
    }

    fn on_thread(&mut self, _vcpu: u32, _event: ThreadEvent) {
        self.maybe_misbehave("thread");
    }

    fn finish(&mut self, _summary: &RunSummary) -> Result<(), String> {
        self.maybe_misbehave("finish");
        write_report("misbehave.txt", format!("block-execs {}\n", self.execs))
    }
}

export_script!(Misbehave);
