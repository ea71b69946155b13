//! Debian's x86_64 kernel under qemu-system-x86_64 for the system-mode tests and the bench: an
//! initramfs whose /init (tests/firmware/kernel_init.c) does one job and powers off, the QEMU
//! arguments that boot it, and the running kernel's own code symbols (/proc/kallsyms, copied
//! out by a first boot: Debian ships the real System.map only in the 860 MB -dbg package).

use std::path::{Path, PathBuf};
use std::process::Command;

use cannonball_launcher::Tree;

use crate::watchdog;

/// One file of an initramfs: its path, mode (type bits included) and contents, or a device.
pub enum InitramfsEntry<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8]),
    /// A character device: path, major, minor.
    CharDevice(&'a str, u32, u32),
}

/// An initramfs (cpio "newc", as the kernel reads it) holding `entries`.
pub fn initramfs(entries: &[InitramfsEntry<'_>]) -> Vec<u8> {
    fn pad(out: &mut Vec<u8>) {
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }
    let mut out = Vec::new();
    let mut put = |ino: u32, name: &str, mode: u32, data: &[u8], (major, minor): (u32, u32)| {
        let fields = [ino, mode, 0, 0, 1, 0, data.len() as u32, 0, 0, major, minor, name.len() as u32 + 1, 0];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        pad(&mut out);
        out.extend_from_slice(data);
        pad(&mut out);
    };
    for (i, entry) in entries.iter().enumerate() {
        let ino = i as u32 + 1;
        match entry {
            InitramfsEntry::Dir(path) => put(ino, path, 0o040755, &[], (0, 0)),
            InitramfsEntry::File(path, data) => put(ino, path, 0o100755, data, (0, 0)),
            InitramfsEntry::CharDevice(path, major, minor) => put(ino, path, 0o020600, &[], (*major, *minor)),
        }
    }
    put(0, "TRAILER!!!", 0, &[], (0, 0));
    out
}

/// Debian's x86_64 kernel as qemu/kernel.sh fetched it into target/kernel/ (`cargo xtask
/// build` runs it).
pub fn debian_kernel() -> PathBuf {
    let path = Tree::source().target().join("kernel/vmlinuz");
    assert!(path.exists(), "{} is missing: run `cargo xtask build` (qemu/kernel.sh)", path.display());
    path
}

/// The initramfs with /init built here (static, for the kernel's x86_64 user space).
pub fn build_initramfs(dir: &Path) -> PathBuf {
    let init = dir.join("init");
    let src = crate::root().join("tests/firmware/kernel_init.c");
    let out = Command::new("gcc").args(["-O1", "-static", "-o"]).arg(&init).arg(&src).output().unwrap();
    assert!(out.status.success(), "gcc -static: {}", String::from_utf8_lossy(&out.stderr));
    let image = dir.join("initrd");
    let init = std::fs::read(&init).unwrap();
    std::fs::write(
        &image,
        initramfs(&[
            InitramfsEntry::Dir("dev"),
            InitramfsEntry::CharDevice("dev/console", 5, 1),
            InitramfsEntry::CharDevice("dev/ttyS1", 4, 65),
            InitramfsEntry::File("init", &init),
        ]),
    )
    .unwrap();
    image
}

/// QEMU's arguments for a boot of the kernel with `initrd` and the kernel command line's
/// `job` words.
pub fn machine_args(initrd: &Path, job: &str) -> Vec<String> {
    vec![
        "-M".into(),
        "pc".into(),
        "-m".into(),
        "512".into(),
        "-no-reboot".into(),
        "-nographic".into(),
        "-monitor".into(),
        "none".into(),
        "-kernel".into(),
        debian_kernel().display().to_string(),
        "-initrd".into(),
        initrd.display().to_string(),
        "-append".into(),
        format!("console=ttyS0 nokaslr quiet panic=-1 {job}"),
    ]
}

pub fn qemu() -> PathBuf {
    Tree::source().qemu_system("x86_64")
}

/// The running kernel's code symbols, in /proc/kallsyms form.
pub fn kallsyms(dir: &Path, initrd: &Path) -> PathBuf {
    let map = dir.join("kallsyms.txt");
    let mut cmd = Command::new(qemu());
    cmd.args(machine_args(initrd, "cannonball_job=kallsyms"))
        .arg("-serial")
        .arg("mon:stdio")
        .arg("-serial")
        .arg(format!("file:{}", map.display()))
        .stdin(std::process::Stdio::null());
    let out = watchdog::output(&mut cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("code symbols written"), "the kallsyms boot:\n{stdout}");
    map
}

/// The address of `name` in a kallsyms file.
pub fn address_of(map: &Path, name: &str) -> u64 {
    let text = std::fs::read_to_string(map).unwrap();
    let line = text
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some(name))
        .unwrap_or_else(|| panic!("{name} not in {}", map.display()));
    u64::from_str_radix(line.split_whitespace().next().unwrap(), 16).unwrap()
}

/// Every name a kallsyms file gives the code at `address`.
pub fn aliases_at(map: &Path, address: u64) -> Vec<String> {
    std::fs::read_to_string(map)
        .unwrap()
        .lines()
        .filter(|l| l.split_whitespace().next().and_then(|a| u64::from_str_radix(a, 16).ok()) == Some(address))
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
        .collect()
}
