//! ltrace as the oracle for library calls: `ltrace -f -L -x malloc+calloc+realloc+free`
//! stops at each function's first instruction (every caller, the library's own calls too)
//! and prints each call when it returns; the same calls from malloc-stats' `malloc-calls.txt`.
//! Both become per-thread sequences with pointers renamed by first appearance in their
//! thread (p0, p1, ...): native and emulated runs place the heap at different addresses, but
//! the allocator hands out the same blocks in the same order.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;

/// One call: function, arguments as printed, return value as printed ("" for free).
type Call = (String, Vec<String>, String);

/// Runs `program args` (single-threaded: on threads ltrace crashes programs and misses calls)
/// natively under ltrace; returns its output file's text.
pub fn run(program: &Path, args: &[&str], work: &Path) -> String {
    let out = work.join("ltrace.out");
    let status = Command::new("ltrace")
        .args(["-f", "-i", "-L", "-x", "malloc+calloc+realloc+free", "-o"])
        .arg(&out)
        .arg(program)
        .args(args)
        .current_dir(work)
        .env("LC_ALL", "C")
        .stdout(std::process::Stdio::null())
        .status()
        .expect("ltrace (Debian's ltrace, installed by cargo xtask test)");
    assert!(status.success(), "ltrace {}: {status}", program.display());
    std::fs::read_to_string(out).unwrap()
}

const FUNCTIONS: [&str; 4] = ["malloc", "calloc", "realloc", "free"];

/// `[CALLER] NAME@LIB(ARGS) = RET`, `[CALLER] NAME@LIB(ARGS <unfinished ...>` and
/// `[...] <... NAME resumed> ) = RET`, per pid (thread), the calls whose return address
/// (CALLER) `keep` accepts.
pub fn parse_ltrace_from(text: &str, keep: impl Fn(u64) -> bool) -> BTreeMap<String, Vec<Call>> {
    let mut threads: BTreeMap<String, Vec<Call>> = BTreeMap::new();
    let mut pending: HashMap<(String, String), Option<Vec<String>>> = HashMap::new();
    for line in text.lines() {
        let Some((pid, rest)) = line.split_once(' ') else { continue };
        let mut rest = rest.trim();
        let mut caller = 0;
        if let Some(tail) = rest.strip_prefix('[')
            && let Some((ip, after)) = tail.split_once("] ")
        {
            caller = u64::from_str_radix(ip.trim_start_matches("0x"), 16).unwrap_or(0);
            rest = after.trim();
        }
        if let Some(resumed) = rest.strip_prefix("<... ") {
            let name = resumed.split([' ', '@']).next().unwrap_or("").to_owned();
            if let Some(Some(args)) = pending.remove(&(pid.to_owned(), name.clone())) {
                let ret = resumed.rsplit_once("= ").map(|(_, r)| r.trim().to_owned()).unwrap_or_default();
                threads.entry(pid.to_owned()).or_default().push((name, args, ret));
            }
            continue;
        }
        let Some((head, tail)) = rest.split_once('(') else { continue };
        let Some((name, _lib)) = head.split_once('@') else { continue };
        if !FUNCTIONS.contains(&name) {
            continue;
        }
        let kept = keep(caller);
        if let Some(args) = tail.strip_suffix(" <unfinished ...>") {
            pending.insert((pid.to_owned(), name.to_owned()), kept.then(|| split_args(args)));
        } else if let (true, Some((args, ret))) = (kept, tail.rsplit_once(") ")) {
            let ret = ret.trim().trim_start_matches('=').trim().to_owned();
            threads.entry(pid.to_owned()).or_default().push((name.to_owned(), split_args(args), ret));
        }
    }
    threads
}

/// Every call, per pid.
pub fn parse_ltrace(text: &str) -> BTreeMap<String, Vec<Call>> {
    parse_ltrace_from(text, |_| true)
}

/// malloc-stats' `TID CALLER->NAME(ARGS) = RET` lines, per tid, the calls whose caller module
/// (file name) `keep` accepts.
pub fn parse_malloc_calls_from(text: &str, keep: impl Fn(&str) -> bool) -> BTreeMap<String, Vec<Call>> {
    let mut threads: BTreeMap<String, Vec<Call>> = BTreeMap::new();
    for line in text.lines() {
        let (tid, rest) = line.split_once(' ').unwrap_or_else(|| panic!("{line}"));
        let (caller, call) = rest.split_once("->").unwrap_or(("", rest));
        if !keep(caller) {
            continue;
        }
        let (name, tail) = call.split_once('(').unwrap_or_else(|| panic!("{line}"));
        let (args, ret) = tail.rsplit_once(')').unwrap();
        let ret = ret.trim().trim_start_matches('=').trim().to_owned();
        threads.entry(tid.to_owned()).or_default().push((name.to_owned(), split_args(args), ret));
    }
    threads
}

/// Every call, per tid.
pub fn parse_malloc_calls(text: &str) -> BTreeMap<String, Vec<Call>> {
    parse_malloc_calls_from(text, |_| true)
}

fn split_args(args: &str) -> Vec<String> {
    args.split(',').map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()).collect()
}

/// A thread's calls as text, pointers renamed by first appearance (NULL stays NULL).
pub fn normalized(calls: &[Call]) -> Vec<String> {
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut pointer = |v: &str| -> String {
        let value = u64::from_str_radix(v.trim_start_matches("0x"), 16).ok().filter(|_| v.starts_with("0x"));
        match (v, value) {
            ("nil" | "0" | "(nil)", _) | (_, Some(0)) => "NULL".into(),
            (_, Some(_)) => {
                let n = names.len();
                format!("p{}", names.entry(v.to_owned()).or_insert(n))
            }
            _ => v.to_owned(),
        }
    };
    calls
        .iter()
        .map(|(name, args, ret)| match name.as_str() {
            "free" => format!("free({})", pointer(&args[0])),
            "realloc" => {
                let old = pointer(&args[0]);
                format!("realloc({old}, {}) = {}", args[1], pointer(ret))
            }
            _ => format!("{name}({}) = {}", args.join(", "), pointer(ret)),
        })
        .collect()
}

/// Every thread's normalized sequence, sorted (thread ids differ between the two runs).
pub fn per_thread(threads: &BTreeMap<String, Vec<Call>>) -> Vec<Vec<String>> {
    let mut all: Vec<Vec<String>> = threads.values().map(|c| normalized(c)).filter(|c| !c.is_empty()).collect();
    all.sort();
    all
}
