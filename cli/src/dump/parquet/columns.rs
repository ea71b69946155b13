//! Table definitions (columns with their SQL type and encoding) and the in-memory buffers
//! that hold a row group's values column by column until it is written.

use parquet::data_type::ByteArray;

/// A column's type as SQL engines will see it. Unsigned integers are Parquet INT32/INT64
/// with an unsigned INTEGER annotation (DuckDB: UTINYINT ... UBIGINT).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    U8,
    U16,
    U32,
    U64,
    I32,
    I64,
    Bool,
    Binary,
    Str,
}

/// How a column is encoded: `Delta` (DELTA_BINARY_PACKED: counters, ids and small values;
/// no hashing on the hot path), `Dict` (dictionary: few distinct values, strings) or `Plain`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Enc {
    Delta,
    Dict,
    Plain,
}

pub struct ColumnDef {
    pub name: &'static str,
    pub kind: Kind,
    pub optional: bool,
    pub enc: Enc,
    /// Min/max per column chunk, which lets engines skip row groups: worth it for ordered
    /// columns (`exec`, `seq`), not for ids in random order on the hot path.
    pub stats: bool,
}

impl ColumnDef {
    pub const fn without_stats(self) -> Self {
        Self { stats: false, ..self }
    }
}

pub struct TableDef {
    pub name: &'static str,
    pub columns: &'static [ColumnDef],
}

/// One column's buffered values. Optional columns keep a definition level per row (1: a
/// value, 0: null) and values only for the non-null rows.
pub enum Values {
    I32(Vec<i32>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
    Bytes(Vec<ByteArray>),
}

pub struct Column {
    pub values: Values,
    pub defs: Option<Vec<i16>>,
}

impl Column {
    pub fn new(def: &ColumnDef) -> Self {
        let values = match def.kind {
            Kind::U8 | Kind::U16 | Kind::U32 | Kind::I32 => Values::I32(Vec::new()),
            Kind::U64 | Kind::I64 => Values::I64(Vec::new()),
            Kind::Bool => Values::Bool(Vec::new()),
            Kind::Binary | Kind::Str => Values::Bytes(Vec::new()),
        };
        Self { values, defs: def.optional.then(Vec::new) }
    }

    pub fn i32(&mut self) -> &mut Vec<i32> {
        match &mut self.values {
            Values::I32(v) => v,
            _ => unreachable!("not a 32-bit column"),
        }
    }

    pub fn i64(&mut self) -> &mut Vec<i64> {
        match &mut self.values {
            Values::I64(v) => v,
            _ => unreachable!("not a 64-bit column"),
        }
    }

    pub fn bool(&mut self) -> &mut Vec<bool> {
        match &mut self.values {
            Values::Bool(v) => v,
            _ => unreachable!("not a boolean column"),
        }
    }

    pub fn bytes(&mut self) -> &mut Vec<ByteArray> {
        match &mut self.values {
            Values::Bytes(v) => v,
            _ => unreachable!("not a byte array column"),
        }
    }

    /// For optional columns: one row, null or not (the value itself is pushed separately).
    pub fn def(&mut self, present: bool) {
        self.defs.as_mut().expect("not an optional column").push(i16::from(present));
    }

    /// An optional 64-bit value.
    pub fn opt_i64(&mut self, value: Option<i64>) {
        self.def(value.is_some());
        if let Some(v) = value {
            self.i64().push(v);
        }
    }

    pub fn clear(&mut self) {
        match &mut self.values {
            Values::I32(v) => v.clear(),
            Values::I64(v) => v.clear(),
            Values::Bool(v) => v.clear(),
            Values::Bytes(v) => v.clear(),
        }
        if let Some(d) = &mut self.defs {
            d.clear();
        }
    }

    /// Moves rows `rows..` into `rest` (emptied first, its capacity reused), keeping the
    /// first `rows` here.
    pub fn split_into(&mut self, rows: usize, rest: &mut Column) {
        rest.clear();
        let values = match &mut self.defs {
            Some(defs) => {
                let kept = defs[..rows].iter().filter(|&&d| d == 1).count();
                rest.defs.as_mut().expect("same definition").extend_from_slice(&defs[rows..]);
                defs.truncate(rows);
                kept
            }
            None => rows,
        };
        fn tail<T: Clone>(from: &mut Vec<T>, to: &mut Vec<T>, at: usize) {
            to.extend_from_slice(&from[at..]);
            from.truncate(at);
        }
        match (&mut self.values, &mut rest.values) {
            (Values::I32(a), Values::I32(b)) => tail(a, b, values),
            (Values::I64(a), Values::I64(b)) => tail(a, b, values),
            (Values::Bool(a), Values::Bool(b)) => tail(a, b, values),
            (Values::Bytes(a), Values::Bytes(b)) => tail(a, b, values),
            _ => unreachable!("columns of one definition"),
        }
    }
}
