//! Scripts shared through a real OCI registry (Debian's docker-registry, the CNCF distribution
//! registry, on 127.0.0.1, started here and stopped by its process id): `cannonball publish`
//! cov, run it by tag and by digest with reports equal to the local file's, `inspect` shows the
//! annotations, a run with the registry stopped uses the cache, a corrupted cached blob is
//! fetched again; an independent client (skopeo) sees the Wasm media types and pushes a
//! component from a hand-written OCI image layout that `cannonball run -s` then runs; bad
//! references give one line and a non-zero exit.

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cannonball_tests::{TempDir, cli, program, script};

/// The registry daemon, killed by its pid when dropped.
struct Registry {
    daemon: Child,
    host: String,
}

impl Registry {
    fn start(work: &TempDir, port: u16) -> Registry {
        let config = work.join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                work.join("registry-data").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(work.join("registry.log")).unwrap();
        let daemon = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("docker-registry: {e} (install docker-registry)"));
        let host = format!("127.0.0.1:{port}");
        // Ready when it accepts connections; a generous bound only so that a broken install
        // fails instead of hanging.
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(&host).is_err() {
            assert!(Instant::now() < deadline, "the registry did not start: {}", read(&work.join("registry.log")));
            std::thread::sleep(Duration::from_millis(100));
        }
        Registry { daemon, host }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn cannonball(args: &[&str], work: &TempDir) -> Output {
    Command::new(cli())
        .args(args)
        .current_dir(work.path())
        .env("XDG_CACHE_HOME", work.join("cache"))
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

fn ok(output: Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// One line on stderr, a non-zero exit, no backtrace.
fn fails(output: Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "succeeded: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(expected), "expected {expected:?} in {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The reports of a run: every file but our own log and the script's origin.
fn reports(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| !["cannonball.log", "script.ref"].contains(&e.file_name().to_str().unwrap()))
        .map(|e| (e.file_name().into_string().unwrap(), std::fs::read(e.path()).unwrap()))
        .collect()
}

fn run_cov(work: &TempDir, script: &str, out: &str, extra: &[&str]) -> BTreeMap<String, Vec<u8>> {
    let prog = program("demo");
    let mut args: Vec<&str> = extra.to_vec();
    args.extend(["run", "-q", "-s", script, "-o", out, "--", prog.to_str().unwrap()]);
    ok(cannonball(&args, work));
    let reports = reports(&work.join(out));
    assert!(!reports.is_empty(), "no reports in {out}");
    reports
}

fn sha256_hex(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

#[test]
fn publish_run_inspect_cache_and_skopeo() {
    let work = TempDir::new("sharing");
    let port = free_port();
    let registry = Registry::start(&work, port);
    let cov = script("cov");
    let tag = format!("{}/scripts/cov:1", registry.host);

    let published = ok(cannonball(&["publish", cov.to_str().unwrap(), &tag], &work));
    let digest = published.lines().next().unwrap().trim().to_string();
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{published}");
    let by_digest = format!("{}/scripts/cov@{digest}", registry.host);

    let local = run_cov(&work, cov.to_str().unwrap(), "local", &[]);
    assert!(!work.join("local/script.ref").exists());
    assert_eq!(run_cov(&work, &tag, "tag", &[]), local);
    assert_eq!(run_cov(&work, &by_digest, "digest", &[]), local);
    let origin = read(&work.join("digest/script.ref"));
    assert!(origin.contains(&format!("manifest: {digest}")), "{origin}");
    assert!(origin.contains(&format!("component: sha256:{}", sha256_hex(&cov))), "{origin}");

    // merge -s by digest: the merged reports record it too.
    ok(cannonball(&["merge", "digest", "-o", "merged", "-s", &by_digest], &work));
    assert!(read(&work.join("merged/script.ref")).contains(&format!("manifest: {digest}")));

    let shown = ok(cannonball(&["inspect", &tag], &work));
    assert!(shown.contains("annotation:  org.opencontainers.image.title=cov"), "{shown}");
    assert!(shown.contains("annotation:  dev.cannonball.interface=cannonball:"), "{shown}");
    assert!(shown.contains(&format!("digest:      {digest}")), "{shown}");

    // An independent client reads what we pushed.
    let raw = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", &format!("docker://{tag}")])
        .output()
        .unwrap();
    let raw = String::from_utf8_lossy(&raw.stdout).into_owned();
    assert!(raw.contains("application/vnd.wasm.config.v0+json"), "{raw}");
    assert!(raw.contains("\"application/wasm\""), "{raw}");
    assert!(raw.contains("org.opencontainers.image.title"), "{raw}");

    // A component pushed by another client, from an OCI image layout written by hand.
    let layout = write_layout(&work, &cov);
    let other = format!("{}/other/cov:2", registry.host);
    let copied = Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false", &format!("oci:{}:2", layout.display()), &format!("docker://{other}")])
        .output()
        .unwrap();
    assert!(copied.status.success(), "{}", String::from_utf8_lossy(&copied.stderr));
    assert_eq!(run_cov(&work, &other, "other", &[]), local);

    // Bad input: one line each, nothing cached for them.
    fails(cannonball(&["inspect", &format!("{}/scripts/cov:missing", registry.host)], &work), "cov:missing");
    fails(cannonball(&["inspect", &format!("{}/Scripts/COV:1", registry.host)], &work), "malformed reference");
    let unreachable = format!("127.0.0.1:{}/scripts/cov:1", free_port());
    fails(cannonball(&["inspect", &unreachable], &work), &format!("registry of {unreachable} unreachable"));
    fails(cannonball(&["--offline", "inspect", &format!("{}/scripts/cov:never", registry.host)], &work), "--offline");
    let text = write_layout_of(
        &work,
        "text",
        b"plain text, not wasm",
        "application/vnd.example.notes.config.v1+json",
        "text/plain",
    );
    let not_wasm = format!("{}/other/text:1", registry.host);
    let copied = Command::new("skopeo")
        .args([
            "copy",
            "--dest-tls-verify=false",
            &format!("oci:{}:2", text.display()),
            &format!("docker://{not_wasm}"),
        ])
        .output()
        .unwrap();
    assert!(copied.status.success(), "{}", String::from_utf8_lossy(&copied.stderr));
    fails(cannonball(&["inspect", &not_wasm], &work), "not a Wasm component artifact");
    for sub in ["sha256", "tags"] {
        for entry in std::fs::read_dir(work.join("cache/cannonball/components").join(sub)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(!name.starts_with(".tmp"), "half-written {name}");
        }
    }

    // The registry stopped: the cache serves the tag and the digest, with no network at all.
    drop(registry);
    assert_eq!(run_cov(&work, &tag, "cached", &[]), local);
    assert_eq!(run_cov(&work, &by_digest, "offline", &["--offline"]), local);

    // A corrupted cached component is detected and fetched again.
    let blob = work.join("cache/cannonball/components/sha256").join(sha256_hex(&cov));
    std::fs::write(&blob, b"corrupted").unwrap();
    let registry = Registry::start(&work, port);
    let prog = program("demo");
    let again = ok(cannonball(&["run", "-q", "-s", &by_digest, "-o", "again", "--", prog.to_str().unwrap()], &work));
    assert_eq!(reports(&work.join("again")), local, "{again}");
    assert!(again.contains("is corrupted; fetching it again"), "{again}");
    assert_eq!(sha256_hex(&blob), sha256_hex(&cov));
    drop(registry);
}

fn write_layout(work: &TempDir, component: &Path) -> PathBuf {
    let bytes = std::fs::read(component).unwrap();
    write_layout_of(work, "layout", &bytes, "application/vnd.wasm.config.v0+json", "application/wasm")
}

/// The standard OCI image layout (oci-layout, index.json, blobs/sha256/) with one manifest
/// tagged `2` whose one layer is `layer`.
fn write_layout_of(work: &TempDir, name: &str, layer: &[u8], config_type: &str, layer_type: &str) -> PathBuf {
    let dir = work.join(name);
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| -> (String, usize) {
        let temp = dir.join("blob.tmp");
        std::fs::write(&temp, bytes).unwrap();
        let hex = sha256_hex(&temp);
        std::fs::rename(&temp, blobs.join(&hex)).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let (layer_digest, layer_size) = put(layer);
    let config = format!(
        r#"{{"created":"2026-12-05T00:00:00Z","architecture":"wasm","os":"wasip2","layerDigests":["{layer_digest}"]}}"#
    );
    let (config_digest, config_size) = put(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"{config_type}","digest":"{config_digest}","size":{config_size}}},"layers":[{{"mediaType":"{layer_type}","digest":"{layer_digest}","size":{layer_size}}}]}}"#
    );
    let (manifest_digest, manifest_size) = put(manifest.as_bytes());
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{manifest_size},"annotations":{{"org.opencontainers.image.ref.name":"2"}}}}]}}"#
        ),
    )
    .unwrap();
    dir
}
