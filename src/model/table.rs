//! Reading a training table from a CSV file.
//!
//! The file has a header line; every other line is one row with as many fields as the
//! header. Fields are trimmed. The target is the column named by `--target`; every other
//! column is a *feature* if at least one of its cells is a number, and a *text column*
//! (ignored, and reported) if none is. A feature column must then be numeric on every row:
//! an empty cell, a word, NaN, an infinity or a number too large for the model's 32-bit
//! features is an error that names its row, line and column. Nothing here panics on a
//! file's content; every problem is one [`DataError`] whose message fits on one line.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// A target with more distinct whole-number values than this is taken for a quantity
/// (regression) rather than for class labels, unless `--task` says otherwise.
pub const MAX_INTEGER_CLASSES: usize = 20;

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

    /// Parses CSV bytes; `path` is only used in messages.
    pub fn parse(path: &Path, bytes: &[u8], target: &str) -> Result<Table, DataError> {
        let path_buf = path.to_owned();
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(DataError::Empty { path: path_buf });
        }
        let csv_error = |e: csv::Error| match e.kind() {
            csv::ErrorKind::Utf8 { pos, .. } => DataError::NotUtf8 {
                path: path.to_owned(),
                line: pos.as_ref().map_or(0, |p| p.line()),
            },
            csv::ErrorKind::UnequalLengths {
                pos,
                expected_len,
                len,
            } => DataError::Ragged {
                path: path.to_owned(),
                line: pos.as_ref().map_or(0, |p| p.line()),
                expected: *expected_len,
                found: *len,
            },
            _ => DataError::Csv {
                path: path.to_owned(),
                message: e.to_string(),
            },
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .from_reader(bytes);
        let header: Vec<String> = reader
            .headers()
            .map_err(csv_error)?
            .iter()
            .map(str::to_owned)
            .collect();
        let mut seen = HashSet::new();
        for (index, name) in header.iter().enumerate() {
            if name.is_empty() {
                return Err(DataError::UnnamedColumn {
                    path: path_buf,
                    index: index + 1,
                });
            }
            if !seen.insert(name.as_str()) {
                return Err(DataError::DuplicateColumn {
                    path: path_buf,
                    name: name.clone(),
                });
            }
        }
        let Some(target_index) = header.iter().position(|h| h == target) else {
            return Err(DataError::MissingTarget {
                path: path_buf,
                target: target.to_owned(),
                columns: header
                    .iter()
                    .map(|h| format!("{h:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };

        let mut records = Vec::new();
        let mut places = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let record = record.map_err(csv_error)?;
            places.push(Place {
                row: i + 1,
                line: record.position().map_or(0, |p| p.line()),
            });
            records.push(record);
        }

        // A column is a feature when any of its cells reads as a number.
        let mut feature_columns = Vec::new();
        let mut ignored = Vec::new();
        for (c, name) in header.iter().enumerate() {
            if c == target_index {
                continue;
            }
            if records.iter().any(|r| number(&r[c]).is_some()) {
                feature_columns.push(c);
            } else {
                ignored.push(name.clone());
            }
        }
        if feature_columns.is_empty() && !records.is_empty() {
            return Err(DataError::NoFeatures {
                path: path_buf,
                target: target.to_owned(),
                ignored: if ignored.is_empty() {
                    String::new()
                } else {
                    format!(" (text columns, ignored: {})", ignored.join(", "))
                },
            });
        }

        let mut rows = Vec::with_capacity(records.len());
        let mut target_cells = Vec::with_capacity(records.len());
        for (record, place) in records.iter().zip(&places) {
            let mut row = Vec::with_capacity(feature_columns.len());
            for &c in &feature_columns {
                let text = &record[c];
                let cell = || place.cell(&path_buf, &header[c]);
                let value = match number(text) {
                    _ if text.is_empty() => return Err(DataError::EmptyCell { cell: cell() }),
                    None => {
                        return Err(DataError::NotNumeric {
                            cell: cell(),
                            value: text.to_owned(),
                        })
                    }
                    Some(v) if !v.is_finite() => {
                        return Err(DataError::NotFinite {
                            cell: cell(),
                            value: text.to_owned(),
                        })
                    }
                    Some(v) if !(v as f32).is_finite() => {
                        return Err(DataError::OutOfRange {
                            cell: cell(),
                            value: text.to_owned(),
                        })
                    }
                    Some(v) => v,
                };
                row.push(value);
            }
            rows.push(row);
            target_cells.push(record[target_index].to_owned());
        }
        Ok(Table {
            path: path_buf,
            feature_names: feature_columns.iter().map(|&c| header[c].clone()).collect(),
            ignored,
            rows,
            target_name: target.to_owned(),
            target: target_cells,
            places,
        })
    }

    /// Number of data rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The first empty target cell, as an error.
    fn check_target_present(&self) -> Result<(), DataError> {
        match self.target.iter().position(String::is_empty) {
            Some(i) => Err(DataError::EmptyCell {
                cell: self.places[i].cell(&self.path, &self.target_name),
            }),
            None => Ok(()),
        }
    }

    /// The target as class labels: names in a stable order, and one id per row.
    ///
    /// Order: when every label is a whole number (as `i64`), by numeric value, named by
    /// its plain decimal form (so `"07"` and `"7"` are one class, and `"10"` follows
    /// `"9"`); otherwise by the labels' text, compared as Unicode code points.
    pub fn classes(&self) -> Result<(Vec<String>, Vec<u32>), DataError> {
        self.check_target_present()?;
        let integers: Option<Vec<i64>> = self.target.iter().map(|t| t.parse().ok()).collect();
        let keys: Vec<SortKey> = match integers {
            Some(ints) => ints
                .into_iter()
                .map(|i| SortKey {
                    int: Some(i),
                    text: i.to_string(),
                })
                .collect(),
            None => self
                .target
                .iter()
                .map(|t| SortKey {
                    int: None,
                    text: t.clone(),
                })
                .collect(),
        };
        let mut distinct = keys.clone();
        distinct.sort();
        distinct.dedup();
        let id_of: HashMap<&SortKey, u32> = distinct
            .iter()
            .enumerate()
            .map(|(i, k)| (k, i as u32))
            .collect();
        let row_ids = keys.iter().map(|k| id_of[k]).collect();
        let names = distinct.iter().map(|k| k.text.clone()).collect();
        Ok((names, row_ids))
    }

    /// The target as numbers, for regression.
    pub fn values(&self) -> Result<Vec<f64>, TargetError> {
        self.check_target_present().map_err(TargetError::Data)?;
        self.target
            .iter()
            .zip(&self.places)
            .map(|(text, place)| {
                let cell = || place.cell(&self.path, &self.target_name);
                match number(text) {
                    Some(v) if v.is_finite() => Ok(v),
                    Some(_) => Err(TargetError::Data(DataError::NotFinite {
                        cell: cell(),
                        value: text.clone(),
                    })),
                    None => Err(TargetError::NotNumeric {
                        cell: cell(),
                        value: text.clone(),
                    }),
                }
            })
            .collect()
    }

    /// The task when none is asked for, and why: regression when every target value is a
    /// finite number and either one of them has a fractional part or there are more than
    /// [`MAX_INTEGER_CLASSES`] distinct values; classification otherwise.
    pub fn default_task(&self) -> (super::Task, String) {
        let numbers: Option<Vec<f64>> = self
            .target
            .iter()
            .map(|t| number(t).filter(|v| v.is_finite()))
            .collect();
        let target = &self.target_name;
        match numbers {
            None => (
                super::Task::Classification,
                format!("target {target:?} has values that are not numbers"),
            ),
            Some(values) => {
                if values.iter().any(|v| v.fract() != 0.0) {
                    return (
                        super::Task::Regression,
                        format!("target {target:?} is numeric with fractional values"),
                    );
                }
                let distinct: HashSet<u64> = values.iter().map(|v| v.to_bits()).collect();
                if distinct.len() > MAX_INTEGER_CLASSES {
                    (
                        super::Task::Regression,
                        format!(
                            "target {target:?} is whole numbers with {} distinct values \
                             (more than {MAX_INTEGER_CLASSES})",
                            distinct.len()
                        ),
                    )
                } else {
                    (
                        super::Task::Classification,
                        format!(
                            "target {target:?} is whole numbers with {} distinct values \
                             (at most {MAX_INTEGER_CLASSES})",
                            distinct.len()
                        ),
                    )
                }
            }
        }
    }
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

/// Orders whole-number labels numerically, other labels by text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct SortKey {
    int: Option<i64>,
    text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, target: &str) -> Result<Table, DataError> {
        Table::parse(Path::new("d.csv"), text.as_bytes(), target)
    }

    #[test]
    fn features_are_the_numeric_columns_but_the_target() {
        let t = parse(
            "id,a, b ,kind,y\nx1,1,2.5,red,cat\nx2,3,-4e1,blue,dog\n",
            "y",
        )
        .unwrap();
        assert_eq!(t.feature_names, ["a", "b"]);
        assert_eq!(t.ignored, ["id", "kind"]);
        assert_eq!(t.rows, vec![vec![1.0, 2.5], vec![3.0, -40.0]]);
        assert_eq!(t.target, ["cat", "dog"]);
    }

    #[test]
    fn spreadsheet_exports_read_the_same() {
        // A UTF-8 byte order mark, CRLF line ends and quoted fields with commas.
        let bytes = b"\xef\xbb\xbfy,a,\"b, in cm\"\r\n\"x, y\",1,2\r\nz,3,4\r\n";
        let t = Table::parse(Path::new("d.csv"), bytes, "y").unwrap();
        assert_eq!(t.feature_names, ["a", "b, in cm"]);
        assert_eq!(t.target, ["x, y", "z"]);
        assert_eq!(t.rows, vec![vec![1.0, 2.0], vec![3.0, 4.0]]);
    }

    #[test]
    fn integer_classes_sort_by_value_and_text_classes_by_text() {
        let t = parse("a,y\n1,10\n2,9\n3,09\n4,-1\n", "y").unwrap();
        let (names, ids) = t.classes().unwrap();
        assert_eq!(names, ["-1", "9", "10"]);
        assert_eq!(ids, [2, 1, 1, 0]);
        let t = parse("a,y\n1,b\n2,B\n3,a\n4,b\n", "y").unwrap();
        let (names, ids) = t.classes().unwrap();
        assert_eq!(names, ["B", "a", "b"]);
        assert_eq!(ids, [2, 0, 1, 2]);
    }

    #[test]
    fn the_default_task_follows_the_documented_rule() {
        let task = |target: &str| {
            let text: String = std::iter::once("a,y\n".to_owned())
                .chain(target.split(' ').map(|v| format!("1,{v}\n")))
                .collect();
            parse(&text, "y").unwrap().default_task().0
        };
        use crate::model::Task::*;
        assert_eq!(task("1 2 3 1"), Classification);
        assert_eq!(task("a b 1"), Classification);
        assert_eq!(task("1 2.5 3"), Regression);
        let many: Vec<String> = (0..=MAX_INTEGER_CLASSES).map(|i| i.to_string()).collect();
        assert_eq!(task(&many.join(" ")), Regression);
        assert_eq!(task(&many[1..].join(" ")), Classification);
    }

    #[test]
    fn every_bad_cell_names_its_row_line_and_column() {
        let cases: [(&str, &str); 5] = [
            (
                "a,b,y\n1,2,p\n3,x,q\n",
                r#"row 2 (line 3), column "b": "x" is not a number"#,
            ),
            (
                "a,b,y\n1,2,p\n3,,q\n",
                r#"row 2 (line 3), column "b": the cell is empty"#,
            ),
            (
                "a,b,y\n1,NaN,p\n",
                r#"row 1 (line 2), column "b": "NaN" is not a finite"#,
            ),
            (
                "a,b,y\n1,-inf,p\n",
                r#"column "b": "-inf" is not a finite number"#,
            ),
            ("a,b,y\n1,1e39,p\n", r#"column "b": "1e39" is too large"#),
        ];
        for (text, expected) in cases {
            let err = parse(text, "y").unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
            assert!(err.starts_with("d.csv"), "{err}");
        }
    }

    #[test]
    fn file_level_problems_are_named() {
        assert!(matches!(parse("", "y"), Err(DataError::Empty { .. })));
        assert!(matches!(parse(" \n\n", "y"), Err(DataError::Empty { .. })));
        let err = parse("a,b\n1,2\n", "y").unwrap_err().to_string();
        assert!(
            err.contains(r#"no column is named "y"; the columns are "a", "b""#),
            "{err}"
        );
        let err = parse("a,b,y\n1,2,p\n1,2\n", "y").unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Ragged {
                    line: 3,
                    expected: 3,
                    found: 2,
                    ..
                }
            ),
            "{err}"
        );
        let err = parse("a,a,y\n1,2,p\n", "y").unwrap_err();
        assert!(matches!(err, DataError::DuplicateColumn { .. }), "{err}");
        let err = parse("a,,y\n1,2,p\n", "y").unwrap_err();
        assert!(
            matches!(err, DataError::UnnamedColumn { index: 2, .. }),
            "{err}"
        );
        let err = parse("name,y\nx,p\n", "y").unwrap_err().to_string();
        assert!(err.contains("no numeric column"), "{err}");
        assert!(err.contains("ignored: name"), "{err}");
        let err = Table::parse(Path::new("d.csv"), b"a,y\n1,\xff\n", "y").unwrap_err();
        assert!(matches!(err, DataError::NotUtf8 { line: 2, .. }), "{err}");
        // A header alone is a table of no rows; the trainer refuses it for its size.
        assert!(parse("a,y\n", "y").unwrap().is_empty());
    }

    #[test]
    fn targets_are_checked_for_their_task() {
        let t = parse("a,y\n1,2.5\n2,\n", "y").unwrap();
        let err = t.values().unwrap_err().to_string();
        assert!(
            err.contains(r#"row 2 (line 3), column "y": the cell is empty"#),
            "{err}"
        );
        assert!(t.classes().is_err());
        let t = parse("a,y\n1,2.5\n2,high\n", "y").unwrap();
        let err = t.values().unwrap_err().to_string();
        assert!(err.contains(r#""high" is not a number"#), "{err}");
        assert!(err.contains("--task classification"), "{err}");
        let t = parse("a,y\n1,2.5\n2,nan\n", "y").unwrap();
        assert!(t.values().unwrap_err().to_string().contains("not a finite"));
    }
}
