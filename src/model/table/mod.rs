//! Reading a training table from a CSV file.
//!
//! The file has a header line; every other line is one row with as many fields as the
//! header. Fields are trimmed. The target is the column named by `--target`; every other
//! column is a *feature* if at least one of its cells is a number, and a *text column*
//! (ignored, and reported) if none is. A feature column must then be numeric on every row:
//! an empty cell, a word, NaN, an infinity or a number too large for the model's 32-bit
//! features is an error that names its row, line and column. Nothing here panics on a
//! file's content; every problem is one [`DataError`] whose message fits on one line.
//!
//! Here: the [`Table`] and where its rows are in the file. Beside it: `parse` (reading the
//! CSV), `target` (the target as classes or values, and the default task) and `error`.

mod error;
mod parse;
mod target;

use std::path::{Path, PathBuf};

pub use error::{Cell, DataError, TargetError};
pub use target::MAX_INTEGER_CLASSES;

/// One data row's place in the file, for messages.
#[derive(Debug, Clone, Copy)]
struct Place {
    row: usize,
    line: u64,
}

impl Place {
    fn cell(&self, path: &Path, column: &str) -> Cell {
        Cell {
            path: path.to_owned(),
            row: self.row,
            line: self.line,
            column: column.to_owned(),
        }
    }
}

/// A training table: numeric features and the raw target column.
#[derive(Debug, Clone)]
pub struct Table {
    pub path: PathBuf,
    pub feature_names: Vec<String>,
    /// Columns left out because none of their cells is a number.
    pub ignored: Vec<String>,
    /// One row per data line, every value finite and within `f32`.
    pub rows: Vec<Vec<f64>>,
    pub target_name: String,
    /// The target cells as written (trimmed), one per row.
    pub target: Vec<String>,
    places: Vec<Place>,
}

/// A feature or target cell as a number, the way every column is read.
fn number(cell: &str) -> Option<f64> {
    cell.parse::<f64>().ok()
}

impl Table {
    /// Reads `path`, taking `target` as the target column.
    pub fn read(path: &Path, target: &str) -> Result<Table, DataError> {
        let bytes = std::fs::read(path).map_err(|source| DataError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &bytes, target)
    }

    /// Number of data rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// A table parsed from `text` as if read from `d.csv`, for the tests.
#[cfg(test)]
fn parse_text(text: &str, target: &str) -> Result<Table, DataError> {
    Table::parse(Path::new("d.csv"), text.as_bytes(), target)
}
