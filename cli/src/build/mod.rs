//! `cannonball build`: a script project in Rust, C or AssemblyScript → one .wasm component.
//! The language is recognised from the project's files; no CLI needs installing for any of
//! them (wit-bindgen's C generator and wit-component run here as libraries).

mod assemblyscript;
mod c;
mod rust;

use std::fmt;
use std::path::Path;

use anyhow::{Result, bail};

#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Lang {
    Rust,
    C,
    #[value(name = "as", alias = "assemblyscript")]
    AssemblyScript,
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::Rust => "rust",
            Lang::C => "c",
            Lang::AssemblyScript => "as",
        })
    }
}

/// Rust: a Cargo.toml; AssemblyScript: a package.json; C: any .c file.
pub fn detect(project: &Path) -> Result<Lang> {
    if project.join("Cargo.toml").is_file() {
        return Ok(Lang::Rust);
    }
    if project.join("package.json").is_file() {
        return Ok(Lang::AssemblyScript);
    }
    let has_c = std::fs::read_dir(project)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", project.display()))?
        .any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "c")));
    if has_c {
        return Ok(Lang::C);
    }
    bail!("{} is not a script project: no Cargo.toml, package.json or .c file", project.display())
}

/// Builds `project` into the component `output`. `root` holds wit/ and guest-sdk/.
pub fn build(root: &Path, project: &Path, output: &Path, lang: Option<Lang>) -> Result<()> {
    let lang = match lang {
        Some(lang) => lang,
        None => detect(project)?,
    };
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    match lang {
        Lang::Rust => rust::build(project, output),
        Lang::C => c::build(root, project, output),
        Lang::AssemblyScript => assemblyscript::build(root, project, output),
    }
}
