//! The types of the generated system call table (`syscall_table.rs`): what an argument points
//! to, and one target's calls. Apart from the lookups (`syscall_data.rs`) so that the
//! generated table and the code reading it do not import each other.

/// What one argument of a system call points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A NUL-terminated string (a path, a name), read at entry.
    Path(u8),
    /// A NULL-terminated array of strings (execve's argv), read at entry.
    Argv(u8),
    /// A buffer the call reads, `len` being the argument with its length; read at entry.
    InBuffer { arg: u8, len: u8 },
    /// A buffer the call fills; the return value is its length. Read at return.
    OutBuffer(u8),
    /// Like `OutBuffer` but a path (readlink, getcwd): captured like `Path`, up to a NUL.
    OutPath(u8),
}

/// One QEMU target's system calls (generated in `syscall_table.rs`, one per target).
pub struct Arch {
    /// QEMU's target name, as `qemu_info_t.target_name` gives it.
    pub arch: &'static str,
    /// Width of a guest pointer.
    pub bits: u32,
    /// Byte order of guest memory (mips).
    pub big_endian: bool,
    /// execve and execveat (see `plugin::before_exec`).
    pub execve: [i64; 2],
    /// (number, the arguments with data), ascending by number.
    pub data: &'static [(i64, &'static [Arg])],
}
