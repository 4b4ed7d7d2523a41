//! The fitted models the server can hold: a smartcore [`Classifier`] or [`Regressor`], one
//! variant per supported algorithm, the [`Estimator`] that is either, and the [`Task`] each
//! does.

use std::fmt;

use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_classifier::RandomForestClassifier;
use smartcore::ensemble::random_forest_regressor::RandomForestRegressor;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::linear_regression::LinearRegression;
use smartcore::linear::logistic_regression::LogisticRegression;
use smartcore::tree::decision_tree_classifier::DecisionTreeClassifier;
use smartcore::tree::decision_tree_regressor::DecisionTreeRegressor;

use super::Algorithm;

/// Feature matrix type used by every estimator (row-major `f32`).
pub type Matrix = DenseMatrix<f32>;
/// Label vector type used by every classifier (class ids).
pub type Labels = Vec<u32>;
/// Target vector type used by every regressor.
pub type Values = Vec<f64>;

/// What a model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// One of a fixed set of classes.
    #[default]
    Classification,
    /// A number.
    Regression,
}

impl Task {
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Classification => "classification",
            Task::Regression => "regression",
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fitted smartcore classifier, one variant per supported algorithm.
///
/// Serialized externally tagged (`{"random-forest": {...}}`) so the artifact
/// says which algorithm it holds and deserialization needs no buffering.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Classifier {
    RandomForest(RandomForestClassifier<f32, u32, Matrix, Labels>),
    LogisticRegression(LogisticRegression<f32, u32, Matrix, Labels>),
    DecisionTree(DecisionTreeClassifier<f32, u32, Matrix, Labels>),
}

impl Classifier {
    /// The algorithm this classifier was trained with.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Classifier::RandomForest(_) => Algorithm::RandomForest,
            Classifier::LogisticRegression(_) => Algorithm::LogisticRegression,
            Classifier::DecisionTree(_) => Algorithm::DecisionTree,
        }
    }

    pub(super) fn predict(&self, x: &Matrix) -> Result<Labels, smartcore::error::Failed> {
        match self {
            Classifier::RandomForest(m) => m.predict(x),
            Classifier::LogisticRegression(m) => m.predict(x),
            Classifier::DecisionTree(m) => m.predict(x),
        }
    }
}

/// A fitted smartcore regressor, serialized like [`Classifier`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Regressor {
    RandomForest(RandomForestRegressor<f32, f64, Matrix, Values>),
    LinearRegression(LinearRegression<f32, f64, Matrix, Values>),
    DecisionTree(DecisionTreeRegressor<f32, f64, Matrix, Values>),
}

impl Regressor {
    /// The algorithm this regressor was trained with.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Regressor::RandomForest(_) => Algorithm::RandomForest,
            Regressor::LinearRegression(_) => Algorithm::LinearRegression,
            Regressor::DecisionTree(_) => Algorithm::DecisionTree,
        }
    }

    pub(super) fn predict(&self, x: &Matrix) -> Result<Values, smartcore::error::Failed> {
        match self {
            Regressor::RandomForest(m) => m.predict(x),
            Regressor::LinearRegression(m) => m.predict(x),
            Regressor::DecisionTree(m) => m.predict(x),
        }
    }
}

/// A fitted model of either task.
#[derive(Debug)]
pub enum Estimator {
    Classifier(Classifier),
    Regressor(Regressor),
}

impl Estimator {
    pub fn task(&self) -> Task {
        match self {
            Estimator::Classifier(_) => Task::Classification,
            Estimator::Regressor(_) => Task::Regression,
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            Estimator::Classifier(c) => c.algorithm(),
            Estimator::Regressor(r) => r.algorithm(),
        }
    }
}

impl From<Classifier> for Estimator {
    fn from(c: Classifier) -> Self {
        Estimator::Classifier(c)
    }
}

impl From<Regressor> for Estimator {
    fn from(r: Regressor) -> Self {
        Estimator::Regressor(r)
    }
}
