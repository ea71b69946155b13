//! Arbitrary bytes as a script → `cannonball::script::ScriptFactory::load`.
//!
//! The bytes are written to a file (one per fuzzing process, in a per-process temp directory)
//! and loaded the way `plugin::install` loads `script=FILE.wasm`: read, sniffed, compiled by
//! wasmtime as a component and linked against the `cannonball:script` world. Every outcome must
//! be `Ok` or a one-line `Err`: never a panic, an abort or a crash inside wasmtime.
//!
//! Only loading is fuzzed, not instantiation: instantiating runs the component's start
//! functions, which may loop forever (scripts run without fuel or epochs).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use cannonball::script::{CacheSetting, Limits, ScriptFactory};
use cannonball::sink::OutDir;
use libfuzzer_sys::fuzz_target;

struct Scratch {
    script: PathBuf,
    out: OutDir,
    limits: Limits,
}

fn scratch() -> &'static Scratch {
    static SCRATCH: OnceLock<Scratch> = OnceLock::new();
    SCRATCH.get_or_init(|| {
        // tmpfs when there is one: one file write per execution.
        let base = std::env::var_os("CANNONBALL_FUZZ_TMP").map(PathBuf::from).unwrap_or_else(|| {
            let shm = PathBuf::from("/dev/shm");
            if shm.is_dir() { shm } else { std::env::temp_dir() }
        });
        let dir = base.join(format!("cannonball-fuzz-script-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        let out = OutDir::prepare(&dir.join("out")).expect("prepare the out directory");
        // The limits of a plain `script=FILE.wasm` run: every host option at its default.
        let defaults = cannonball::options::parse(&[]).expect("default options parse");
        let limits = cannonball::options::limits(&defaults.host).expect("default limits are valid");
        Scratch { script: dir.join("fuzz.wasm"), out, limits }
    })
}

fuzz_target!(|data: &[u8]| {
    let s = scratch();
    std::fs::write(&s.script, data).expect("write the script file");
    // No cache: every input is new, and fuzzing must not fill the user's cache directory.
    let loaded =
        ScriptFactory::load(&s.script, "x86_64", s.out.clone(), s.limits.clone(), Default::default(), &CacheSetting::Off);
    match loaded {
        Ok(factory) => assert_eq!(factory.name(), "fuzz"),
        Err(err) => {
            let text = format!("{err:#}");
            assert!(!text.is_empty());
        }
    }
});
