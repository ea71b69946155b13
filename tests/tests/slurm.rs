//! The shard workflow on a real Slurm (Debian's slurmctld, slurmd and munge 22.05, on loopback,
//! started here and stopped by their process ids): the job-array file and the submission
//! commands are taken from docs/corpus.md itself, with `/shared` pointing into a temporary
//! directory that holds an installation (`cargo xtask install`'s layout), the corpus, the
//! script and the target. 16 tasks for 8 inputs (most shards are empty), one input that
//! crashes and one that hangs; then two tasks are re-run alone; the merged reports must equal
//! one unsharded run's.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cannonball_tests::shards::{assert_merged_equals_single_run, documented_blocks, shared_dir, table};
use cannonball_tests::{TempDir, watchdog};

/// The daemons of a one-node cluster, killed when dropped.
struct Cluster {
    daemons: Vec<Child>,
    conf: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for daemon in &mut self.daemons {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
    }
}

fn daemon(cmd: &mut Command, log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    cmd.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log);
    cmd.spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e} (install slurmctld slurmd slurm-client munge)"))
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        assert_eq!(unsafe { libc::geteuid() }, 0, "the Slurm test starts munged and slurmd: it needs root");
        for sub in ["state", "spool", "log"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let conf = dir.join("slurm.conf");
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        std::fs::write(
            &conf,
            format!(
                "ClusterName=cannonball\nSlurmctldHost=localhost\nSlurmUser=root\nAuthType=auth/munge\n\
                 ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n\
                 AccountingStorageType=accounting_storage/none\nJobAcctGatherType=jobacct_gather/none\n\
                 SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\nMailProg=/bin/true\nReturnToService=2\n\
                 StateSaveLocation={d}/state\nSlurmdSpoolDir={d}/spool\n\
                 SlurmctldPidFile={d}/slurmctld.pid\nSlurmdPidFile={d}/slurmd.pid\n\
                 NodeName=localhost NodeHostname=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=2000\n\
                 PartitionName=main Nodes=localhost Default=YES MaxTime=INFINITE State=UP\n",
                d = dir.display()
            ),
        )
        .unwrap();
        let mut cluster = Cluster { daemons: Vec::new(), conf };
        // munged runs as its own user (setpriv execs it: the child's pid is munged's).
        let run = Path::new("/run/munge");
        std::fs::create_dir_all(run).unwrap();
        assert!(Command::new("chown").args(["munge:munge", "/run/munge"]).status().unwrap().success());
        cluster.daemons.push(daemon(
            Command::new("setpriv").args(["--reuid=munge", "--regid=munge", "--clear-groups", "munged", "-F"]),
            &dir.join("log/munged.log"),
        ));
        std::thread::sleep(Duration::from_millis(500));
        cluster.daemons.push(daemon(
            Command::new("slurmctld").args(["-D", "-i", "-f"]).arg(&cluster.conf),
            &dir.join("log/slurmctld.log"),
        ));
        cluster.daemons.push(daemon(
            Command::new("slurmd").args(["-D", "-N", "localhost", "-f"]).arg(&cluster.conf),
            &dir.join("log/slurmd.log"),
        ));
        cluster.wait_until(Duration::from_secs(60), "the node to be idle", |c| {
            c.client("sinfo", &["-h", "-o", "%t"]).trim() == "idle"
        });
        cluster
    }

    fn client(&self, tool: &str, args: &[&str]) -> String {
        let out = Command::new(tool).args(args).env("SLURM_CONF", &self.conf).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_until(&self, limit: Duration, what: &str, done: impl Fn(&Cluster) -> bool) {
        let start = Instant::now();
        while !done(self) {
            assert!(start.elapsed() < limit, "Slurm: no {what} after {limit:?}");
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn wait_for_empty_queue(&self) {
        self.wait_until(Duration::from_secs(600), "empty queue", |c| c.client("squeue", &["-h"]).trim().is_empty());
    }

    /// Runs a shell snippet with the cluster's configuration, in `dir`.
    fn shell(&self, snippet: &str, dir: &Path) {
        let mut cmd = Command::new("bash");
        cmd.args(["-euo", "pipefail", "-c", snippet]).current_dir(dir).env("SLURM_CONF", &self.conf);
        let out = watchdog::output(&mut cmd);
        assert!(out.status.success(), "{snippet}\n{}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn the_documented_job_array_runs_on_slurm_and_merges_into_the_single_run() {
    let work = TempDir::new("slurm");
    let shared = shared_dir(&work.join("shared"));
    let blocks = documented_blocks("### Slurm: a job array", "sh");
    assert_eq!(blocks.len(), 2, "the job file and the submission: {blocks:?}");
    let here = |text: &str| text.replace("/shared", &shared.display().to_string());
    let job_file = here(&blocks[0]);
    assert!(job_file.contains("#SBATCH --array=1-16") && job_file.contains("SHARDS=16"), "{job_file}");
    std::fs::write(work.join("corpus.sbatch"), &job_file).unwrap();

    let cluster = Cluster::start(&work.join("slurm"));
    let started = Instant::now();
    // The submission as documented: the array, then the merge once every task succeeded.
    cluster.shell(&here(&blocks[1]), work.path());
    cluster.wait_for_empty_queue();
    let first = started.elapsed();
    let merged = shared.join("out/merged");
    assert!(
        merged.join("corpus.tsv").exists(),
        "the merge job ran: {:?}",
        std::fs::read_dir(work.path()).unwrap().count()
    );
    // Two tasks again, alone, as the job file's comment says: the same shards of the same 16.
    let before: Vec<Vec<String>> =
        ["shard-3", "shard-7"].iter().map(|s| table(&shared.join("out").join(s)).concat()).collect();
    cluster.shell("sbatch --parsable --array=3,7 corpus.sbatch >/dev/null", work.path());
    cluster.wait_for_empty_queue();
    let after: Vec<Vec<String>> =
        ["shard-3", "shard-7"].iter().map(|s| table(&shared.join("out").join(s)).concat()).collect();
    assert_eq!(before, after, "a re-run task runs the same shard of the same count");
    let merge = here(blocks[1].split('\'').nth(1).expect("the merge command, quoted in --wrap"));
    std::fs::remove_dir_all(&merged).unwrap();
    cluster.shell(&merge, work.path());
    drop(cluster);
    eprintln!("slurm: the array and its merge took {first:?}; all in {:?}", started.elapsed());

    // One unsharded run of the same corpus is what the merge must equal.
    assert_merged_equals_single_run(&shared, &merged, &work.join("whole"));
}
