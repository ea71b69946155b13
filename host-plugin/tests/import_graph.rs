//! The shape of the plugin's source, checked from its `crate::` and `super::` paths: no two
//! files import each other, directly or around a circle, and no stage of the data path
//! (capture → buffer → batch → script → sink) imports a stage before it. docs/architecture.md
//! draws this graph; this test keeps the drawing true.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The data path's stages, in order.
const STAGES: &[&str] = &["capture", "buffer", "batch", "script", "sink"];

type Module = Vec<String>;

/// Every source file of `src` by module path (`services/modules.rs` → ["services", "modules"];
/// `buffer/mod.rs` → ["buffer"]).
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src).unwrap().with_extension("");
                let mut module: Module = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
                if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                    module.pop();
                }
                out.insert(module, path);
            }
        }
    }
    out
}

/// The source without tests and comments.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap();
    text.lines().map(|l| l.split("//").next().unwrap()).collect::<Vec<_>>().join("\n")
}

/// The paths a file names: `crate::a::b`, `super::c`, and the items of `crate::a::{b, c::d}`.
fn named_paths(code: &str, module: &Module) -> Vec<Module> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::"] {
        let mut at = 0;
        while let Some(found) = code[at..].find(start) {
            let begin = at + found;
            at = begin + start.len();
            if begin > 0 && (bytes[begin - 1].is_ascii_alphanumeric() || bytes[begin - 1] == b'_') {
                continue;
            }
            let rest = &code[at..];
            let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
            let segments: Module = rest[..end].split("::").filter(|s| !s.is_empty()).map(str::to_owned).collect();
            let mut base: Module = if start == "crate::" {
                Vec::new()
            } else {
                // `super` of a/b.rs is a; of a/b/mod.rs also a.
                let mut parent = module.clone();
                parent.pop();
                parent
            };
            base.extend(segments);
            if rest[end..].starts_with('{') {
                let group = &rest[end + 1..rest[end..].find('}').map_or(rest.len(), |i| end + i)];
                for item in group.split(',') {
                    let item = item.trim().split(" as ").next().unwrap().trim();
                    if !item.is_empty() && item != "self" {
                        let mut path = base.clone();
                        path.extend(item.split("::").map(str::to_owned));
                        out.push(path);
                    }
                }
            }
            out.push(base);
        }
    }
    out
}

/// The file a path lands in: its longest prefix that is a module.
fn resolve<'m>(files: &'m BTreeMap<Module, PathBuf>, path: &[String]) -> Option<&'m Module> {
    (1..=path.len()).rev().find_map(|n| files.get_key_value(&path[..n]).map(|(k, _)| k))
}

fn graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let files = modules(src);
    let mut edges = BTreeMap::new();
    for (module, path) in &files {
        let mut targets = BTreeSet::new();
        for named in named_paths(&code(path), module) {
            if let Some(target) = resolve(&files, &named)
                // A file naming its own module or an ancestor (a parent's re-export) is no edge.
                && !(target.len() <= module.len() && module[..target.len()] == target[..])
            {
                targets.insert(target.clone());
            }
        }
        edges.insert(module.clone(), targets);
    }
    edges
}

/// The strongly connected components with more than one file (Tarjan).
fn circles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, (usize, usize)>,
        stack: Vec<&'a Module>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
        s.index.insert(v, (s.next, s.next));
        s.next += 1;
        s.stack.push(v);
        for w in s.edges.get(v).into_iter().flatten() {
            match s.index.get(w).copied() {
                None => {
                    visit(s, w);
                    let low = s.index[w].1.min(s.index[v].1);
                    s.index.get_mut(v).unwrap().1 = low;
                }
                Some((w_index, _)) if s.stack.contains(&w) => {
                    let low = w_index.min(s.index[v].1);
                    s.index.get_mut(v).unwrap().1 = low;
                }
                Some(_) => {}
            }
        }
        if s.index[v].0 == s.index[v].1 {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                component.push(w.join("/"));
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.out.push(component);
            }
        }
    }
    let mut s = State { edges, index: BTreeMap::new(), stack: Vec::new(), next: 0, out: Vec::new() };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_files_import_each_other() {
    let found = circles(&graph(&src()));
    assert!(found.is_empty(), "files that import each other (around a circle): {found:?}");
}

#[test]
fn no_stage_imports_one_before_it() {
    let stage = |m: &Module| STAGES.iter().position(|s| m.first().is_some_and(|f| f == s));
    let mut against = Vec::new();
    for (from, targets) in graph(&src()) {
        for to in targets {
            if let (Some(a), Some(b)) = (stage(&from), stage(&to))
                && b < a
            {
                against.push(format!("{} -> {}", from.join("/"), to.join("/")));
            }
        }
    }
    assert!(against.is_empty(), "imports against the data path: {against:?}");
}

#[test]
fn the_reader_sees_a_circle_and_a_backward_import() {
    // The checks above are only as good as the reading: a made-up tree with both faults.
    let dir = std::env::temp_dir().join(format!("cannonball-import-graph-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (file, text) in [
        ("lib.rs", "mod a; mod batch; mod capture;"),
        ("a/mod.rs", "mod x; mod y;"),
        ("a/x.rs", "use super::y::Thing;"),
        ("a/y.rs", "use crate::a::{x::Other, self};"),
        ("capture/mod.rs", "fn f() { crate::batch::go() }"),
        ("batch/mod.rs", "use crate::capture;\npub fn go() {}"),
    ] {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let edges = graph(&dir);
    let found = circles(&edges);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(found.iter().any(|c| c.contains(&"a/x".to_owned()) && c.contains(&"a/y".to_owned())), "{found:?}");
    assert!(edges[&vec!["batch".to_owned()]].contains(&vec!["capture".to_owned()]), "{edges:?}");
}
