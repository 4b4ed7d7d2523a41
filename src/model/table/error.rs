//! What makes a CSV file untrainable: [`DataError`] for the file and its cells,
//! [`TargetError`] for a target that is not the numbers regression needs, and the [`Cell`]
//! each names.

use std::path::PathBuf;

/// Why a CSV file cannot be trained on. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is empty: expected a header line, then one line per row")]
    Empty { path: PathBuf },
    #[error("{path}, line {line}: not valid UTF-8")]
    NotUtf8 { path: PathBuf, line: u64 },
    #[error("{path}, line {line}: {found} fields, but the header has {expected}")]
    Ragged {
        path: PathBuf,
        line: u64,
        expected: u64,
        found: u64,
    },
    #[error("{path}: {message}")]
    Csv { path: PathBuf, message: String },
    #[error("{path}: header column {index} has no name")]
    UnnamedColumn { path: PathBuf, index: usize },
    #[error("{path}: the header names column {name:?} twice")]
    DuplicateColumn { path: PathBuf, name: String },
    #[error("{path}: no column is named {target:?}; the columns are {columns}")]
    MissingTarget {
        path: PathBuf,
        target: String,
        columns: String,
    },
    #[error("{path}: no numeric column besides the target {target:?}{ignored}")]
    NoFeatures {
        path: PathBuf,
        target: String,
        ignored: String,
    },
    #[error("{cell}: the cell is empty")]
    EmptyCell { cell: Cell },
    #[error("{cell}: {value:?} is not a number")]
    NotNumeric { cell: Cell, value: String },
    #[error("{cell}: {value:?} is not a finite number")]
    NotFinite { cell: Cell, value: String },
    #[error("{cell}: {value:?} is too large for the model's 32-bit features")]
    OutOfRange { cell: Cell, value: String },
}

/// Why a target cannot be read as numbers.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    Data(DataError),
    #[error(
        "{cell}: {value:?} is not a number, and regression needs a numeric target (or use \
         --task classification)"
    )]
    NotNumeric { cell: Cell, value: String },
}

/// Where a cell is: `data.csv, row 3 (line 4), column "b"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub path: PathBuf,
    /// 1-based among the data rows.
    pub row: usize,
    /// 1-based line of the file where the row starts (the header is line 1).
    pub line: u64,
    pub column: String,
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, row {} (line {}), column {:?}",
            self.path.display(),
            self.row,
            self.line,
            self.column
        )
    }
}
