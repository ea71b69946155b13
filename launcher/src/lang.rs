//! The language of a script project.

use std::fmt;
use std::path::Path;

use anyhow::{Result, anyhow};

/// A language scripts are written in; `cannonball build` and `cannonball new` know each.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Lang {
    Rust,
    C,
    #[cfg_attr(feature = "clap", value(name = "as", alias = "assemblyscript"))]
    AssemblyScript,
}

impl Lang {
    /// The language of the project in `dir`, from its files, first match wins: Rust has a
    /// Cargo.toml, AssemblyScript a package.json (its compiler is an npm package), C any
    /// `.c` file. `None` when there is none of these; an error when `dir` cannot be read.
    pub fn detect(dir: &Path) -> Result<Option<Lang>> {
        if dir.join("Cargo.toml").is_file() {
            return Ok(Some(Lang::Rust));
        }
        if dir.join("package.json").is_file() {
            return Ok(Some(Lang::AssemblyScript));
        }
        let has_c = std::fs::read_dir(dir)
            .map_err(|e| anyhow!("cannot read {}: {e}", dir.display()))?
            .any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "c")));
        Ok(has_c.then_some(Lang::C))
    }
}

/// The name `--lang` takes: `rust`, `c`, `as`.
impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::Rust => "rust",
            Lang::C => "c",
            Lang::AssemblyScript => "as",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_each_language_by_its_files() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("example-scripts");
        assert_eq!(Lang::detect(&root.join("cov")).unwrap(), Some(Lang::Rust));
        assert_eq!(Lang::detect(&root.join("icount")).unwrap(), Some(Lang::C));
        assert_eq!(Lang::detect(&root.join("syscalls")).unwrap(), Some(Lang::AssemblyScript));
        assert_eq!(Lang::detect(&root.parent().unwrap().join("wit")).unwrap(), None);
        assert!(Lang::detect(&root.join("no-such-dir")).unwrap_err().to_string().starts_with("cannot read "));
    }
}
