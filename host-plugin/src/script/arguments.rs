//! Script arguments checked against what the script declares in `describe`, before the guest
//! runs: unknown keys, values of the wrong type and missing required arguments are errors.

use anyhow::{Result, bail};

use crate::events::bindings::exports::{Argument, ArgumentType, ScriptInfo};

/// The arguments `init` receives: every declared key that was given or has a default.
/// Booleans are normalised to `true`/`false`.
/// A `key=value` the host does not own: it belongs to the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptArg {
    pub key: String,
    pub value: String,
}

pub fn validate(info: &ScriptInfo, given: &[ScriptArg]) -> Result<Vec<Argument>> {
    for arg in given {
        if !info.arguments.iter().any(|spec| spec.key == arg.key) {
            let known: Vec<_> = info.arguments.iter().map(|s| s.key.as_str()).collect();
            bail!(
                "unknown argument '{}' for script {} (it accepts: {}; help=true describes them)",
                arg.key,
                info.name,
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            );
        }
    }
    let mut out = Vec::new();
    for spec in &info.arguments {
        let value = match given.iter().find(|a| a.key == spec.key) {
            Some(a) => a.value.clone(),
            None => match (&spec.default, spec.required) {
                (Some(d), _) => d.clone(),
                (None, true) => {
                    bail!("script {} needs the argument {}=<{}>", info.name, spec.key, type_name(spec.kind))
                }
                (None, false) => continue,
            },
        };
        let value = check(spec.kind, &value).ok_or_else(|| {
            anyhow::anyhow!(
                "invalid value '{value}' for argument '{}' of script {}: expected {}",
                spec.key,
                info.name,
                type_name(spec.kind)
            )
        })?;
        out.push(Argument { key: spec.key.clone(), value });
    }
    Ok(out)
}

fn type_name(kind: ArgumentType) -> &'static str {
    match kind {
        ArgumentType::Text => "text",
        ArgumentType::Integer => "an integer",
        ArgumentType::Boolean => "a boolean (true/false)",
        ArgumentType::Address => "an address (0x...)",
    }
}

/// The normalised value, or None if it does not parse as `kind`.
fn check(kind: ArgumentType, value: &str) -> Option<String> {
    match kind {
        ArgumentType::Text => Some(value.to_owned()),
        ArgumentType::Integer => parse_int(value).map(|_| value.to_owned()),
        ArgumentType::Address => parse_int(value).filter(|v| *v >= 0).map(|_| value.to_owned()),
        ArgumentType::Boolean => match value.to_ascii_lowercase().as_str() {
            "true" | "on" | "yes" | "1" => Some("true".into()),
            "false" | "off" | "no" | "0" => Some("false".into()),
            _ => None,
        },
    }
}

fn parse_int(value: &str) -> Option<i128> {
    let (neg, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let v = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        Some(hex) => i128::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<i128>().ok()?,
    };
    let v = if neg { -v } else { v };
    (i64::MIN as i128..=u64::MAX as i128).contains(&v).then_some(v)
}

/// The script's part of `help=true`.
pub fn help_section(info: &ScriptInfo) -> String {
    let mut text = format!("\nScript {} {}: {}\n", info.name, info.version, info.description);
    if info.arguments.is_empty() {
        text.push_str("  (no arguments)\n");
        return text;
    }
    let rows: Vec<_> = info
        .arguments
        .iter()
        .map(|s| {
            let mut help = s.help.clone();
            if let Some(d) = &s.default {
                help.push_str(&format!(" [default: {d}]"));
            } else if s.required {
                help.push_str(" [required]");
            }
            (format!("{}=<{}>", s.key, short_type(s.kind)), help)
        })
        .collect();
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, h) in rows {
        text.push_str(&format!("  {k:<width$}  {h}\n"));
    }
    text
}

fn short_type(kind: ArgumentType) -> &'static str {
    match kind {
        ArgumentType::Text => "text",
        ArgumentType::Integer => "int",
        ArgumentType::Boolean => "bool",
        ArgumentType::Address => "addr",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::bindings::cannonball::script::types::ArgumentSpec;

    fn info() -> ScriptInfo {
        let spec = |key: &str, kind, default: Option<&str>, required| ArgumentSpec {
            key: key.into(),
            kind,
            default: default.map(Into::into),
            required,
            help: format!("the {key}"),
        };
        ScriptInfo {
            name: "t".into(),
            version: "1.0".into(),
            description: "test".into(),
            arguments: vec![
                spec("top", ArgumentType::Integer, Some("10"), false),
                spec("verbose", ArgumentType::Boolean, Some("false"), false),
                spec("start", ArgumentType::Address, None, false),
                spec("module", ArgumentType::Text, None, true),
            ],
        }
    }

    fn given(pairs: &[(&str, &str)]) -> Vec<ScriptArg> {
        pairs.iter().map(|(k, v)| ScriptArg { key: k.to_string(), value: v.to_string() }).collect()
    }

    #[test]
    fn fills_defaults_and_normalises() {
        let args = validate(&info(), &given(&[("module", "libc.so.6"), ("verbose", "on")])).unwrap();
        let pairs: Vec<_> = args.iter().map(|a| (a.key.as_str(), a.value.as_str())).collect();
        assert_eq!(pairs, [("top", "10"), ("verbose", "true"), ("module", "libc.so.6")]);
    }

    #[test]
    fn rejects_bad_input_in_one_line() {
        for (bad, expect) in [
            (given(&[("module", "x"), ("tpo", "3")]), "unknown argument 'tpo'"),
            (given(&[("module", "x"), ("top", "ten")]), "expected an integer"),
            (given(&[("module", "x"), ("start", "-0x10")]), "expected an address"),
            (given(&[("module", "x"), ("verbose", "maybe")]), "expected a boolean"),
            (given(&[]), "needs the argument module="),
        ] {
            let err = validate(&info(), &bad).unwrap_err().to_string();
            assert!(err.contains(expect) && !err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn help_lists_every_argument() {
        let text = help_section(&info());
        for key in ["top=<int>", "verbose=<bool>", "start=<addr>", "module=<text>", "[required]", "[default: 10]"] {
            assert!(text.contains(key), "{key} missing:\n{text}");
        }
    }
}
