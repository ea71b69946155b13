//! The AssemblyScript SDK's layout against wit/ and against wit-bindgen.
//!
//! `layout_matches_wit_bindgen` reads the CHECKED-IN generated/layout.ts (not a fresh
//! generation) and compares every constant with the loads wit-bindgen's lifting code performs:
//! it runs wit-bindgen-core's `abi` generator — the engine whose instruction stream
//! wit-bindgen-rust (and wit-bindgen-c) print as `*ptr.add(OFFSET).cast::<T>()` — with a
//! recording `Bindgen` over every record, variant and function result of the world, and derives
//! field offsets, option/result/variant payload offsets, discriminant and flag widths, and
//! record sizes and alignments from the recorded loads (wasm32). A wrong offset in the file,
//! a stale file or a generator bug fails it.

use std::collections::BTreeMap;
use std::fs;

use wit_bindgen_core::abi::{self, Bindgen, Instruction};
use wit_bindgen_core::wit_parser::{Alignment, ArchitectureSize, Resolve, SizeAlign, Type, TypeDefKind, WorldItem};

use super::{OUTPUT, constant, pascal};
use cannonball_launcher::Tree;

/// A value as wit-bindgen's lifting code builds it, with the memory loads it came from.
#[derive(Clone, Debug)]
enum Sym {
    Addr,
    /// A load at `offset` (wasm32) from the enclosing base, `width` bytes.
    Load {
        offset: usize,
        width: usize,
    },
    Record(Vec<Sym>),
    /// A discriminant and, per case, the payload read by that case's block.
    Cases {
        tag: Box<Sym>,
        payloads: Vec<Option<Sym>>,
    },
    Flags(Vec<Sym>),
    /// A string or list: pointer and length loads (the elements live elsewhere).
    List(Box<Sym>, Box<Sym>),
    Other,
}

impl Sym {
    /// Every load of this value, outside list elements: (offset, width).
    fn loads(&self, out: &mut Vec<(usize, usize)>) {
        match self {
            Sym::Load { offset, width } => out.push((*offset, *width)),
            Sym::Record(fields) | Sym::Flags(fields) => fields.iter().for_each(|f| f.loads(out)),
            Sym::Cases { tag, payloads } => {
                tag.loads(out);
                payloads.iter().flatten().for_each(|p| p.loads(out));
            }
            Sym::List(ptr, len) => {
                ptr.loads(out);
                len.loads(out);
            }
            Sym::Addr | Sym::Other => {}
        }
    }
    fn first(&self) -> usize {
        let mut loads = Vec::new();
        self.loads(&mut loads);
        loads.iter().map(|l| l.0).min().expect("a value in memory is loaded")
    }
    /// One past the last byte read.
    fn end(&self) -> usize {
        let mut loads = Vec::new();
        self.loads(&mut loads);
        loads.iter().map(|l| l.0 + l.1).max().expect("a value in memory is loaded")
    }
    /// The widest load: the canonical ABI's alignment of a value is its widest scalar's.
    fn align(&self) -> usize {
        let mut loads = Vec::new();
        self.loads(&mut loads);
        loads.iter().map(|l| l.1).max().unwrap_or(1)
    }
}

struct Recorder {
    sizes: SizeAlign,
    blocks: Vec<Vec<Sym>>,
}

impl Bindgen for Recorder {
    type Operand = Sym;

    fn emit(&mut self, _: &Resolve, inst: &Instruction<'_>, operands: &mut Vec<Sym>, results: &mut Vec<Sym>) {
        use Instruction::*;
        let load = |offset: &ArchitectureSize, width: usize| Sym::Load { offset: offset.size_wasm32(), width };
        let result = match inst {
            I32Load { offset } | F32Load { offset } => load(offset, 4),
            PointerLoad { offset } | LengthLoad { offset } => load(offset, 4),
            I32Load8U { offset } | I32Load8S { offset } => load(offset, 1),
            I32Load16U { offset } | I32Load16S { offset } => load(offset, 2),
            I64Load { offset } | F64Load { offset } => load(offset, 8),
            StringLift | ListCanonLift { .. } => {
                Sym::List(Box::new(operands[0].clone()), Box::new(operands[1].clone()))
            }
            ListLift { .. } => {
                self.blocks.pop().expect("the element block");
                Sym::List(Box::new(operands[0].clone()), Box::new(operands[1].clone()))
            }
            RecordLift { .. } | TupleLift { .. } => Sym::Record(operands.clone()),
            FlagsLift { .. } => Sym::Flags(operands.clone()),
            EnumLift { .. } => operands[0].clone(),
            OptionLift { .. } | ResultLift { .. } | VariantLift { .. } => {
                let n = match inst {
                    VariantLift { variant, .. } => variant.cases.len(),
                    _ => 2,
                };
                let blocks = self.blocks.split_off(self.blocks.len() - n);
                let payloads = blocks.into_iter().map(|mut b| b.pop()).collect();
                Sym::Cases { tag: Box::new(operands[0].clone()), payloads }
            }
            IterBasePointer => Sym::Addr,
            // Conversions (bool from i32, u32 from i32, ...) keep the load they convert.
            _ if inst.operands_len() == 1 && inst.results_len() == 1 => operands[0].clone(),
            _ => {
                results.extend((0..inst.results_len()).map(|_| Sym::Other));
                return;
            }
        };
        results.push(result);
    }

    fn return_pointer(&mut self, _: ArchitectureSize, _: Alignment) -> Sym {
        Sym::Addr
    }
    fn push_block(&mut self) {}
    fn finish_block(&mut self, operands: &mut Vec<Sym>) {
        self.blocks.push(std::mem::take(operands));
    }
    fn sizes(&self) -> &SizeAlign {
        &self.sizes
    }
    fn is_list_canonical(&self, _: &Resolve, element: &Type) -> bool {
        !matches!(element, Type::String | Type::Id(_))
    }
}

fn lift(resolve: &Resolve, ty: &Type) -> Sym {
    let mut sizes = SizeAlign::default();
    sizes.fill(resolve);
    let mut recorder = Recorder { sizes, blocks: Vec::new() };
    abi::lift_from_memory(resolve, &mut recorder, Sym::Addr, ty)
}

/// The constants of the checked-in layout.ts: `Namespace.NAME` → value, and type aliases.
struct Layout {
    consts: BTreeMap<String, u64>,
    types: BTreeMap<String, String>,
}

impl Layout {
    fn read() -> Layout {
        let text = fs::read_to_string(Tree::source().root().join(OUTPUT)).expect("the generated layout is checked in");
        let mut consts = BTreeMap::new();
        let mut types = BTreeMap::new();
        let mut namespace = String::new();
        for line in text.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("export namespace ") {
                namespace = rest.trim_end_matches(" {").to_owned();
            } else if line == "}" {
                namespace.clear();
            } else if let Some(rest) = line.strip_prefix("export type ") {
                let (name, ty) = rest.trim_end_matches(';').split_once(" = ").unwrap();
                types.insert(name.to_owned(), ty.to_owned());
            } else if let Some(rest) = line.strip_prefix("export const ") {
                let (name, value) = rest.trim_end_matches(';').split_once(" = ").unwrap();
                let name = name.split(':').next().unwrap().trim();
                let value = match value.split_once(" << ") {
                    Some((a, b)) => a.parse::<u64>().unwrap() << b.parse::<u64>().unwrap(),
                    None => match value {
                        "true" => 1,
                        "false" => 0,
                        v => v.parse().unwrap_or_else(|_| panic!("{name} = {v}")),
                    },
                };
                let key = if namespace.is_empty() { name.to_owned() } else { format!("{namespace}.{name}") };
                consts.insert(key, value);
            }
        }
        Layout { consts, types }
    }

    fn get(&self, key: &str) -> usize {
        *self.consts.get(key).unwrap_or_else(|| panic!("{OUTPUT} has no {key}: run `cargo xtask gen-as`")) as usize
    }
}

fn width(repr: &str) -> usize {
    match repr {
        "u8" => 1,
        "u16" => 2,
        "u32" => 4,
        other => panic!("unexpected representation {other}"),
    }
}

fn world() -> (Resolve, wit_bindgen_core::wit_parser::WorldId) {
    let wit = Tree::source().root().join("wit");
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve.push_dir(&wit).unwrap();
    let world = resolve.select_world(&[pkg], Some("script")).unwrap();
    (resolve, world)
}

#[test]
fn checked_in_layout_is_up_to_date() {
    let fresh = super::generate(&Tree::source().root().join("wit")).unwrap();
    let checked_in = fs::read_to_string(Tree::source().root().join(OUTPUT)).unwrap_or_default();
    assert!(fresh == checked_in, "{OUTPUT} is out of date with wit/: run `cargo xtask gen-as`");
}

#[test]
fn layout_matches_wit_bindgen() {
    let (resolve, world) = world();
    let layout = Layout::read();
    let mut checked = 0;
    let w = &resolve.worlds[world];
    let mut functions = Vec::new();
    for item in w.imports.values().chain(w.exports.values()) {
        match item {
            WorldItem::Interface { id, .. } => {
                let iface = &resolve.interfaces[*id];
                for (name, id) in &iface.types {
                    let def = &resolve.types[*id];
                    let ns = pascal(name);
                    let sym = lift(&resolve, &Type::Id(*id));
                    match (&def.kind, &sym) {
                        (TypeDefKind::Record(record), Sym::Record(fields)) => {
                            assert_eq!(fields.len(), record.fields.len());
                            for (field, s) in record.fields.iter().zip(fields) {
                                let key = format!("{ns}.{}", constant(&field.name));
                                assert_eq!(layout.get(&key), s.first(), "{key}");
                                if let Sym::Cases { payloads, tag } = s
                                    && let Some(TypeDefKind::Option(_)) = super::resolved(&resolve, &field.ty)
                                {
                                    assert_eq!(layout.get(&key), tag.first(), "{key} (tag)");
                                    let some = payloads[1].as_ref().expect("some has a payload");
                                    assert_eq!(layout.get(&format!("{key}_SOME")), some.first(), "{key}_SOME");
                                }
                                checked += 1;
                            }
                            let align = sym.align();
                            let size = sym.end().div_ceil(align) * align;
                            assert_eq!(layout.get(&format!("{ns}.ALIGN_OF")), align, "{ns}.ALIGN_OF");
                            assert_eq!(layout.get(&format!("{ns}.SIZE_OF")), size, "{ns}.SIZE_OF");
                            // cabi_realloc hands out TLSF blocks, 16-byte aligned.
                            assert!(align <= 16);
                        }
                        (TypeDefKind::Flags(flags), Sym::Flags(words)) => {
                            assert_eq!(words.len(), 1, "{ns}: one word of flags");
                            let w = words[0].end();
                            assert_eq!(width(&layout.types[&format!("{ns}Repr")]), w, "{ns}Repr");
                            assert_eq!(layout.get(&format!("{ns}.SIZE_OF")), w, "{ns}.SIZE_OF");
                            for (i, flag) in flags.flags.iter().enumerate() {
                                assert_eq!(layout.get(&format!("{ns}.{}", constant(&flag.name))), 1 << i);
                            }
                            checked += 1;
                        }
                        (TypeDefKind::Enum(e), Sym::Load { width: w, .. }) => {
                            assert_eq!(width(&layout.types[&format!("{ns}Tag")]), *w, "{ns}Tag");
                            assert_eq!(layout.get(&format!("{ns}.SIZE_OF")), *w, "{ns}.SIZE_OF");
                            for (i, case) in e.cases.iter().enumerate() {
                                assert_eq!(layout.get(&format!("{ns}.{}", constant(&case.name))), i);
                            }
                            checked += 1;
                        }
                        (TypeDefKind::Variant(v), Sym::Cases { tag, payloads }) => {
                            let Sym::Load { width: w, .. } = **tag else { panic!("{ns}: tag") };
                            assert_eq!(width(&layout.types[&format!("{ns}Tag")]), w, "{ns}Tag");
                            for (i, case) in v.cases.iter().enumerate() {
                                assert_eq!(layout.get(&format!("{ns}.{}", constant(&case.name))), i);
                            }
                            for p in payloads.iter().flatten() {
                                assert_eq!(layout.get(&format!("{ns}.PAYLOAD")), p.first(), "{ns}.PAYLOAD");
                            }
                            let align = sym.align();
                            assert_eq!(layout.get(&format!("{ns}.ALIGN_OF")), align, "{ns}.ALIGN_OF");
                            assert_eq!(layout.get(&format!("{ns}.SIZE_OF")), sym.end().div_ceil(align) * align);
                            checked += 1;
                        }
                        (TypeDefKind::Type(_), _) => {}
                        (kind, sym) => panic!("{ns}: {} lifted as {sym:?}", kind.as_str()),
                    }
                }
                functions.extend(iface.functions.values().map(|f| (f, abi::AbiVariant::GuestImport)));
            }
            WorldItem::Function(f) => functions.push((f, abi::AbiVariant::GuestExport)),
            WorldItem::Type { .. } => {}
        }
    }

    // Results returned through memory: where the payloads of option/result are.
    for (func, variant) in functions {
        let ns = format!("{}Fn", pascal(&func.name));
        let sig = resolve.wasm_signature(variant, func);
        assert_eq!(layout.get(&format!("{ns}.PARAMS_INDIRECT")) == 1, sig.indirect_params, "{ns}");
        assert_eq!(layout.get(&format!("{ns}.RESULT_INDIRECT")) == 1, sig.retptr, "{ns}");
        assert_eq!(layout.get(&format!("{ns}.CORE_PARAMS")), sig.params.len(), "{ns}");
        let Some(result) = &func.result else { continue };
        if !sig.retptr {
            continue;
        }
        let sym = lift(&resolve, result);
        let align = sym.align();
        assert_eq!(layout.get(&format!("{ns}.RET_ALIGN")), align, "{ns}.RET_ALIGN");
        assert_eq!(layout.get(&format!("{ns}.RET_SIZE")), sym.end().div_ceil(align) * align, "{ns}.RET_SIZE");
        let area = if variant == abi::AbiVariant::GuestExport { "EXPORT" } else { "IMPORT" };
        assert!(layout.get(&format!("{area}_RET_SIZE")) >= sym.end().div_ceil(align) * align, "{area}_RET_SIZE");
        assert!(layout.get(&format!("{area}_RET_ALIGN")) >= align, "{area}_RET_ALIGN");
        match (super::resolved(&resolve, result), &sym) {
            (Some(TypeDefKind::Option(_)), Sym::Cases { payloads, .. }) => {
                assert_eq!(layout.get(&format!("{ns}.SOME")), payloads[1].as_ref().unwrap().first(), "{ns}.SOME");
            }
            (Some(TypeDefKind::Result(_)), Sym::Cases { payloads, .. }) => {
                for (case, p) in ["OK", "ERR"].iter().zip(payloads) {
                    if let Some(p) = p {
                        assert_eq!(layout.get(&format!("{ns}.{case}")), p.first(), "{ns}.{case}");
                    }
                }
            }
            _ => {}
        }
        checked += 1;
    }
    assert!(checked > 50, "only {checked} facts checked");
}

/// The import names host.ts declares and the export names the transform gives are the world's.
#[test]
fn sdk_names_match_the_world() {
    let (resolve, world) = world();
    let w = &resolve.worlds[world];
    let sdk = Tree::source().root().join("guest-sdk/assemblyscript");

    let mut wanted = Vec::new();
    for item in w.imports.values() {
        if let WorldItem::Interface { id, .. } = item {
            let module = resolve.id_of(*id).unwrap();
            for f in resolve.interfaces[*id].functions.values() {
                if resolve.interfaces[*id].name.as_deref() == Some("host") {
                    wanted.push(format!("{module} {}", f.name));
                }
            }
        }
    }
    // The host services (host.ts) and the probes (probes.ts) declare the imports.
    let host = ["assembly/host.ts", "assembly/probes.ts"].map(|f| fs::read_to_string(sdk.join(f)).unwrap()).join("\n");
    let mut declared: Vec<String> = host
        .lines()
        .filter_map(|l| l.trim().strip_prefix("@external(\""))
        .map(|rest| {
            let parts: Vec<&str> = rest.split('"').collect();
            format!("{} {}", parts[0], parts[2])
        })
        .collect();
    wanted.sort();
    declared.sort();
    assert_eq!(declared, wanted, "host.ts's and probes.ts's @external imports against the world's host interface");

    let transform = fs::read_to_string(sdk.join("transform/exports.js")).unwrap();
    let block = transform.split("const RENAMES = {").nth(1).unwrap().split("};").next().unwrap();
    let mut renamed: Vec<String> = block
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().trim_end_matches(',').trim_matches('"').to_owned())
        .filter(|n| n != "cabi_realloc")
        .collect();
    let mut exports: Vec<String> = w
        .exports
        .values()
        .filter_map(|item| match item {
            WorldItem::Function(f) => Some(f.name.clone()),
            _ => None,
        })
        .collect();
    renamed.sort();
    exports.sort();
    assert_eq!(renamed, exports, "transform/exports.js RENAMES against the world's exports");
}
