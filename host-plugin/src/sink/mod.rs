//! Where results leave the plugin: report files in the out directory (the script's, and
//! coverage.blocks), and the forwarding stream to a consumer (socket, file or stdout).

pub mod coverage;
pub mod forward;
mod out_dir;

pub use out_dir::{OutDir, report_name_for_child};
