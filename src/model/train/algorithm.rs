//! The algorithms `train` knows: which task each does, and fitting each with smartcore.

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
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters,
};
use smartcore::tree::decision_tree_regressor::{
    DecisionTreeRegressor, DecisionTreeRegressorParameters,
};

use super::{smartcore, TrainError};
use crate::model::{Classifier, Labels, Matrix, Regressor, Task, Values};

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

pub(super) fn check_algorithm(algorithm: Algorithm, task: Task) -> Result<(), TrainError> {
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

pub(super) fn fit_classifier(
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

pub(super) fn fit_regressor(
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
