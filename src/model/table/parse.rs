//! Reading the CSV: the header, the target column, which columns are features, and every
//! feature cell as a finite number.

use std::collections::HashSet;
use std::path::Path;

use super::{number, DataError, Place, Table};

impl Table {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::table::parse_text as parse;

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
}
