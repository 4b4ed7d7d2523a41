//! Training: a classifier on the Iris data set that smartcore ships (the embedded default),
//! or a classifier or regressor on a user's [`Table`](super::table::Table) (`train --data
//! FILE.csv`).
//!
//! Here: what training takes ([`TrainOptions`]) and how it fails ([`TrainError`]). Beside
//! it: `algorithm` (the algorithms and fitting each), `iris` ([`train`]) and `tabular`
//! ([`train_table`]).

mod algorithm;
mod iris;
mod tabular;

use super::table::{DataError, TargetError};
use super::{Matrix, Task};

pub use algorithm::Algorithm;
pub use iris::train;
pub use tabular::{rmse_r2, train_table, TableTraining};

/// Fewest data rows `train --data` accepts.
pub const MIN_ROWS: usize = 10;
/// Fewest rows the training split must keep.
pub const MIN_TRAIN_ROWS: usize = 5;
/// Most classes a classifier may have: each is a `class` label value of
/// `predictions_total`, so this bounds the metric's cardinality.
pub const MAX_CLASSES: usize = 1000;

/// What to train.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub algorithm: Algorithm,
    pub seed: u64,
    /// Share of the data set held out for the reported metrics, in (0, 1).
    pub test_size: f32,
    /// Model name recorded in the artifact and in `model_info`.
    pub name: String,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            algorithm: Algorithm::RandomForest,
            seed: 42,
            test_size: 0.2,
            name: "iris".to_owned(),
        }
    }
}

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("test size must be strictly between 0 and 1, got {0}")]
    BadTestSize(f32),
    #[error(
        "model name {0:?} is not usable in URLs: use letters, digits, '.', '_' and '-' \
         (at most 64)"
    )]
    BadName(String),
    #[error("--algorithm {algorithm} does not do {task}; {task} takes {choices}")]
    AlgorithmForTask {
        algorithm: Algorithm,
        task: Task,
        choices: String,
    },
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("{path}: {rows} data rows; training needs at least {MIN_ROWS}")]
    TooFewRows { path: String, rows: usize },
    #[error(
        "{rows} rows split with --test-size {test_size} leave {train} to train on and {test} \
         held out; at least {MIN_TRAIN_ROWS} and 1 are needed"
    )]
    SplitTooSmall {
        rows: usize,
        test_size: f32,
        train: usize,
        test: usize,
    },
    #[error(
        "{path}: target {target:?} has a single class, {class:?}; classification needs at \
         least two"
    )]
    SingleClass {
        path: String,
        target: String,
        class: String,
    },
    #[error(
        "{path}: target {target:?} has {classes} distinct values, over the {MAX_CLASSES} \
         classes a classifier may have (for a quantity, use --task regression)"
    )]
    TooManyClasses {
        path: String,
        target: String,
        classes: usize,
    },
    #[error(
        "the training split holds a single class, {class:?}; add rows of the other classes \
         or try another --seed"
    )]
    SingleClassInSplit { class: String },
    #[error("{path}: target {target:?} is {value} on every row; regression needs it to vary")]
    ConstantTarget {
        path: String,
        target: String,
        value: f64,
    },
    #[error("smartcore failed to {stage}: {message}")]
    Smartcore {
        stage: &'static str,
        message: String,
    },
}

fn smartcore(stage: &'static str) -> impl FnOnce(smartcore::error::Failed) -> TrainError {
    move |e| TrainError::Smartcore {
        stage,
        message: e.to_string().replace('\n', " "),
    }
}

fn check_options(opts: &TrainOptions) -> Result<(), TrainError> {
    if !(opts.test_size > 0.0 && opts.test_size < 1.0) {
        return Err(TrainError::BadTestSize(opts.test_size));
    }
    let name_ok = !opts.name.is_empty()
        && opts.name.len() <= 64
        && opts
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && opts.name != "."
        && opts.name != "..";
    if !name_ok {
        return Err(TrainError::BadName(opts.name.clone()));
    }
    Ok(())
}

/// The rows of a matrix, widened to f64.
fn rows_of(x: &Matrix) -> Vec<Vec<f64>> {
    use smartcore::linalg::basic::arrays::Array;
    let (n, f) = x.shape();
    (0..n)
        .map(|i| (0..f).map(|j| f64::from(*x.get((i, j)))).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_test_size() {
        for size in [0.0, 1.0, -0.5, f32::NAN] {
            let opts = TrainOptions {
                test_size: size,
                ..TrainOptions::default()
            };
            assert!(matches!(train(&opts), Err(TrainError::BadTestSize(_))));
        }
    }

    #[test]
    fn rejects_names_that_do_not_fit_a_url() {
        for name in ["", "a/b", "a b", "..", "é"] {
            let opts = TrainOptions {
                name: name.to_owned(),
                ..TrainOptions::default()
            };
            assert!(
                matches!(train(&opts), Err(TrainError::BadName(_))),
                "{name:?}"
            );
        }
    }
}
