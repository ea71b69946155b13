//! `cannonball new --lang rust|c|as NAME`: a script project that builds and runs as
//! generated, copied from cli/templates/<lang>/ with `{{name}}` and `{{sdk}}` (the absolute
//! path of guest-sdk/) filled in.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::build::Lang;

pub fn new(root: &Path, lang: Lang, name: &str, dir: Option<PathBuf>) -> Result<PathBuf> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        bail!("script name '{name}' must be letters, digits, - and _");
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        bail!("script name '{name}' must start with a letter");
    }
    let dest = dir.unwrap_or_else(|| PathBuf::from(name));
    if dest.exists() && fs::read_dir(&dest).map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("{} already exists and is not empty", dest.display());
    }
    let template = root.join("cli/templates").join(template_dir(lang));
    let sdk = fs::canonicalize(root.join("guest-sdk")).context("cannot find guest-sdk/ (set CANNONBALL_HOME)")?;
    copy(&template, &dest, &[("{{name}}", name), ("{{sdk}}", &sdk.to_string_lossy())])
        .with_context(|| format!("cannot create {} from {}", dest.display(), template.display()))?;
    Ok(dest)
}

fn template_dir(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "rust",
        Lang::C => "c",
        Lang::AssemblyScript => "as",
    }
}

fn copy(from: &Path, to: &Path, subst: &[(&str, &str)]) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            if entry.file_name() == "node_modules" || entry.file_name() == "target" {
                continue;
            }
            copy(&entry.path(), &target, subst)?;
        } else {
            let mut text = fs::read_to_string(entry.path())?;
            for (key, value) in subst {
                text = text.replace(key, value);
            }
            fs::write(target, text)?;
        }
    }
    Ok(())
}
