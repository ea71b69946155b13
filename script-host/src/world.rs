//! Which interface a component was built for, read from its type.

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

/// The interface this host speaks.
pub const OURS: &str = "cannonball:script@0.3.1";
/// The earlier interfaces, still loaded (the plugin converts, `host-plugin/src/script/compat/`).
pub const ALSO: &str = "0.3.0, 0.2.x and 0.1.0";

/// `cannonball:script@X.Y.Z` of the component's imports (or exports), if it names the package.
pub fn interface(component: &Component, engine: &Engine) -> Option<String> {
    let ty = component.component_type();
    let names: Vec<String> =
        ty.imports(engine).map(|(n, _)| n.to_string()).chain(ty.exports(engine).map(|(n, _)| n.to_string())).collect();
    names.iter().find_map(|n| {
        n.strip_prefix("cannonball:script/")?.split_once('@').map(|(_, v)| format!("cannonball:script@{v}"))
    })
}

/// What a component imports: the functions of our `host` interface, and every other import
/// (WASI's) by name.
pub fn imports(component: &Component, engine: &Engine) -> (Vec<String>, Vec<String>) {
    let mut services = Vec::new();
    let mut others = Vec::new();
    for (name, item) in component.component_type().imports(engine) {
        if name.starts_with("cannonball:script/") {
            // The `types` interface only carries type definitions; `host` has the functions.
            if let ComponentItem::ComponentInstance(instance) = item.ty {
                services.extend(
                    instance
                        .exports(engine)
                        .filter(|(_, e)| matches!(e.ty, ComponentItem::ComponentFunc(_)))
                        .map(|(f, _)| f.to_string()),
                );
            }
        } else {
            others.push(name.to_string());
        }
    }
    (services, others)
}

/// The export of ours whose name starts with `prefix` (`cannonball:script/merge@`: any
/// version), if the component has one.
pub fn export_named(component: &Component, engine: &Engine, prefix: &str) -> Option<String> {
    component.component_type().exports(engine).map(|(n, _)| n.to_string()).find(|n| n.starts_with(prefix))
}

/// Why a component does not link: another interface version, or another world altogether
/// (the end of a one-line error: "script X {this}").
pub fn mismatch(component: &Component, engine: &Engine) -> String {
    let ty = component.component_type();
    let names: Vec<String> =
        ty.imports(engine).map(|(n, _)| n.to_string()).chain(ty.exports(engine).map(|(n, _)| n.to_string())).collect();
    if let Some(other) = names.iter().find_map(|n| n.strip_prefix("cannonball:script/"))
        && let Some((_, version)) = other.split_once('@')
            // 0.3.x before ours link (wasmtime's linker is semver-aware), and so do 0.2.x and
            // 0.1.0 through the compatibility layer.
            && !version.starts_with("0.3.")
            && !version.starts_with("0.2.")
            && version != "0.1.0"
    {
        return format!(
            "was built for cannonball:script@{version}; this host speaks {OURS} (and {ALSO}): rebuild it with this SDK"
        );
    }
    if !names.iter().any(|n| n == "describe") {
        let shown: Vec<&str> = names.iter().map(String::as_str).take(4).collect();
        return format!(
            "is a component of another world (it has {}), not a {OURS} script",
            if shown.is_empty() { "no imports or exports".into() } else { shown.join(", ") }
        );
    }
    format!("does not fit the {OURS} world")
}
