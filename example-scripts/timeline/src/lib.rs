//! timeline: the guest's system calls, threads, forks and execs on one track per guest thread,
//! written as `timeline.json` in the Chrome trace event format (the `{"traceEvents": [...]}`
//! object form) that ui.perfetto.dev and chrome://tracing open.
//!
//! The clock is the guest's own: a thread's timestamp is the number of instructions it has
//! executed (from the exact trace), so one unit (shown as 1 µs by the viewers) is one guest
//! instruction. Each track is a guest thread, named by its Linux tid (the host's `thread-id`
//! at the thread's start: exact also when QEMU reuses an exited thread's vCPU index). A thread
//! begins where the clone that returned its tid returned in its creator, on the creator's clock
//! (an approximation across threads: vCPUs run concurrently).
//!
//! Arguments: `data=false` leaves out the decoded strings and buffers of system calls (no
//! `syscall-data` subscription); `max-events=N` stops recording after N events (default
//! 500000, about half the default script memory; the file says so).
//!
//! A forked child runs its own instance and writes `timeline.<pid>.json`.

use std::collections::HashMap;

use cannonball_sdk::{
    Args, ArgumentSpec, Block, EventBatch, EventKinds, RunInfo, RunSummary, Script, Subscription, ThreadEvent,
    append_report, errno_name, export_script, syscall_data, syscall_name, thread_id, write_report,
};
use serde_json::{Map, Value, json};

/// The thread currently on a vCPU.
struct Thread {
    /// Its place in the order threads started: 0 for the main thread.
    ordinal: usize,
    /// Instructions this thread executed so far: its own clock.
    insns: u64,
}

/// An event on a thread's own clock; its pid, tid and common-axis timestamp are filled in at
/// `finish`, when every thread's real tid and start are known.
struct Pending {
    ordinal: usize,
    /// On the thread's own clock; none for metadata.
    ts: Option<u64>,
    /// The event without pid, tid and ts, as JSON text (a quarter of a `Value`'s memory).
    event: String,
}

/// Where a thread-starting clone returned in its creator: the creator and its clock there.
struct ThreadClone {
    creator: usize,
    ts: u64,
}

struct Timeline {
    pid: u32,
    arch: String,
    forked: bool,
    data: bool,
    max_events: usize,
    dropped: u64,
    /// Instructions per block id.
    block_insns: HashMap<u32, u64>,
    /// The thread currently on each vCPU (QEMU reuses a finished thread's index).
    threads: HashMap<u32, Thread>,
    /// The vCPU and the Linux tid (the host's `thread-id` at its start) of each thread, by ordinal.
    started: Vec<(u32, i64)>,
    /// Thread-starting clones by their return value: the new thread's tid.
    clones: HashMap<i64, ThreadClone>,
    names: HashMap<i64, String>,
    events: Vec<Pending>,
}

/// Linux signal names by number (mips numbers several differently).
fn signal_name(arch: &str, sig: u64) -> String {
    const COMMON: [&str; 32] = [
        "",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    const MIPS: [&str; 32] = [
        "",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGEMT",
        "SIGFPE",
        "SIGKILL",
        "SIGBUS",
        "SIGSEGV",
        "SIGSYS",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGUSR1",
        "SIGUSR2",
        "SIGCHLD",
        "SIGPWR",
        "SIGWINCH",
        "SIGURG",
        "SIGIO",
        "SIGSTOP",
        "SIGTSTP",
        "SIGCONT",
        "SIGTTIN",
        "SIGTTOU",
        "SIGVTALRM",
        "SIGPROF",
        "SIGXCPU",
        "SIGXFSZ",
    ];
    let table = if arch.starts_with("mips") { &MIPS } else { &COMMON };
    match table.get(sig as usize) {
        Some(name) if !name.is_empty() => (*name).to_owned(),
        _ if sig == 0 => "0 (no signal: a check)".to_owned(),
        _ => format!("SIGRT{sig}"),
    }
}

/// Which argument of a call names a signal.
fn signal_arg(name: &str) -> Option<usize> {
    match name {
        "rt_sigaction" | "sigaction" | "signal" => Some(0),
        "kill" | "tkill" | "rt_sigqueueinfo" => Some(1),
        "tgkill" | "rt_tgsigqueueinfo" => Some(2),
        _ => None,
    }
}

impl Timeline {
    fn name(&mut self, number: i64) -> String {
        self.names
            .entry(number)
            .or_insert_with(|| syscall_name(number).unwrap_or_else(|| format!("syscall_{number}")))
            .clone()
    }

    fn push(&mut self, ordinal: usize, ts: Option<u64>, event: Value) {
        if self.events.len() < self.max_events {
            self.events.push(Pending { ordinal, ts, event: event.to_string() });
        } else {
            self.dropped += 1;
        }
    }

    /// The thread on `vcpu`, started here if the host did not announce it.
    fn thread(&mut self, vcpu: u32) -> &mut Thread {
        if !self.threads.contains_key(&vcpu) {
            self.start_thread(vcpu);
        }
        self.threads.get_mut(&vcpu).expect("just started")
    }

    fn start_thread(&mut self, vcpu: u32) {
        let ordinal = self.started.len();
        // The host knows the thread's tid from its start (or, for the first thread and a
        // forked child's, from its first event) until its exit. Without it (an older host):
        // a tid no kernel gives.
        let tid = thread_id(vcpu).unwrap_or(0x4000_0000 + ordinal as i64);
        self.started.push((vcpu, tid));
        self.push(ordinal, None, json!({"ph": "M", "name": "thread_sort_index", "args": {"sort_index": ordinal}}));
        self.push(
            ordinal,
            Some(0),
            json!({"ph": "i", "s": "t", "name": "thread start", "cat": "thread", "args": {"vcpu": vcpu}}),
        );
        self.threads.insert(vcpu, Thread { ordinal, insns: 0 });
    }

    /// Each thread's (tid, start on the common axis), by ordinal. A thread starts where the
    /// clone that returned its tid returned in its creator; the first thread (and one no clone
    /// accounts for) at 0.
    fn placement(&self) -> Vec<(i64, u64)> {
        let mut start: Vec<Option<u64>> = vec![None; self.started.len()];
        for ordinal in 0..self.started.len() {
            self.place(ordinal, &mut start, 0);
        }
        self.started.iter().zip(start).map(|(&(_, tid), ts)| (tid, ts.unwrap_or(0))).collect()
    }

    fn place(&self, ordinal: usize, start: &mut [Option<u64>], depth: usize) -> u64 {
        if let Some(ts) = start[ordinal] {
            return ts;
        }
        let tid = self.started[ordinal].1;
        let ts = match self.clones.get(&tid) {
            // (A creator chain longer than the thread count would be a cycle: none is real.)
            Some(c) if c.creator != ordinal && depth < self.started.len() => {
                self.place(c.creator, start, depth + 1) + c.ts
            }
            _ => 0,
        };
        start[ordinal] = Some(ts);
        ts
    }

    /// The decoded data of each call of `batch`: argument strings and execve's argv.
    fn call_data(&self, batch: &EventBatch) -> HashMap<usize, Map<String, Value>> {
        let mut out: HashMap<usize, Map<String, Value>> = HashMap::new();
        if !self.data {
            return out;
        }
        for blob in syscall_data(batch) {
            let entry = out.entry(blob.call).or_default();
            let text = if blob.unreadable() {
                Value::from("<unreadable>")
            } else {
                let mut s = String::from_utf8_lossy(blob.bytes).into_owned();
                if blob.truncated() {
                    s.push('…');
                }
                Value::from(s)
            };
            if blob.is_element() {
                let argv = entry.entry("argv").or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = argv {
                    list.push(text);
                }
            } else {
                entry.insert(format!("arg{}", blob.arg), text);
            }
        }
        out
    }
}

impl Script for Timeline {
    fn arguments() -> Vec<ArgumentSpec> {
        vec![
            ArgumentSpec::boolean("data", "decode the strings and buffers system calls pass (paths, argv, data)")
                .default("true"),
            ArgumentSpec::integer(
                "max-events",
                "stop recording after this many events (the file says how many were left out)",
            )
            .default("500000"),
        ]
    }

    fn init(info: &RunInfo, mut args: Args) -> Result<Self, String> {
        let data = args.flag("data");
        let max_events = args.parse_or("max-events", 500_000usize)?;
        if max_events == 0 {
            return Err("max-events=0: the timeline would be empty; give at least 1".into());
        }
        args.finish()?;
        Ok(Timeline {
            pid: info.pid,
            arch: info.arch.clone(),
            forked: info.forked,
            data,
            max_events,
            dropped: 0,
            block_insns: HashMap::new(),
            threads: HashMap::new(),
            started: Vec::new(),
            clones: HashMap::new(),
            names: HashMap::new(),
            events: Vec::new(),
        })
    }

    fn subscription(&self) -> Subscription {
        let mut kinds = EventKinds::TRACE | EventKinds::SYSCALLS | EventKinds::THREADS;
        if self.data {
            kinds |= EventKinds::SYSCALL_DATA;
        }
        Subscription { kinds, filter: None }
    }

    fn on_blocks(&mut self, blocks: &[Block]) {
        for b in blocks {
            self.block_insns.insert(b.id, b.insn_sizes.len() as u64);
        }
    }

    fn on_thread(&mut self, vcpu: u32, event: ThreadEvent) {
        match event {
            ThreadEvent::Start => {
                if !self.threads.contains_key(&vcpu) {
                    self.start_thread(vcpu);
                }
            }
            ThreadEvent::Exit => {
                if let Some(t) = self.threads.remove(&vcpu) {
                    self.push(
                        t.ordinal,
                        Some(t.insns),
                        json!({
                            "ph": "i", "s": "t", "name": "thread exit", "cat": "thread",
                            "args": {"vcpu": vcpu, "instructions": t.insns},
                        }),
                    );
                }
            }
        }
    }

    fn on_events(&mut self, batch: &EventBatch) {
        let data = self.call_data(batch);
        let mut next_exec = 0usize;
        for call in 0..batch.sys_number.len() {
            // Advance this thread's clock through the block the call ended.
            let upto = batch.sys_exec.get(call).map_or(0, |&e| e.saturating_sub(batch.first_exec) as usize + 1);
            let mut insns = 0;
            while next_exec < upto.min(batch.execs.len()) {
                insns += self.block_insns.get(&batch.execs[next_exec]).copied().unwrap_or(0);
                next_exec += 1;
            }
            let thread = self.thread(batch.vcpu);
            thread.insns += insns;
            let (ordinal, now) = (thread.ordinal, thread.insns);

            let number = batch.sys_number[call];
            let name = self.name(number);
            let ret = batch.sys_ret[call];
            let returned = batch.sys_returned[call];
            let raw: Vec<u64> = batch.sys_args.get(call * 6..call * 6 + 6).map(<[u64]>::to_vec).unwrap_or_default();
            let mut args = Map::new();
            args.insert("number".into(), json!(number));
            args.insert("args".into(), json!(raw.iter().map(|a| format!("{a:#x}")).collect::<Vec<_>>()));
            if let Some(decoded) = data.get(&call) {
                args.extend(decoded.clone());
            }
            if let Some(sig) = signal_arg(&name).and_then(|i| raw.get(i)) {
                args.insert("signal".into(), json!(signal_name(&self.arch, *sig)));
            }
            let sigreturn = name.ends_with("sigreturn");
            let mut cat = if signal_arg(&name).is_some() || sigreturn { "signal" } else { "syscall" };
            if !returned {
                // exit, exit_group, a successful execve: the thread (or process image) ends.
                args.insert("returned".into(), json!(false));
                if name.starts_with("execve") {
                    cat = "process";
                }
                let scope = if cat == "process" { "p" } else { "t" };
                self.push(ordinal, Some(now), json!({"ph": "i", "s": scope, "name": name, "cat": cat, "args": args}));
                continue;
            }
            args.insert("return".into(), json!(ret));
            if sigreturn {
                // Not a failure: the handler returns to the interrupted code, whose register
                // (here QEMU's internal -513) the call "returns".
                args.insert("meaning".into(), json!("a signal handler returned"));
            } else if (-4095..0).contains(&ret) {
                // (Below -4095 a "negative" return is a value: a 32-bit guest's high address.)
                let errno = errno_name(-ret as i32).unwrap_or_else(|| format!("{} (kernel-internal)", -ret));
                args.insert("errno".into(), json!(errno));
            }
            let forks = matches!(name.as_str(), "fork" | "vfork" | "clone" | "clone3");
            if forks && ret > 0 {
                // clone with CLONE_THREAD (0x10000) starts a thread, not a process.
                let thread = name == "clone" && raw.first().is_some_and(|f| f & 0x10000 != 0);
                let (key, what) = if thread { ("child_tid", "new thread") } else { ("child_pid", "fork") };
                args.insert(key.into(), json!(ret));
                cat = if thread { "thread" } else { "process" };
                if thread {
                    self.clones.insert(ret, ThreadClone { creator: ordinal, ts: now });
                }
                let instant = json!({
                    "ph": "i", "s": if thread { "t" } else { "p" }, "name": format!("{what}: {ret}"),
                    "cat": cat, "args": {key: ret, "call": name},
                });
                self.push(
                    ordinal,
                    Some(now.saturating_sub(1)),
                    json!({"ph": "X", "name": name, "cat": cat, "dur": 1, "args": args}),
                );
                self.push(ordinal, Some(now), instant);
                continue;
            }
            // The system call instruction is the block's last: one unit ending at `now`.
            self.push(
                ordinal,
                Some(now.saturating_sub(1)),
                json!({"ph": "X", "name": name, "cat": cat, "dur": 1, "args": args}),
            );
        }
        // The rest of the batch's executions.
        let rest = &batch.execs[next_exec.min(batch.execs.len())..];
        let insns: u64 = rest.iter().map(|id| self.block_insns.get(id).copied().unwrap_or(0)).sum();
        self.thread(batch.vcpu).insns += insns;
    }

    fn finish(&mut self, summary: &RunSummary) -> Result<(), String> {
        let placement = self.placement();
        let pid = self.pid;
        let total: u64 = summary.instructions.iter().map(|v| v.instructions).sum();
        let other = json!({
            "clock": "guest instructions: a thread's timestamps count the instructions it executed, from where the clone that started it returned; 1 unit of ts (1 us to a viewer, 1000 ns with displayTimeUnit ns) = 1 instruction",
            "arch": self.arch,
            "pid": pid,
            "forked": self.forked,
            "instructions": total,
            "events_left_out": self.dropped,
            "signals": "signal delivery is not captured; rt_sigaction, kill/tkill/tgkill and rt_sigreturn show installs, sends and handler returns",
        });
        let process = if self.forked {
            format!("pid {pid} (forked child, {})", self.arch)
        } else {
            format!("pid {pid} ({})", self.arch)
        };
        let mut head =
            vec![json!({"ph": "M", "name": "process_name", "pid": pid, "tid": pid, "args": {"name": process}})];
        for (ordinal, &(tid, _)) in placement.iter().enumerate() {
            let vcpu = self.started[ordinal].0;
            let name = if ordinal == 0 { format!("main thread {tid}") } else { format!("thread {tid}") };
            head.push(json!({
                "ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                "args": {"name": format!("{name} (vCPU {vcpu})")},
            }));
        }
        if self.forked {
            head.push(
                json!({"ph": "i", "s": "p", "name": "forked", "cat": "process", "pid": pid, "tid": pid, "ts": 0}),
            );
        }

        // The file is streamed in chunks (a large trace would not fit twice in the script's
        // memory): the object's other members first, then the events one by one.
        let mut out = Output::new()?;
        out.raw(b"{\"displayTimeUnit\":\"ns\",\"otherData\":")?;
        out.value(&other)?;
        out.raw(b",\"traceEvents\":[")?;
        let mut first = true;
        let mut separate = |out: &mut Output| {
            let sep: &[u8] = if first { b"" } else { b"," };
            first = false;
            out.raw(sep)
        };
        for event in &head {
            separate(&mut out)?;
            out.value(event)?;
        }
        for p in std::mem::take(&mut self.events) {
            let (tid, start) = placement.get(p.ordinal).copied().unwrap_or((0, 0));
            let mut event: Value = serde_json::from_str(&p.event).map_err(|e| format!("timeline.json: {e}"))?;
            if let Value::Object(fields) = &mut event {
                fields.insert("pid".into(), json!(pid));
                fields.insert("tid".into(), json!(tid));
                if let Some(ts) = p.ts {
                    fields.insert("ts".into(), json!(start + ts));
                }
            }
            separate(&mut out)?;
            out.value(&event)?;
        }
        out.raw(b"]}")?;
        out.flush()
    }
}

/// `timeline.json` written in 1 MiB chunks through `append-report`, after emptying the file.
struct Output {
    buf: Vec<u8>,
}

impl Output {
    const CHUNK: usize = 1 << 20;

    fn new() -> Result<Self, String> {
        write_report("timeline.json", b"")?;
        Ok(Output { buf: Vec::with_capacity(Self::CHUNK + 4096) })
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.buf.extend_from_slice(bytes);
        self.spill()
    }

    fn value(&mut self, value: &Value) -> Result<(), String> {
        serde_json::to_writer(&mut self.buf, value).map_err(|e| format!("timeline.json: {e}"))?;
        self.spill()
    }

    fn spill(&mut self) -> Result<(), String> {
        if self.buf.len() >= Self::CHUNK { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<(), String> {
        if !self.buf.is_empty() {
            append_report("timeline.json", &self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

export_script!(Timeline);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_follow_the_architecture() {
        assert_eq!(signal_name("x86_64", 10), "SIGUSR1");
        assert_eq!(signal_name("aarch64", 17), "SIGCHLD");
        assert_eq!(signal_name("mips", 16), "SIGUSR1");
        assert_eq!(signal_name("mipsel", 18), "SIGCHLD");
        assert_eq!(signal_name("x86_64", 34), "SIGRT34");
        assert_eq!(signal_arg("tgkill"), Some(2));
        assert_eq!(signal_arg("kill"), Some(1));
        assert_eq!(signal_arg("write"), None);
    }
}
