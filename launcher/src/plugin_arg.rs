//! The value of QEMU's `-plugin` option.

use std::path::Path;

use anyhow::{Result, bail};

/// QEMU's `-plugin` value: the plugin library's path, then each `key=value` option, joined
/// with commas: `lib.so,script=x.wasm,out=dir`.
///
/// QEMU splits the value at commas, so an option containing one would arrive as two options
/// (or as a different, valid one): it is refused here with an error naming it, rather than
/// passed on to fail, or worse not fail, inside QEMU.
pub fn plugin_arg<I, S>(lib: &Path, options: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut arg = lib.display().to_string();
    for option in options {
        let option = option.as_ref();
        if option.contains(',') {
            bail!("plugin option '{option}' contains a comma, which QEMU's -plugin syntax cannot carry");
        }
        arg.push(',');
        arg.push_str(option);
    }
    Ok(arg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_the_library_and_its_options() {
        let lib = Path::new("/t/libcannonball.so");
        assert_eq!(plugin_arg(lib, ["script=a.wasm", "out=o"]).unwrap(), "/t/libcannonball.so,script=a.wasm,out=o");
        assert_eq!(plugin_arg(lib, Vec::<String>::new()).unwrap(), "/t/libcannonball.so");
    }

    #[test]
    fn refuses_an_option_qemu_would_split() {
        let err = plugin_arg(Path::new("lib.so"), ["script=/a,b/x.wasm"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "plugin option 'script=/a,b/x.wasm' contains a comma, which QEMU's -plugin syntax cannot carry"
        );
    }
}
