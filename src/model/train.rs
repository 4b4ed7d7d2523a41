//! Training: a classifier on the Iris data set that smartcore ships (the embedded default),
//! or a classifier or regressor on a user's [`Table`] (`train --data FILE.csv`).

use std::fmt;

use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linear::linear_regression::{LinearRegression, LinearRegressionParameters};
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};
use smartcore::model_selection::train_test_split;
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters,
};
use smartcore::tree::decision_tree_regressor::{
    DecisionTreeRegressor, DecisionTreeRegressorParameters,
};

use super::artifact::{Artifact, TrainingInfo};
use super::reference::{self, Reference};
use super::table::{DataError, Table, TargetError};
use super::{Classifier, Labels, Matrix, Regressor, Task, Values};

/// The algorithms `train` knows. Random forests and decision trees do both tasks; logistic
/// regression only classification, linear regression only regression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// 100-tree random forest (the default).
    RandomForest,
    /// Multinomial logistic regression (classification).
    LogisticRegression,
    /// A single CART decision tree.
    DecisionTree,
    /// Ordinary least squares (regression).
    LinearRegression,
}

impl Algorithm {
    /// The stable name used in artifacts, metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RandomForest => "random-forest",
            Algorithm::LogisticRegression => "logistic-regression",
            Algorithm::DecisionTree => "decision-tree",
            Algorithm::LinearRegression => "linear-regression",
        }
    }

    /// The algorithms that do `task`.
    pub fn for_task(task: Task) -> &'static [Algorithm] {
        match task {
            Task::Classification => &[
                Algorithm::RandomForest,
                Algorithm::LogisticRegression,
                Algorithm::DecisionTree,
            ],
            Task::Regression => &[
                Algorithm::RandomForest,
                Algorithm::LinearRegression,
                Algorithm::DecisionTree,
            ],
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

fn check_algorithm(algorithm: Algorithm, task: Task) -> Result<(), TrainError> {
    if Algorithm::for_task(task).contains(&algorithm) {
        Ok(())
    } else {
        Err(wrong_task(algorithm, task))
    }
}

fn wrong_task(algorithm: Algorithm, task: Task) -> TrainError {
    let choices = Algorithm::for_task(task);
    TrainError::AlgorithmForTask {
        algorithm,
        task,
        choices: choices
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn fit_classifier(
    algorithm: Algorithm,
    x: &Matrix,
    y: &Labels,
    seed: u64,
) -> Result<Classifier, TrainError> {
    Ok(match algorithm {
        Algorithm::RandomForest => Classifier::RandomForest(
            RandomForestClassifier::fit(
                x,
                y,
                RandomForestClassifierParameters::default()
                    .with_n_trees(100)
                    .with_seed(seed),
            )
            .map_err(smartcore("fit the random forest"))?,
        ),
        Algorithm::LogisticRegression => Classifier::LogisticRegression(
            LogisticRegression::fit(x, y, LogisticRegressionParameters::default())
                .map_err(smartcore("fit the logistic regression"))?,
        ),
        Algorithm::DecisionTree => {
            let params = DecisionTreeClassifierParameters {
                seed: Some(seed),
                ..Default::default()
            };
            Classifier::DecisionTree(
                DecisionTreeClassifier::fit(x, y, params)
                    .map_err(smartcore("fit the decision tree"))?,
            )
        }
        Algorithm::LinearRegression => return Err(wrong_task(algorithm, Task::Classification)),
    })
}

fn fit_regressor(
    algorithm: Algorithm,
    x: &Matrix,
    y: &Values,
    seed: u64,
) -> Result<Regressor, TrainError> {
    Ok(match algorithm {
        Algorithm::RandomForest => Regressor::RandomForest(
            RandomForestRegressor::fit(
                x,
                y,
                RandomForestRegressorParameters::default()
                    .with_n_trees(100)
                    .with_seed(seed),
            )
            .map_err(smartcore("fit the random forest"))?,
        ),
        Algorithm::LinearRegression => Regressor::LinearRegression(
            LinearRegression::fit(x, y, LinearRegressionParameters::default())
                .map_err(smartcore("fit the linear regression"))?,
        ),
        Algorithm::DecisionTree => Regressor::DecisionTree(
            DecisionTreeRegressor::fit(
                x,
                y,
                DecisionTreeRegressorParameters {
                    seed: Some(seed),
                    ..Default::default()
                },
            )
            .map_err(smartcore("fit the decision tree"))?,
        ),
        Algorithm::LogisticRegression => return Err(wrong_task(algorithm, Task::Regression)),
    })
}

/// Trains on the Iris training split and measures accuracy on the held-out split.
///
/// Deterministic for a given seed: the split and the estimators are seeded.
pub fn train(opts: &TrainOptions) -> Result<Artifact, TrainError> {
    check_options(opts)?;
    check_algorithm(opts.algorithm, Task::Classification)?;
    let iris = smartcore::dataset::iris::load_dataset();
    let x = Matrix::new(iris.num_samples, iris.num_features, iris.data, false)
        .map_err(smartcore("build the feature matrix"))?;
    let (x_train, x_test, y_train, y_test) =
        train_test_split(&x, &iris.target, opts.test_size, true, Some(opts.seed));

    let classifier = fit_classifier(opts.algorithm, &x_train, &y_train, opts.seed)?;
    let predicted = classifier
        .predict(&x_test)
        .map_err(smartcore("predict the held-out split"))?;
    let accuracy = smartcore::metrics::accuracy(&y_test, &predicted);

    let training = TrainingInfo {
        data_set: "iris".to_owned(),
        target: None,
        seed: opts.seed,
        train_rows: y_train.len(),
        test_rows: y_test.len(),
        test_accuracy: Some(accuracy),
        test_rmse: None,
        test_r2: None,
        smartcore_version: "0.7".to_owned(),
    };
    let feature_names = iris
        .feature_names
        .iter()
        .map(|n| feature_key(n))
        .collect::<Vec<_>>();
    let rows = rows_of(&x_train);
    let reference = Reference::for_classes(
        &feature_names,
        &rows,
        &y_train,
        iris.target_names.len(),
        reference::DEFAULT_BINS,
    );
    Ok(Artifact::new(
        opts.name.clone(),
        feature_names,
        iris.target_names,
        training,
        reference,
        classifier,
    ))
}

/// A model trained on a table, with what the trainer decided on the way.
#[derive(Debug)]
pub struct TableTraining {
    pub artifact: Artifact,
    pub task: Task,
    /// Why this task: `--task`, or the rule of [`Table::default_task`].
    pub task_reason: String,
}

/// Trains on a table: `task` as given, or [`Table::default_task`]. The held-out metrics
/// are accuracy (classification), or RMSE and R² (regression).
///
/// Deterministic for a given seed: the split and the estimators are seeded.
pub fn train_table(
    table: &Table,
    task: Option<Task>,
    opts: &TrainOptions,
) -> Result<TableTraining, TrainError> {
    check_options(opts)?;
    let (task, task_reason) = match task {
        Some(task) => (task, "--task".to_owned()),
        None => table.default_task(),
    };
    check_algorithm(opts.algorithm, task)?;
    let path = table.path.display().to_string();
    let n = table.len();
    if n < MIN_ROWS {
        return Err(TrainError::TooFewRows { path, rows: n });
    }
    // As smartcore's train_test_split counts them (it panics on an empty test split).
    let test = ((n as f32) * opts.test_size) as usize;
    if test < 1 || n - test < MIN_TRAIN_ROWS {
        return Err(TrainError::SplitTooSmall {
            rows: n,
            test_size: opts.test_size,
            train: n - test.min(n),
            test,
        });
    }
    let n_features = table.feature_names.len();
    let flat: Vec<f32> = table
        .rows
        .iter()
        .flat_map(|r| r.iter().map(|&v| v as f32))
        .collect();
    let x =
        Matrix::new(n, n_features, flat, false).map_err(smartcore("build the feature matrix"))?;
    let feature_names = table.feature_names.clone();
    let data_set = table
        .path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.clone());
    let mut training = TrainingInfo {
        data_set,
        target: Some(table.target_name.clone()),
        seed: opts.seed,
        train_rows: 0,
        test_rows: 0,
        test_accuracy: None,
        test_rmse: None,
        test_r2: None,
        smartcore_version: "0.7".to_owned(),
    };

    let artifact = match task {
        Task::Classification => {
            let (class_names, ids) = table.classes()?;
            if class_names.len() < 2 {
                return Err(TrainError::SingleClass {
                    path,
                    target: table.target_name.clone(),
                    class: class_names.into_iter().next().unwrap_or_default(),
                });
            }
            if class_names.len() > MAX_CLASSES {
                return Err(TrainError::TooManyClasses {
                    path,
                    target: table.target_name.clone(),
                    classes: class_names.len(),
                });
            }
            let (x_train, x_test, y_train, y_test) =
                train_test_split(&x, &ids, opts.test_size, true, Some(opts.seed));
            if let Some(&first) = y_train.first() {
                if y_train.iter().all(|&c| c == first) {
                    return Err(TrainError::SingleClassInSplit {
                        class: class_names[first as usize].clone(),
                    });
                }
            }
            let classifier = fit_classifier(opts.algorithm, &x_train, &y_train, opts.seed)?;
            let predicted = classifier
                .predict(&x_test)
                .map_err(smartcore("predict the held-out split"))?;
            training.train_rows = y_train.len();
            training.test_rows = y_test.len();
            training.test_accuracy = Some(smartcore::metrics::accuracy(&y_test, &predicted));
            let reference = Reference::for_classes(
                &feature_names,
                &rows_of(&x_train),
                &y_train,
                class_names.len(),
                reference::DEFAULT_BINS,
            );
            Artifact::new(
                opts.name.clone(),
                feature_names,
                class_names,
                training,
                reference,
                classifier,
            )
        }
        Task::Regression => {
            let values = table.values()?;
            if let Some(&first) = values.first() {
                if values.iter().all(|&v| v == first) {
                    return Err(TrainError::ConstantTarget {
                        path,
                        target: table.target_name.clone(),
                        value: first,
                    });
                }
            }
            let (x_train, x_test, y_train, y_test) =
                train_test_split(&x, &values, opts.test_size, true, Some(opts.seed));
            let regressor = fit_regressor(opts.algorithm, &x_train, &y_train, opts.seed)?;
            let predicted = regressor
                .predict(&x_test)
                .map_err(smartcore("predict the held-out split"))?;
            let (rmse, r2) = rmse_r2(&y_test, &predicted);
            training.train_rows = y_train.len();
            training.test_rows = y_test.len();
            training.test_rmse = Some(rmse);
            training.test_r2 = r2;
            let on_training = regressor
                .predict(&x_train)
                .map_err(smartcore("predict the training split"))?;
            let reference = Reference::for_values(
                &feature_names,
                &rows_of(&x_train),
                &on_training,
                reference::DEFAULT_BINS,
            );
            Artifact::new(
                opts.name.clone(),
                feature_names,
                Vec::new(),
                training,
                reference,
                regressor,
            )
        }
    };
    Ok(TableTraining {
        artifact,
        task,
        task_reason,
    })
}

/// Root mean squared error, and the coefficient of determination (`None` when the
/// held-out targets do not vary, where it is undefined).
pub fn rmse_r2(actual: &[f64], predicted: &[f64]) -> (f64, Option<f64>) {
    let n = actual.len().max(1) as f64;
    let sse: f64 = actual
        .iter()
        .zip(predicted)
        .map(|(a, p)| (a - p) * (a - p))
        .sum();
    let mean = actual.iter().sum::<f64>() / n;
    let sst: f64 = actual.iter().map(|a| (a - mean) * (a - mean)).sum();
    let r2 = (sst > 0.0).then(|| 1.0 - sse / sst);
    ((sse / n).sqrt(), r2)
}

/// The rows of a matrix, widened to f64.
fn rows_of(x: &Matrix) -> Vec<Vec<f64>> {
    use smartcore::linalg::basic::arrays::Array;
    let (n, f) = x.shape();
    (0..n)
        .map(|i| (0..f).map(|j| f64::from(*x.get((i, j)))).collect())
        .collect()
}

/// `"sepal length (cm)"` → `"sepal_length_cm"`: names safe for JSON keys and docs.
fn feature_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c.to_ascii_lowercase());
        } else if !key.ends_with('_') {
            key.push('_');
        }
    }
    key.trim_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_keys_are_snake_case() {
        assert_eq!(feature_key("sepal length (cm)"), "sepal_length_cm");
        assert_eq!(feature_key("petal width (cm)"), "petal_width_cm");
    }

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

    #[test]
    fn every_algorithm_beats_ninety_percent_held_out() {
        for &algorithm in Algorithm::for_task(Task::Classification) {
            let artifact = train(&TrainOptions {
                algorithm,
                ..TrainOptions::default()
            })
            .unwrap();
            let info = artifact.training();
            assert_eq!(info.train_rows + info.test_rows, 150);
            assert_eq!(info.test_rows, 30);
            let accuracy = info.test_accuracy.unwrap();
            assert!(accuracy > 0.9, "{algorithm}: held-out accuracy {accuracy}");
        }
        assert!(matches!(
            train(&TrainOptions {
                algorithm: Algorithm::LinearRegression,
                ..TrainOptions::default()
            }),
            Err(TrainError::AlgorithmForTask { .. })
        ));
    }

    #[test]
    fn training_is_deterministic_for_a_seed() {
        let opts = TrainOptions::default();
        let a = train(&opts).unwrap();
        let b = train(&opts).unwrap();
        assert_eq!(a.version(), b.version());
        assert_eq!(a.checksum(), b.checksum());
        let other = train(&TrainOptions {
            seed: 7,
            ..TrainOptions::default()
        })
        .unwrap();
        assert_ne!(a.version(), other.version());
    }

    #[test]
    fn rmse_and_r2_by_hand() {
        // Errors 1, -1, 0, 0: SSE 2, RMSE sqrt(2/4); mean 2.5, SST 5, R² 1 - 2/5.
        let (rmse, r2) = rmse_r2(&[1.0, 2.0, 3.0, 4.0], &[2.0, 1.0, 3.0, 4.0]);
        assert!((rmse - 0.5f64.sqrt()).abs() < 1e-12);
        assert!((r2.unwrap() - 0.6).abs() < 1e-12);
        assert_eq!(rmse_r2(&[1.0, 1.0], &[1.0, 2.0]).1, None);
    }
}
