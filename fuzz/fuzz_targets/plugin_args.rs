//! Arbitrary plugin arguments → `cannonball::options`.
//!
//! QEMU hands the plugin `-plugin libcannonball.so,a=1,b=2` as the C strings `a=1`, `b=2`; the
//! plugin turns them into `String`s lossily (`qemu::plugin_args`). The input is split the same
//! way: at commas, each piece made UTF-8 with `from_utf8_lossy` (a C string has no NUL, so
//! pieces are cut at NUL too).
//!
//! Checked: `options::parse`, `parse_forward_kinds`, `parse_filter`, `options::endpoint`
//! and `options::limits` (what install does with the text before touching the file
//! system) never panic, and every error they return is one non-empty line whenever the
//! arguments themselves contain no line break (a message may quote what the user typed).
//! Accepted limits must give an epoch deadline (`Limits::call_ticks`) that is no shorter than
//! `script-time=` asked for and cannot overflow when wasmtime adds it to the current epoch.
#![no_main]

use cannonball::options::{self, Options};
use cannonball::script::limits::TICK;
use libfuzzer_sys::fuzz_target;

fn check_error(err: &anyhow::Error, input_has_newline: bool, what: &str) {
    let text = err.to_string();
    assert!(!text.is_empty(), "{what}: empty error message");
    // What the plugin prints (`console::one_line`): the error and its causes.
    let full = format!("{err:#}");
    if !input_has_newline {
        assert!(!text.contains('\n'), "{what}: error is not one line: {text:?}");
        assert!(!full.contains('\n'), "{what}: error chain is not one line: {full:?}");
    }
}

fn check_options(opts: &Options, input_has_newline: bool) {
    if let Err(err) = opts.script() {
        check_error(&err, input_has_newline, "script()");
    }
    if let Some(kinds) = &opts.host.forward {
        if let Err(err) = options::parse_forward_kinds(kinds) {
            check_error(&err, input_has_newline, "parse_forward_kinds");
        }
    }
    if let Some(filter) = &opts.host.forward_filter {
        if let Err(err) = options::parse_filter(filter) {
            check_error(&err, input_has_newline, "parse_filter");
        }
    }
    if let Err(err) = options::endpoint(&opts.host) {
        check_error(&err, input_has_newline, "options::endpoint");
    }
    match options::limits(&opts.host) {
        Ok(limits) => {
            let _ = limits.describe_time();
            // The per-call deadline goes to `Store::set_epoch_deadline`, which adds it to the
            // current epoch: it must be at least the limit asked for (up to "no limit",
            // u64::MAX / 2) and leave room for that addition.
            let ticks = limits.call_ticks();
            assert!(ticks <= u64::MAX / 2, "call_ticks {ticks} overflows the epoch deadline: {limits:?}");
            if let Some(t) = limits.call_time {
                let wanted = (t.as_nanos() / TICK.as_nanos()).min(u128::from(u64::MAX / 2));
                assert!(u128::from(ticks) >= wanted, "call_ticks {ticks} is below {wanted} ticks: {limits:?}");
            }
        }
        Err(err) => check_error(&err, input_has_newline, "options::limits"),
    }
}

fuzz_target!(|data: &[u8]| {
    let raw: Vec<String> =
        data.split(|&b| b == b',' || b == 0).map(|piece| String::from_utf8_lossy(piece).into_owned()).collect();
    let has_newline = raw.iter().any(|s| s.contains(['\n', '\r']));

    match options::parse(&raw) {
        Ok(opts) => check_options(&opts, has_newline),
        Err(err) => check_error(&err, has_newline, "parse"),
    }

    // The value parsers on their own, on every piece (parse only reaches them for
    // `forward=`/`forward-filter=` values).
    for piece in &raw {
        let piece_has_newline = piece.contains(['\n', '\r']);
        if let Err(err) = options::parse_forward_kinds(piece) {
            check_error(&err, piece_has_newline, "parse_forward_kinds");
        }
        if let Err(err) = options::parse_filter(piece) {
            check_error(&err, piece_has_newline, "parse_filter");
        }
    }
});
