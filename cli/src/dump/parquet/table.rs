//! One table of one stream: rows are appended column by column into buffers; every full row
//! group goes to the table's files. Memory stays bounded by a few row groups per table, so a
//! long run streams to disk.
//!
//! Encoding a row group (delta bit-packing, compression) costs several times what filling
//! it does, so a table that fills its first row group hands its files to a writer thread:
//! the dump's thread goes on decoding frames and filling the next group while the previous
//! one is encoded. A bounded channel (two groups in flight) keeps memory bounded and slows
//! the stream (and through the socket, QEMU) when the disk or the encoder falls behind.
//! Small tables (blocks, threads, the process row) never fill a group: they are written
//! at the end on the dump's own thread, and cost no thread.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use anyhow::{Result, anyhow};

use super::columns::{Column, TableDef};
use super::files::{Files, Layout, Written};

pub struct Table {
    def: &'static TableDef,
    row_group: usize,
    pub columns: Vec<Column>,
    /// Rows buffered (every column has this many rows).
    rows: usize,
    writer: Writer,
    /// Emptied groups back from the writer thread, to refill without allocating.
    spare: Vec<Vec<Column>>,
}

enum Writer {
    /// Not needed yet (or never: small tables).
    Inline(Box<Files>),
    Thread {
        groups: SyncSender<(Vec<Column>, usize)>,
        emptied: Receiver<Vec<Column>>,
        thread: JoinHandle<Result<Written>>,
    },
    Done,
}

impl Table {
    /// A table whose files go to `dir` (created with the first file).
    pub fn new(def: &'static TableDef, dir: PathBuf, layout: Layout) -> Result<Self> {
        Ok(Self {
            def,
            row_group: layout.row_group,
            columns: Self::empty(def),
            rows: 0,
            writer: Writer::Inline(Box::new(Files::new(def, dir, layout)?)),
            spare: Vec::new(),
        })
    }

    fn empty(def: &TableDef) -> Vec<Column> {
        def.columns.iter().map(Column::new).collect()
    }

    pub fn def(&self) -> &'static TableDef {
        self.def
    }

    /// Call after appending `rows` rows to every column: hands full row groups on.
    pub fn added(&mut self, rows: usize) -> Result<()> {
        self.rows += rows;
        while self.rows >= self.row_group {
            let group = self.take_group(self.row_group);
            self.send(group, self.row_group)?;
        }
        Ok(())
    }

    /// The first `rows` buffered rows as a group of their own; the rest stay buffered.
    fn take_group(&mut self, rows: usize) -> Vec<Column> {
        if let Writer::Thread { emptied, .. } = &self.writer {
            self.spare.extend(emptied.try_iter());
        }
        let mut rest = self.spare.pop().unwrap_or_else(|| Self::empty(self.def));
        for (column, rest) in self.columns.iter_mut().zip(&mut rest) {
            column.split_into(rows, rest);
        }
        self.rows -= rows;
        std::mem::replace(&mut self.columns, rest)
    }

    fn send(&mut self, group: Vec<Column>, rows: usize) -> Result<()> {
        if let Writer::Inline(_) = self.writer {
            let Writer::Inline(files) = std::mem::replace(&mut self.writer, Writer::Done) else { unreachable!() };
            self.writer = spawn(self.def, *files)?;
        }
        match &self.writer {
            Writer::Thread { groups, .. } => {
                if groups.send((group, rows)).is_err() {
                    // The thread ended early: its error says why.
                    return Err(self.join().err().unwrap_or_else(|| anyhow!("the {} writer stopped", self.def.name)));
                }
                Ok(())
            }
            _ => unreachable!("a thread was started above"),
        }
    }

    /// Ends the writer thread (if any) and returns what it wrote.
    fn join(&mut self) -> Result<Written> {
        match std::mem::replace(&mut self.writer, Writer::Done) {
            Writer::Thread { groups, thread, .. } => {
                drop(groups);
                thread.join().map_err(|_| anyhow!("the {} writer panicked", self.def.name))?
            }
            Writer::Inline(files) => files.finish(),
            Writer::Done => Ok(Written::default()),
        }
    }

    /// Writes what is buffered and closes the files: the table is complete on disk.
    pub fn finish(&mut self) -> Result<Written> {
        let rows = std::mem::take(&mut self.rows);
        let group = std::mem::replace(&mut self.columns, Self::empty(self.def));
        let inline = matches!(self.writer, Writer::Inline(_));
        if let (true, Writer::Inline(files)) = (inline, &mut self.writer) {
            files.write_group(&group, rows)?;
        } else if rows > 0 {
            self.send(group, rows)?;
        }
        self.join()
    }
}

/// Moves `files` to a thread that writes the groups it receives, and returns each emptied
/// group for reuse.
fn spawn(def: &TableDef, mut files: Files) -> Result<Writer> {
    let (groups, incoming) = sync_channel::<(Vec<Column>, usize)>(1);
    let (give_back, emptied) = sync_channel(2);
    let thread = std::thread::Builder::new().name(format!("parquet-{}", def.name)).spawn(move || {
        for (mut group, rows) in incoming {
            files.write_group(&group, rows)?;
            group.iter_mut().for_each(Column::clear);
            let _ = give_back.try_send(group);
        }
        files.finish()
    })?;
    Ok(Writer::Thread { groups, emptied, thread })
}
