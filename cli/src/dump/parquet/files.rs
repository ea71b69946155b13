//! A table's Parquet files: row groups appended to the current file, a new file (segment)
//! every `file_rows` rows.
//!
//! A file is written under a hidden temporary name (`.execs-000.parquet.tmp`) and renamed
//! when its footer is on disk: engines that glob `*.parquet` (and Spark, which skips names
//! starting with a dot) never see a file they cannot read, even while a run is in progress
//! or after the consumer was killed.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use parquet::basic::{Compression, Encoding, LogicalType, Repetition, Type as Physical};
use parquet::data_type::{BoolType, ByteArrayType, Int32Type, Int64Type};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::{SerializedColumnWriter, SerializedFileWriter};
use parquet::schema::types::{ColumnPath, Type};

use super::columns::{Column, Enc, Kind, TableDef, Values};

/// Sizes of what is written.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Rows per row group.
    pub row_group: usize,
    /// Rows per file: a file is closed after the row group that reaches this.
    pub file_rows: usize,
}

/// Rows, files and bytes written.
#[derive(Default, Clone, Copy, Debug)]
pub struct Written {
    pub rows: u64,
    pub files: u64,
    pub bytes: u64,
}

impl Written {
    pub fn add(&mut self, other: Written) {
        self.rows += other.rows;
        self.files += other.files;
        self.bytes += other.bytes;
    }
}

pub struct Files {
    def: &'static TableDef,
    dir: PathBuf,
    file_rows: usize,
    schema: Arc<Type>,
    props: Arc<WriterProperties>,
    file: Option<OpenFile>,
    segment: usize,
    written: Written,
}

struct OpenFile {
    writer: SerializedFileWriter<BufWriter<File>>,
    tmp: PathBuf,
    path: PathBuf,
    rows: usize,
}

impl Files {
    /// Files of table `def` in `dir` (created with the first file).
    pub fn new(def: &'static TableDef, dir: PathBuf, layout: Layout) -> Result<Self> {
        Ok(Self {
            def,
            dir,
            file_rows: layout.file_rows,
            schema: schema(def)?,
            props: properties(def),
            file: None,
            segment: 0,
            written: Written::default(),
        })
    }

    /// Writes `columns` (each holding `rows` rows) as one row group.
    pub fn write_group(&mut self, columns: &[Column], rows: usize) -> Result<()> {
        if rows == 0 {
            return Ok(());
        }
        if self.file.is_none() {
            self.file = Some(self.open()?);
        }
        let file = self.file.as_mut().expect("opened above");
        let mut group = file.writer.next_row_group()?;
        for column in columns {
            let mut writer = group.next_column()?.context("schema and columns disagree")?;
            write_column(&mut writer, column)?;
            writer.close()?;
        }
        group.close()?;
        file.rows += rows;
        self.written.rows += rows as u64;
        if file.rows >= self.file_rows {
            self.close_file()?;
        }
        Ok(())
    }

    fn open(&mut self) -> Result<OpenFile> {
        std::fs::create_dir_all(&self.dir).with_context(|| format!("cannot create {}", self.dir.display()))?;
        let name = format!("{}-{:03}.parquet", self.def.name, self.segment);
        self.segment += 1;
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let out = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let writer =
            SerializedFileWriter::new(BufWriter::with_capacity(1 << 20, out), self.schema.clone(), self.props.clone())?;
        Ok(OpenFile { writer, tmp, path, rows: 0 })
    }

    fn close_file(&mut self) -> Result<()> {
        if let Some(file) = self.file.take() {
            let out = file.writer.into_inner()?.into_inner().map_err(|e| e.into_error())?;
            self.written.bytes += out.metadata()?.len();
            self.written.files += 1;
            std::fs::rename(&file.tmp, &file.path)
                .with_context(|| format!("cannot rename to {}", file.path.display()))?;
        }
        Ok(())
    }

    /// Closes the current file: everything written is complete on disk.
    pub fn finish(mut self) -> Result<Written> {
        self.close_file()?;
        Ok(self.written)
    }
}

fn write_column(writer: &mut SerializedColumnWriter<'_>, column: &Column) -> Result<()> {
    let defs = column.defs.as_deref();
    match &column.values {
        Values::I32(v) => writer.typed::<Int32Type>().write_batch(v, defs, None)?,
        Values::I64(v) => writer.typed::<Int64Type>().write_batch(v, defs, None)?,
        Values::Bool(v) => writer.typed::<BoolType>().write_batch(v, defs, None)?,
        Values::Bytes(v) => writer.typed::<ByteArrayType>().write_batch(v, defs, None)?,
    };
    Ok(())
}

/// The Parquet schema of a table: `message <name> { ... }`.
fn schema(def: &TableDef) -> Result<Arc<Type>> {
    let fields = def
        .columns
        .iter()
        .map(|c| {
            let (physical, logical) = match c.kind {
                Kind::U8 => (Physical::INT32, Some(LogicalType::integer(8, false))),
                Kind::U16 => (Physical::INT32, Some(LogicalType::integer(16, false))),
                Kind::U32 => (Physical::INT32, Some(LogicalType::integer(32, false))),
                Kind::U64 => (Physical::INT64, Some(LogicalType::integer(64, false))),
                Kind::I32 => (Physical::INT32, None),
                Kind::I64 => (Physical::INT64, None),
                Kind::Bool => (Physical::BOOLEAN, None),
                Kind::Binary => (Physical::BYTE_ARRAY, None),
                Kind::Str => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
            };
            let repetition = if c.optional { Repetition::OPTIONAL } else { Repetition::REQUIRED };
            Ok(Arc::new(
                Type::primitive_type_builder(c.name, physical)
                    .with_repetition(repetition)
                    .with_logical_type(logical)
                    .build()?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(Type::group_type_builder(def.name).with_fields(fields).build()?))
}

/// Writer settings: snappy (fast, pure Rust, read by every engine; it finds the loops'
/// repetitions in the bit-packed ids), min/max per column chunk where the definition asks
/// (engines skip row groups by `exec` range), the definition's encodings. Row groups are
/// cut by the table (`Layout`), not by the writer.
fn properties(def: &TableDef) -> Arc<WriterProperties> {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_created_by(format!("cannonball dump {}", env!("CARGO_PKG_VERSION")))
        .set_max_row_group_row_count(None);
    for c in def.columns {
        let path = ColumnPath::from(c.name);
        if !c.stats {
            props = props.set_column_statistics_enabled(path.clone(), EnabledStatistics::None);
        }
        props = match c.enc {
            Enc::Dict => props.set_column_dictionary_enabled(path, true),
            Enc::Delta => props
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED),
            Enc::Plain => props.set_column_dictionary_enabled(path, false),
        };
    }
    Arc::new(props.build())
}
