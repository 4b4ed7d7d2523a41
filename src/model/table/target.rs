//! What the target column means: class labels in a stable order, numbers for regression,
//! and which of the two a table suggests when `--task` is not given.

use std::collections::{HashMap, HashSet};

use super::{number, DataError, Table, TargetError};
use crate::model::Task;

/// A target with more distinct whole-number values than this is taken for a quantity
/// (regression) rather than for class labels, unless `--task` says otherwise.
pub const MAX_INTEGER_CLASSES: usize = 20;

impl Table {
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
    pub fn default_task(&self) -> (Task, String) {
        let numbers: Option<Vec<f64>> = self
            .target
            .iter()
            .map(|t| number(t).filter(|v| v.is_finite()))
            .collect();
        let target = &self.target_name;
        match numbers {
            None => (
                Task::Classification,
                format!("target {target:?} has values that are not numbers"),
            ),
            Some(values) => {
                if values.iter().any(|v| v.fract() != 0.0) {
                    return (
                        Task::Regression,
                        format!("target {target:?} is numeric with fractional values"),
                    );
                }
                let distinct: HashSet<u64> = values.iter().map(|v| v.to_bits()).collect();
                if distinct.len() > MAX_INTEGER_CLASSES {
                    (
                        Task::Regression,
                        format!(
                            "target {target:?} is whole numbers with {} distinct values \
                             (more than {MAX_INTEGER_CLASSES})",
                            distinct.len()
                        ),
                    )
                } else {
                    (
                        Task::Classification,
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

/// Orders whole-number labels numerically, other labels by text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct SortKey {
    int: Option<i64>,
    text: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::table::parse_text as parse;

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
