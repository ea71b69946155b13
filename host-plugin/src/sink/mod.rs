//! Where results leave the plugin: report files in the out directory, and the forwarding
//! stream to a consumer (socket, file or stdout).

pub mod forward;
mod out_dir;

pub use out_dir::{OutDir, report_name_for_child};
