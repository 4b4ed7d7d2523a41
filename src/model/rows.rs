//! A batch of input rows as a model takes them: one flat, row-major buffer of
//! `f32`, every row the same width, every value finite. Built once from the
//! request, checked as it is built, and handed to the model without another copy
//! of each row.

use std::ops::Range;

/// Why values cannot be added to [`Rows`]. `row` and `column` count from 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowsError {
    #[error("row {row} has {got} values, expected {expected}")]
    WrongLength {
        row: usize,
        expected: usize,
        got: usize,
    },
    #[error("row {row}, column {column} is not a finite 32-bit number")]
    NonFinite { row: usize, column: usize },
}

/// Rows of `width` finite `f32` values each.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    values: Vec<f32>,
    width: usize,
    len: usize,
}

impl Rows {
    /// No rows yet, each to be `width` values, with room for `capacity` rows.
    pub fn with_capacity(width: usize, capacity: usize) -> Self {
        Rows {
            values: Vec::with_capacity(width.saturating_mul(capacity)),
            width,
            len: 0,
        }
    }

    /// Rows from anything iterable as rows of numbers (checked like [`Rows::push`]).
    pub fn from_rows<R, V>(width: usize, rows: R) -> Result<Self, RowsError>
    where
        R: IntoIterator,
        R::Item: IntoIterator<Item = V>,
        V: Into<f64>,
    {
        let rows = rows.into_iter();
        let mut out = Rows::with_capacity(width, rows.size_hint().0);
        for row in rows {
            out.push(row.into_iter().map(Into::into))?;
        }
        Ok(out)
    }

    /// Appends one row, each value narrowed to `f32`. A row of the wrong length,
    /// or with a value that is not finite as an `f32` (NaN, ±inf, or beyond
    /// ±3.4e38), is refused and leaves the rows as they were.
    pub fn push(&mut self, row: impl IntoIterator<Item = f64>) -> Result<(), RowsError> {
        let start = self.values.len();
        let mut got = 0;
        let mut non_finite = None;
        for value in row {
            let value = value as f32;
            if non_finite.is_none() && !value.is_finite() {
                non_finite = Some(got);
            }
            got += 1;
            if got <= self.width {
                self.values.push(value);
            }
        }
        let error = if got != self.width {
            Some(RowsError::WrongLength {
                row: self.len,
                expected: self.width,
                got,
            })
        } else {
            non_finite.map(|column| RowsError::NonFinite {
                row: self.len,
                column,
            })
        };
        match error {
            Some(error) => {
                self.values.truncate(start);
                Err(error)
            }
            None => {
                self.len += 1;
                Ok(())
            }
        }
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The number of values in each row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Every value, row after row.
    pub fn as_slice(&self) -> &[f32] {
        &self.values
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[self.span(i)]
    }

    /// The rows in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[f32]> + '_ {
        (0..self.len).map(|i| &self.values[self.span(i)])
    }

    fn span(&self, i: usize) -> Range<usize> {
        i * self.width..(i + 1) * self.width
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_flat_and_in_order() {
        let rows = Rows::from_rows(2, [[1.0f32, 2.0], [3.0, 4.0]]).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows.as_slice(), &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(rows.iter().collect::<Vec<_>>(), [&[1.0, 2.0], &[3.0, 4.0]]);
        assert_eq!(rows.row(1), &[3.0, 4.0]);
    }

    #[test]
    fn a_refused_row_names_itself_and_changes_nothing() {
        let mut rows = Rows::from_rows(3, [[1.0, 2.0, 3.0]]).unwrap();
        let before = rows.clone();
        assert_eq!(
            rows.push([1.0, 2.0]),
            Err(RowsError::WrongLength {
                row: 1,
                expected: 3,
                got: 2
            })
        );
        assert_eq!(
            rows.push([1.0, 2.0, 3.0, 4.0]),
            Err(RowsError::WrongLength {
                row: 1,
                expected: 3,
                got: 4
            })
        );
        assert_eq!(
            rows.push([1.0, 1e300, f64::NAN]),
            Err(RowsError::NonFinite { row: 1, column: 1 })
        );
        assert_eq!(rows, before);
        rows.push([4.0, 5.0, 6.0]).unwrap();
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn zero_width_rows_are_counted() {
        let rows = Rows::from_rows(0, [[0.0f64; 0]; 3]).unwrap();
        assert_eq!((rows.len(), rows.iter().count()), (3, 3));
    }
}
