//! Training on a user's [`Table`] (`train --data FILE.csv`): the task as asked or as the
//! table suggests, a classifier or a regressor, and its held-out metrics.

use smartcore::model_selection::train_test_split;

use super::algorithm::{check_algorithm, fit_classifier, fit_regressor};
use super::{
    check_options, rows_of, smartcore, TrainError, TrainOptions, MAX_CLASSES, MIN_ROWS,
    MIN_TRAIN_ROWS,
};
use crate::model::artifact::{Artifact, TrainingInfo};
use crate::model::reference::{self, Reference};
use crate::model::table::Table;
use crate::model::{Matrix, Task};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmse_and_r2_by_hand() {
        // Errors 1, -1, 0, 0: SSE 2, RMSE sqrt(2/4); mean 2.5, SST 5, R² 1 - 2/5.
        let (rmse, r2) = rmse_r2(&[1.0, 2.0, 3.0, 4.0], &[2.0, 1.0, 3.0, 4.0]);
        assert!((rmse - 0.5f64.sqrt()).abs() < 1e-12);
        assert!((r2.unwrap() - 0.6).abs() < 1e-12);
        assert_eq!(rmse_r2(&[1.0, 1.0], &[1.0, 2.0]).1, None);
    }
}
