//! `cargo xtask gen-as`: the AssemblyScript SDK's canonical-ABI layout, generated from wit/.
//!
//! AssemblyScript has no binding generator, so the SDK lifts and lowers by hand
//! (guest-sdk/assemblyscript/assembly/{exports,host,abi}.ts). The numbers it needs — record
//! field offsets and sizes, option/result/variant payload offsets, flag widths and bits,
//! enum and variant discriminants, the return areas, the interface and function names — come
//! from here: wit-parser's `SizeAlign` (the canonical ABI for wasm32, as wit-bindgen computes
//! it) over the `script` world, written to `assembly/generated/layout.ts`, which is checked in.
//!
//! `cargo xtask build` and the tests fail when the checked-in file differs from what wit/
//! gives (`cargo xtask gen-as` rewrites it); the tests also compare it with the loads and
//! stores wit-bindgen's own lifting and lowering code uses (see the tests below).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use wit_parser::abi::AbiVariant;
use wit_parser::{
    FlagsRepr, Function, Int, InterfaceId, Resolve, SizeAlign, Type, TypeDefKind, TypeId, WorldId, WorldItem,
};

use cannonball_launcher::Tree;

/// The generated module, relative to the project root.
pub const OUTPUT: &str = "guest-sdk/assemblyscript/assembly/generated/layout.ts";

/// The command that regenerates it (named in every "out of date" error).
pub const COMMAND: &str = "cargo xtask gen-as";

pub fn output() -> PathBuf {
    Tree::source().root().join(OUTPUT)
}

/// `cargo xtask gen-as [--check]`.
pub fn run(check_only: bool) -> Result<()> {
    if check_only {
        return check();
    }
    let text = generate(&Tree::source().root().join("wit"))?;
    let out = output();
    if fs::read_to_string(&out).ok().as_deref() == Some(text.as_str()) {
        eprintln!("xtask: {OUTPUT} is up to date");
        return Ok(());
    }
    fs::create_dir_all(out.parent().expect("a file has a parent"))?;
    fs::write(&out, text).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!("xtask: wrote {OUTPUT}");
    Ok(())
}

/// Fails with one line naming the command to run when the checked-in layout is stale.
pub fn check() -> Result<()> {
    let text = generate(&Tree::source().root().join("wit"))?;
    if fs::read_to_string(output()).ok().as_deref() != Some(text.as_str()) {
        bail!("{OUTPUT} is out of date with wit/: run `{COMMAND}` and commit the result");
    }
    Ok(())
}

/// The world the SDK implements.
pub fn load(wit: &Path) -> Result<(Resolve, WorldId)> {
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve.push_dir(wit).with_context(|| format!("cannot read {}", wit.display()))?;
    let world = resolve.select_world(&[pkg], Some("script"))?;
    Ok((resolve, world))
}

/// `event-batch` → `EventBatch`.
pub fn pascal(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// `first-exec` → `FIRST_EXEC`.
pub fn constant(name: &str) -> String {
    name.replace('-', "_").to_uppercase()
}

fn int_type(int: Int) -> &'static str {
    match int {
        Int::U8 => "u8",
        Int::U16 => "u16",
        Int::U32 => "u32",
        Int::U64 => "u64",
    }
}

/// Follows `type a = b` aliases.
pub(crate) fn resolved<'a>(resolve: &'a Resolve, ty: &Type) -> Option<&'a TypeDefKind> {
    let mut ty = *ty;
    loop {
        match ty {
            Type::Id(id) => match &resolve.types[id].kind {
                TypeDefKind::Type(inner) => ty = *inner,
                kind => return Some(kind),
            },
            _ => return None,
        }
    }
}

/// Offset of the payload of an `option<T>`, relative to the option.
fn option_payload(sizes: &SizeAlign, t: &Type) -> usize {
    sizes.payload_offset(Int::U8, [None, Some(t)]).size_wasm32()
}

/// Offset of the payload of a `result<T, E>`, relative to the result.
fn result_payload(sizes: &SizeAlign, ok: Option<&Type>, err: Option<&Type>) -> usize {
    sizes.payload_offset(Int::U8, [ok, err]).size_wasm32()
}

struct Out {
    text: String,
    /// Names declared in the namespace being written: a WIT name must not collide with
    /// another or with SIZE_OF/ALIGN_OF.
    names: BTreeSet<String>,
}

impl Out {
    fn line(&mut self, s: impl AsRef<str>) {
        self.text.push_str(s.as_ref());
        self.text.push('\n');
    }
    fn docs(&mut self, indent: &str, docs: &wit_parser::Docs) {
        // The first paragraph of the WIT documentation, so the generated file reads on its own.
        let Some(contents) = &docs.contents else { return };
        let first: Vec<&str> = contents.lines().take_while(|l| !l.trim().is_empty()).collect();
        if first.is_empty() {
            return;
        }
        if first.len() == 1 {
            self.line(format!("{indent}/** {} */", first[0].trim()));
        } else {
            self.line(format!("{indent}/**"));
            for l in first {
                self.line(format!("{indent} * {}", l.trim()).trim_end());
            }
            self.line(format!("{indent} */"));
        }
    }
    fn open(&mut self, namespace: &str) {
        self.names.clear();
        self.line(format!("export namespace {namespace} {{"));
    }
    fn declare(&mut self, name: &str) {
        assert!(self.names.insert(name.to_owned()), "two constants named {name}: rename one in the generator");
    }
    fn usize(&mut self, name: &str, value: usize) {
        self.declare(name);
        self.line(format!("  export const {name}: usize = {value};"));
    }
    fn bool(&mut self, name: &str, value: bool) {
        self.declare(name);
        self.line(format!("  export const {name}: bool = {value};"));
    }
}

/// The text of `assembly/generated/layout.ts` for the `script` world of `wit`.
pub fn generate(wit: &Path) -> Result<String> {
    let (resolve, world) = load(wit)?;
    let mut sizes = SizeAlign::default();
    sizes.fill(&resolve);
    let w = &resolve.worlds[world];
    let pkg = &resolve.packages[w.package.context("the world has a package")?].name;

    let mut out = Out { text: String::new(), names: BTreeSet::new() };
    out.line(format!("// Generated by `{COMMAND}` from wit/ ({pkg}, world `{}`): do not edit.", w.name));
    out.line("//");
    out.line("// The canonical ABI's layout (wasm32) of every type and function of the world, computed by");
    out.line("// wit-parser's SizeAlign as wit-bindgen does. Offsets are in bytes from the start of the");
    out.line("// enclosing record (or return area); `<FIELD>_SOME` is where an option field's payload is;\n// SIZE_OF and ALIGN_OF are a type's size and alignment.");
    out.line("// The hand-written lifting and lowering in exports.ts and host.ts read these constants.");
    out.line("");
    out.line("// (Names are in comments, not string constants: AssemblyScript would put every string in");
    out.line("// the module's data. The tests check host.ts's imports and the transform's exports.)");
    out.line("");
    out.line("/** A string or list: (ptr: u32, len: u32). */");
    out.open("List");
    out.usize("SIZE_OF", sizes.size(&Type::String).size_wasm32());
    out.usize("ALIGN_OF", sizes.align(&Type::String).align_wasm32());
    out.usize("PTR", 0);
    out.usize("LEN", 4);
    out.line("}");

    // Imported interfaces: their types, then their functions.
    let mut interfaces: Vec<InterfaceId> = Vec::new();
    for item in w.imports.values() {
        if let WorldItem::Interface { id, .. } = item {
            interfaces.push(*id);
        }
    }
    for id in &interfaces {
        let iface = &resolve.interfaces[*id];
        let full = resolve.id_of(*id).context("a named interface")?;
        out.line("");
        out.line(format!("// --- interface {full} ---"));
        for (name, ty) in &iface.types {
            typedef(&mut out, &resolve, &sizes, name, *ty)?;
        }
        for func in iface.functions.values() {
            function(&mut out, &resolve, &sizes, func, AbiVariant::GuestImport, Some(&full))?;
        }
    }

    // The static return areas: one for exports (read by the host after the export returns),
    // one for imports (the host writes the result there).
    let mut areas = [(0usize, 1usize), (0usize, 1usize)];
    let imported = interfaces.iter().flat_map(|id| resolve.interfaces[*id].functions.values().map(|f| (1, f)));
    let exported = w.exports.values().filter_map(|item| match item {
        WorldItem::Function(f) => Some((0, f)),
        _ => None,
    });
    for (which, func) in imported.chain(exported) {
        let variant = if which == 0 { AbiVariant::GuestExport } else { AbiVariant::GuestImport };
        if let Some(result) = &func.result
            && resolve.wasm_signature(variant, func).retptr
        {
            let area = &mut areas[which];
            area.0 = area.0.max(sizes.size(result).size_wasm32());
            area.1 = area.1.max(sizes.align(result).align_wasm32());
        }
    }
    out.line("");
    out.line("/** The largest result an export returns through memory: its static area (memory.data takes i32). */");
    out.line(format!("export const EXPORT_RET_SIZE: i32 = {};", areas[0].0));
    out.line(format!("export const EXPORT_RET_ALIGN: i32 = {};", areas[0].1));
    out.line("/** The largest result an import returns through memory. */");
    out.line(format!("export const IMPORT_RET_SIZE: i32 = {};", areas[1].0));
    out.line(format!("export const IMPORT_RET_ALIGN: i32 = {};", areas[1].1));

    out.line("");
    out.line(format!("// --- exports of world {} ---", w.name));
    for item in w.exports.values() {
        match item {
            WorldItem::Function(func) => function(&mut out, &resolve, &sizes, func, AbiVariant::GuestExport, None)?,
            _ => bail!("the AssemblyScript SDK only knows exported functions"),
        }
    }
    Ok(out.text)
}

fn typedef(out: &mut Out, resolve: &Resolve, sizes: &SizeAlign, name: &str, id: TypeId) -> Result<()> {
    let def = &resolve.types[id];
    let ty = Type::Id(id);
    let ns = pascal(name);
    match &def.kind {
        TypeDefKind::Record(record) => {
            out.line("");
            out.docs("", &def.docs);
            out.open(&ns);
            out.usize("SIZE_OF", sizes.size(&ty).size_wasm32());
            out.usize("ALIGN_OF", sizes.align(&ty).align_wasm32());
            let offsets = sizes.field_offsets(record.fields.iter().map(|f| &f.ty));
            for (field, (offset, fty)) in record.fields.iter().zip(offsets) {
                let offset = offset.size_wasm32();
                out.usize(&constant(&field.name), offset);
                if let Some(TypeDefKind::Option(payload)) = resolved(resolve, fty) {
                    out.usize(&format!("{}_SOME", constant(&field.name)), offset + option_payload(sizes, payload));
                }
            }
            out.line("}");
        }
        TypeDefKind::Flags(flags) => {
            let repr = match flags.repr() {
                FlagsRepr::U8 => "u8",
                FlagsRepr::U16 => "u16",
                FlagsRepr::U32(1) => "u32",
                FlagsRepr::U32(_) => bail!("flags {name}: more than 32 flags need a list of words"),
            };
            out.line("");
            out.docs("", &def.docs);
            out.line(format!("export type {ns}Repr = {repr};"));
            out.open(&ns);
            out.usize("SIZE_OF", sizes.size(&ty).size_wasm32());
            for (i, flag) in flags.flags.iter().enumerate() {
                out.declare(&constant(&flag.name));
                out.line(format!("  export const {}: {ns}Repr = 1 << {i};", constant(&flag.name)));
            }
            out.line("}");
        }
        TypeDefKind::Enum(e) => {
            out.line("");
            out.docs("", &def.docs);
            let tag = int_type(e.tag());
            out.line(format!("export type {ns}Tag = {tag};"));
            out.open(&ns);
            out.usize("SIZE_OF", sizes.size(&ty).size_wasm32());
            for (i, case) in e.cases.iter().enumerate() {
                out.declare(&constant(&case.name));
                out.line(format!("  export const {}: {ns}Tag = {i};", constant(&case.name)));
            }
            out.line("}");
        }
        TypeDefKind::Variant(v) => {
            out.line("");
            out.docs("", &def.docs);
            let tag = int_type(v.tag());
            out.line(format!("export type {ns}Tag = {tag};"));
            out.open(&ns);
            out.usize("SIZE_OF", sizes.size(&ty).size_wasm32());
            out.usize("ALIGN_OF", sizes.align(&ty).align_wasm32());
            out.usize("PAYLOAD", sizes.payload_offset(v.tag(), v.cases.iter().map(|c| c.ty.as_ref())).size_wasm32());
            for (i, case) in v.cases.iter().enumerate() {
                out.declare(&constant(&case.name));
                out.line(format!("  export const {}: {ns}Tag = {i};", constant(&case.name)));
            }
            out.line("}");
        }
        // Aliases (`use`) and anonymous types need nothing of their own.
        TypeDefKind::Type(_) => {}
        other => bail!("type {name}: {} is not supported by the AssemblyScript generator", other.as_str()),
    }
    Ok(())
}

fn function(
    out: &mut Out,
    resolve: &Resolve,
    sizes: &SizeAlign,
    func: &Function,
    variant: AbiVariant,
    module: Option<&str>,
) -> Result<()> {
    let sig = resolve.wasm_signature(variant, func);
    out.line("");
    match module {
        Some(module) => out.line(format!("/** import \"{module}\" \"{}\" */", func.name)),
        None => out.line(format!("/** export \"{}\" */", func.name)),
    }
    out.open(&format!("{}Fn", pascal(&func.name)));
    // Core wasm parameters and results: what the AssemblyScript function's signature must be
    // (wit-component checks it when it makes the component).
    out.usize("CORE_PARAMS", sig.params.len());
    out.usize("CORE_RESULTS", sig.results.len());
    out.bool("PARAMS_INDIRECT", sig.indirect_params);
    out.bool("RESULT_INDIRECT", sig.retptr);
    if sig.indirect_params {
        let info = sizes.params(func.params.iter().map(|p| &p.ty));
        out.usize("PARAMS_SIZE", info.size.size_wasm32());
        out.usize("PARAMS_ALIGN", info.align.align_wasm32());
    }
    if let Some(result) = &func.result
        && sig.retptr
    {
        out.usize("RET_SIZE", sizes.size(result).size_wasm32());
        out.usize("RET_ALIGN", sizes.align(result).align_wasm32());
        match resolved(resolve, result) {
            Some(TypeDefKind::Option(t)) => out.usize("SOME", option_payload(sizes, t)),
            Some(TypeDefKind::Result(r)) => {
                let payload = result_payload(sizes, r.ok.as_ref(), r.err.as_ref());
                if r.ok.is_some() {
                    out.usize("OK", payload);
                }
                if r.err.is_some() {
                    out.usize("ERR", payload);
                }
            }
            _ => {}
        }
    }
    out.line("}");
    Ok(())
}

#[cfg(test)]
mod tests;
