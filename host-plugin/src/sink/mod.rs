//! Where results leave the plugin: report files in the out directory.

mod out_dir;

pub use out_dir::OutDir;
