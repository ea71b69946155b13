//! AssemblyScript script → component, with nothing installed but node and npm: the compiler
//! (npm `assemblyscript`) comes with the SDK package (guest-sdk/assemblyscript), and
//! wit-component runs here as a library.
//!
//! Steps: `npm ci` for the SDK and `npm install` for the project when their node_modules are
//! missing; generate the entry file `target/cannonball/main.ts` (the SDK's exports, the
//! script's name/version/description from package.json, the project's `assembly/index.ts`);
//! compile it with asc and the SDK's transform (world export names); embed the `script`
//! world and make the component. AssemblyScript needs no WASI, so there is no adapter.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use wit_parser::Resolve;

/// Where the SDK's `abort` lives, under asc's internal name for package files.
const ABORT: &str = "abort=~lib/@cannonball/sdk/assembly/exports/cannonballAbort";

pub fn build(root: &Path, project: &Path, output: &Path) -> Result<()> {
    let manifest = read_manifest(&project.join("package.json"))?;
    let entry = project.join("assembly/index.ts");
    if !entry.is_file() {
        bail!("{} is missing: an AssemblyScript script starts there", entry.display());
    }
    let sdk = root.join("guest-sdk/assemblyscript");
    npm(&sdk, "ci")?;
    if manifest.has_dependencies {
        npm(project, "install")?;
    }

    let gen_dir = project.join("target/cannonball");
    fs::create_dir_all(&gen_dir)?;
    // Projects that do not depend on @cannonball/sdk still find it: asc looks in --path after
    // the node_modules directories.
    let lib = gen_dir.join("lib/@cannonball");
    fs::create_dir_all(&lib)?;
    let link = lib.join("sdk");
    let _ = fs::remove_file(&link);
    std::os::unix::fs::symlink(&sdk, &link).with_context(|| format!("cannot create {}", link.display()))?;
    fs::write(gen_dir.join("main.ts"), entry_file(&manifest))?;

    let wit = root.join("wit");
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve.push_dir(&wit).with_context(|| format!("cannot read {}", wit.display()))?;
    // A script whose source defines `merge(` exports the optional merge step (WIT 0.2.2):
    // the component is of the `script-with-merge` world, and the transform names the export.
    let merges = defines_merge(&project.join("assembly"));
    let version = resolve.packages[pkg].name.version.as_ref().map(|v| format!("@{v}")).unwrap_or_default();
    let core = gen_dir.join("core.wasm");
    let status = Command::new("node")
        .arg(sdk.join("node_modules/assemblyscript/bin/asc.js"))
        .arg("target/cannonball/main.ts")
        .args(["--baseDir", "."])
        .args(["--path", "target/cannonball/lib"])
        .args(["--optimizeLevel", "3", "--shrinkLevel", "0"])
        .args(["--use", ABORT])
        .arg("--transform")
        .arg(sdk.join("transform/exports.js"))
        .args(["-o", "target/cannonball/core.wasm"])
        .env(
            "CANNONBALL_MERGE_EXPORT",
            if merges { format!("cannonball:script/merge{version}#merge") } else { String::new() },
        )
        .current_dir(project)
        .status()
        .context("cannot run node: install Node.js (20 or newer) and npm")?;
    if !status.success() {
        bail!("the AssemblyScript compiler failed for {}", project.display());
    }

    let mut module = fs::read(&core).with_context(|| format!("cannot read {}", core.display()))?;
    let world = resolve.select_world(&[pkg], Some(if merges { "script-with-merge" } else { "script" }))?;
    wit_component::embed_component_metadata(&mut module, &resolve, world, wit_component::StringEncoding::UTF8)?;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)?
        .validate(true)
        .encode()
        .context("cannot make a component")?;
    fs::write(output, component).with_context(|| format!("cannot write {}", output.display()))?;
    Ok(())
}

/// Whether the project's AssemblyScript sources define a `merge(` method.
fn defines_merge(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else { return false };
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "ts"))
        .any(|p| fs::read_to_string(&p).is_ok_and(|t| t.lines().any(|l| l.trim_start().starts_with("merge("))))
}

/// name, version and description of package.json: the script's `describe`, as Cargo.toml is
/// for a Rust script.
struct Manifest {
    name: String,
    version: String,
    description: String,
    has_dependencies: bool,
}

fn read_manifest(path: &Path) -> Result<Manifest> {
    let text = fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?;
    let field = |key: &str| json.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let name = field("name").with_context(|| format!("{} has no \"name\"", path.display()))?;
    // A scoped npm name (@me/script) names the script by its last part.
    let name = name.rsplit('/').next().unwrap_or(&name).to_owned();
    Ok(Manifest {
        name,
        version: field("version").unwrap_or("0.0.0".into()),
        description: field("description").unwrap_or_default(),
        has_dependencies: json.get("dependencies").is_some() || json.get("devDependencies").is_some(),
    })
}

/// The compilation's entry: the SDK's exports, the script's metadata, the user's code.
fn entry_file(m: &Manifest) -> String {
    let quote = |s: &str| serde_json::to_string(s).expect("a string serialises");
    format!(
        "// Generated by `cannonball build`: the component's exports come from the SDK.\n\
         export * from \"@cannonball/sdk/assembly/exports\";\n\
         import {{ setScriptInfo }} from \"@cannonball/sdk/assembly/script\";\n\
         setScriptInfo({}, {}, {});\n\
         import \"../../assembly/index\";\n",
        quote(&m.name),
        quote(&m.version),
        quote(&m.description)
    )
}

/// `npm ci` or `npm install` in `dir` when it has a package.json but no node_modules yet.
fn npm(dir: &Path, command: &str) -> Result<()> {
    let modules: PathBuf = dir.join("node_modules");
    if modules.is_dir() || !dir.join("package.json").is_file() {
        return Ok(());
    }
    // `npm ci` needs a lock file; without one fall back to install.
    let command = if command == "ci" && !dir.join("package-lock.json").is_file() { "install" } else { command };
    eprintln!("cannonball: npm {command} in {}", dir.display());
    let status = Command::new("npm")
        .args([command, "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .context("cannot run npm: install Node.js (20 or newer) and npm")?;
    if !status.success() {
        bail!("npm {command} failed in {}", dir.display());
    }
    Ok(())
}
