//! `cannonball build`: a script project in Rust, C or AssemblyScript → one .wasm component.
//! The language is recognised from the project's files; no CLI needs installing for any of
//! them (wit-bindgen's C generator and wit-component run here as libraries).

mod assemblyscript;
mod c;
mod rust;

use std::path::Path;

use anyhow::{Result, bail};
pub use cannonball_launcher::Lang;

/// The project's language, or an error naming what a script project has.
fn detect(project: &Path) -> Result<Lang> {
    match Lang::detect(project)? {
        Some(lang) => Ok(lang),
        None => bail!("{} is not a script project: no Cargo.toml, package.json or .c file", project.display()),
    }
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
