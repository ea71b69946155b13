//! The run's out directory (`out=DIR`): the only place scripts can write files to.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

#[derive(Debug, Clone)]
pub struct OutDir {
    path: PathBuf,
}

impl OutDir {
    /// Creates the directory if needed and checks that we can write into it, so that a bad
    /// `out=` fails before the guest runs rather than when reports are written at exit.
    pub fn prepare(path: &Path) -> Result<Self> {
        fs::create_dir_all(path).with_context(|| format!("cannot create out directory {}", path.display()))?;
        let path = path.canonicalize().with_context(|| format!("cannot resolve out directory {}", path.display()))?;
        let probe = path.join(format!(".cannonball-probe-{}", std::process::id()));
        fs::File::create(&probe)
            .and_then(|_| fs::remove_file(&probe))
            .with_context(|| format!("out directory {} is not writable", path.display()))?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates or replaces report `name`. The file appears whole or not at all: we write a
    /// temporary file and rename it.
    pub fn write_report(&self, name: &str, contents: &[u8]) -> Result<PathBuf> {
        check_report_name(name)?;
        let target = self.path.join(name);
        let tmp = self.path.join(format!(".{name}.{}.tmp", std::process::id()));
        let mut file = fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        file.write_all(contents).with_context(|| format!("cannot write {}", tmp.display()))?;
        drop(file);
        fs::rename(&tmp, &target).with_context(|| format!("cannot write {}", target.display()))?;
        Ok(target)
    }
}

impl OutDir {
    /// Appends to report `name`, creating it if needed.
    pub fn append_report(&self, name: &str, contents: &[u8]) -> Result<PathBuf> {
        check_report_name(name)?;
        let target = self.path.join(name);
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&target)
            .with_context(|| format!("cannot open {}", target.display()))?;
        file.write_all(contents).with_context(|| format!("cannot write {}", target.display()))?;
        Ok(target)
    }
}

/// Report names are plain file names, so a script cannot leave the out directory.
pub fn check_report_name(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        bail!("invalid report name {name:?}: use a plain file name (no '/', not '.' or '..')");
    }
    if name.starts_with('.') {
        bail!("invalid report name {name:?}: names starting with '.' are reserved");
    }
    Ok(())
}

/// The name a forked child's report gets, so that parent and child never overwrite each other:
/// `icount.txt` becomes `icount.<pid>.txt`.
pub fn report_name_for_child(name: &str, pid: u32) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem}.{pid}.{ext}"),
        _ => format!("{name}.{pid}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_names_that_escape() {
        for bad in ["", ".", "..", "../x", "a/b", "/etc/passwd", ".hidden", "a\0b"] {
            assert!(check_report_name(bad).is_err(), "{bad:?}");
        }
        for good in ["icount.txt", "cov.drcov", "report-123.json"] {
            check_report_name(good).unwrap();
        }
    }

    #[test]
    fn writes_and_replaces_reports() {
        let dir = std::env::temp_dir().join(format!("cannonball-outdir-{}", std::process::id()));
        let out = OutDir::prepare(&dir.join("nested")).unwrap();
        let path = out.write_report("r.txt", b"one").unwrap();
        out.write_report("r.txt", b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        out.append_report("r.txt", b"three").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"twothree");
        assert!(out.append_report("../r.txt", b"x").is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unwritable_out_dir_fails_early() {
        let err = OutDir::prepare(Path::new("/proc/cannonball-cannot-exist")).unwrap_err();
        assert!(format!("{err:#}").contains("out directory"));
    }

    #[test]
    fn child_reports_carry_the_pid() {
        assert_eq!(super::report_name_for_child("icount.txt", 42), "icount.42.txt");
        assert_eq!(super::report_name_for_child("trace", 42), "trace.42");
        assert_eq!(super::report_name_for_child("a.b.json", 7), "a.b.7.json");
    }
}
