//! The served model: a smartcore classifier with its names and identity.
//!
//! [`Model`] is what the HTTP layer holds; it is built either by [`train::train`]
//! (the embedded default) or loaded from a versioned [`artifact`] file.

pub mod artifact;
pub mod cost;
pub mod reference;
pub mod train;
pub mod validate;

use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_classifier::RandomForestClassifier;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::LogisticRegression;
use smartcore::tree::decision_tree_classifier::DecisionTreeClassifier;

pub use train::Algorithm;

/// Feature matrix type used by every classifier (row-major `f32`).
pub type Matrix = DenseMatrix<f32>;
/// Label vector type used by every classifier (class ids).
pub type Labels = Vec<u32>;

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

    fn predict(&self, x: &Matrix) -> Result<Labels, smartcore::error::Failed> {
        match self {
            Classifier::RandomForest(m) => m.predict(x),
            Classifier::LogisticRegression(m) => m.predict(x),
            Classifier::DecisionTree(m) => m.predict(x),
        }
    }
}

/// Why a prediction could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    #[error("expected {expected} features per row, got {got}")]
    WrongFeatureCount { expected: usize, got: usize },
    #[error("the model returned class id {0}, which it has no name for")]
    UnknownClass(u32),
    #[error("the model failed to predict: {0}")]
    Model(String),
}

/// One predicted row: the class id and its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prediction {
    pub class: &'static str,
    pub class_id: u32,
}

/// A loaded model ready to serve predictions.
#[derive(Debug)]
pub struct Model {
    name: String,
    version: String,
    feature_names: Vec<String>,
    /// Leaked once at load so predictions can hand out `&'static str` names
    /// (metric labels and JSON) without allocating per row.
    class_names: &'static [&'static str],
    classifier: Classifier,
    /// What drift is measured against, when the model carries one.
    reference: Option<reference::Reference>,
    /// Upper bound of the work of one row (see [`cost`]).
    work_per_row: u64,
}

impl Model {
    /// Assembles a model; `class_names` are leaked for the life of the process
    /// (a server loads one model, so this is a fixed, small cost).
    pub fn new(
        name: String,
        version: String,
        feature_names: Vec<String>,
        class_names: Vec<String>,
        classifier: Classifier,
    ) -> Self {
        let names: Vec<&'static str> = class_names
            .into_iter()
            .map(|n| &*Box::leak(n.into_boxed_str()))
            .collect();
        Model {
            name,
            version,
            feature_names,
            class_names: Box::leak(names.into_boxed_slice()),
            work_per_row: cost::work_per_row(&classifier),
            classifier,
            reference: None,
        }
    }

    /// Attaches the training reference (see [`reference`]).
    pub fn with_reference(mut self, reference: Option<reference::Reference>) -> Self {
        self.reference = reference;
        self
    }

    /// An upper bound of the work of predicting one row, in parameters read.
    pub fn work_per_row(&self) -> u64 {
        self.work_per_row
    }

    /// The training reference, if the model carries one.
    pub fn reference(&self) -> Option<&reference::Reference> {
        self.reference.as_ref()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn algorithm(&self) -> Algorithm {
        self.classifier.algorithm()
    }

    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    pub fn class_names(&self) -> &'static [&'static str] {
        self.class_names
    }

    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    /// Predicts one class per row. Every row must have [`Model::n_features`] values.
    pub fn predict(&self, rows: &[Vec<f32>]) -> Result<Vec<Prediction>, PredictError> {
        let n = self.n_features();
        let mut flat = Vec::with_capacity(rows.len() * n);
        for row in rows {
            if row.len() != n {
                return Err(PredictError::WrongFeatureCount {
                    expected: n,
                    got: row.len(),
                });
            }
            flat.extend_from_slice(row);
        }
        let x = Matrix::new(rows.len(), n, flat, false)
            .map_err(|e| PredictError::Model(e.to_string()))?;
        let ids = self
            .classifier
            .predict(&x)
            .map_err(|e| PredictError::Model(e.to_string()))?;
        ids.into_iter()
            .map(|id| {
                let class = self
                    .class_names
                    .get(id as usize)
                    .ok_or(PredictError::UnknownClass(id))?;
                Ok(Prediction {
                    class,
                    class_id: id,
                })
            })
            .collect()
    }
}
