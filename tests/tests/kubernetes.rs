//! docs/corpus.md's Kubernetes manifests, as written: validated offline against Kubernetes'
//! own schemas (kubernetes-validate from PyPI, strict: unknown fields are errors), and their
//! containers' commands run in a shell as the pods would run them — the indexed Job's 16
//! completions (`JOB_COMPLETION_INDEX` 0 to 15), then the merge Pod — with the claim's `/data`
//! pointed into a temporary directory and an installation's `bin/` on PATH, as the image has
//! `cannonball` on its PATH. The merge must equal one unsharded run.

use std::path::{Path, PathBuf};
use std::process::Command;

use cannonball_tests::shards::{assert_merged_equals_single_run, documented_blocks, shared_dir};
use cannonball_tests::{TempDir, watchdog};

/// target/py, where `cargo xtask test` installs kubernetes-validate (and DuckDB).
fn python() -> PathBuf {
    cannonball_launcher::Tree::source().target().join("py/bin/python3")
}

fn validate(manifest: &Path) -> std::process::Output {
    let mut cmd = Command::new(python());
    cmd.args(["-m", "kubernetes_validate", "--strict"]).arg(manifest);
    watchdog::output(&mut cmd)
}

/// The first container's shell command of a manifest (`command: ["/bin/sh", "-c"]`, one arg).
fn shell_command(manifest: &Path) -> String {
    let script = "import sys, yaml\n\
                  doc = yaml.safe_load(open(sys.argv[1]))\n\
                  spec = doc['spec']['template']['spec'] if doc['kind'] == 'Job' else doc['spec']\n\
                  c = spec['containers'][0]\n\
                  assert c['command'] == ['/bin/sh', '-c'], c['command']\n\
                  print(c['args'][0])";
    let mut cmd = Command::new(python());
    cmd.args(["-c", script]).arg(manifest);
    let out = watchdog::output(&mut cmd);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn the_documented_manifests_validate_and_their_commands_run() {
    let work = TempDir::new("kubernetes");
    let blocks = documented_blocks("### Kubernetes: an indexed Job", "yaml");
    assert_eq!(blocks.len(), 2, "the Job and the merge Pod");
    let (job, merge) = (work.join("job.yaml"), work.join("merge.yaml"));
    std::fs::write(&job, &blocks[0]).unwrap();
    std::fs::write(&merge, &blocks[1]).unwrap();
    for manifest in [&job, &merge] {
        let out = validate(manifest);
        assert!(out.status.success(), "{}: {}", manifest.display(), String::from_utf8_lossy(&out.stdout));
    }
    // The validator is strict: a field Kubernetes does not know fails.
    let bad = work.join("bad.yaml");
    std::fs::write(&bad, blocks[0].replace("completionMode: Indexed", "completionMode: Indexed\n  parallelsm: 2"))
        .unwrap();
    assert!(!validate(&bad).status.success(), "a misspelt field passed validation");

    let data = shared_dir(&work.join("data"));
    let here = |command: String| command.replace("/data", &data.display().to_string());
    let run_command = here(shell_command(&job));
    assert!(run_command.contains("$((JOB_COMPLETION_INDEX + 1))/16"), "{run_command}");
    let path = format!("{}:{}", data.join("cannonball/bin").display(), std::env::var("PATH").unwrap_or_default());
    for index in 0..16 {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", &run_command]).env("JOB_COMPLETION_INDEX", index.to_string()).env("PATH", &path);
        let out = watchdog::output(&mut cmd);
        assert!(out.status.success(), "completion {index}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", &here(shell_command(&merge))]).env("PATH", &path);
    let out = watchdog::output(&mut cmd);
    assert!(out.status.success(), "the merge: {}", String::from_utf8_lossy(&out.stderr));
    assert_merged_equals_single_run(&data, &data.join("out/merged"), &work.join("whole"));
}
