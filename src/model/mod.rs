//! The served model: a smartcore classifier or regressor with its names and identity.
//!
//! [`Model`] is what the HTTP layer holds; it is built either by [`train::train`]
//! (the embedded Iris default), by [`train::train_table`] (a CSV file) or loaded from a
//! versioned [`artifact`] file.
//!
//! Here: the [`Model`] and its [`Prediction`]s. Beside it: `estimator` (the fitted smartcore
//! models and their task), `train`, `table` (CSV input), `artifact` (the file format),
//! `validate` (structural checks of a fitted model), `rows` (the input batch), `reference` (drift)
//! and `cost`.

pub mod artifact;
pub mod cost;
mod estimator;
pub mod reference;
pub mod rows;
pub mod table;
pub mod train;
pub mod validate;

use serde::Serialize;

pub use artifact::TrainingInfo;
pub use estimator::{Classifier, Estimator, Labels, Matrix, Regressor, Task, Values};
pub use rows::{Rows, RowsError};
pub use train::Algorithm;

/// Boundaries of `prediction_value` for a regression model without a training reference.
pub const DEFAULT_VALUE_BUCKETS: [f64; 13] = [
    -1000.0, -100.0, -10.0, -1.0, -0.1, 0.0, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0,
];

/// `v` rounded to three significant digits (`16.105` → `16.1`, `142036` → `142000`).
fn three_significant_digits(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(2 - v.abs().log10().floor() as i32);
    if !scale.is_finite() || scale == 0.0 {
        return v;
    }
    let rounded = (v * scale).round() / scale;
    if rounded.is_finite() {
        rounded
    } else {
        v
    }
}

/// Why a prediction could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    #[error("expected {expected} features per row, got {got}")]
    WrongFeatureCount { expected: usize, got: usize },
    #[error("the model returned class id {0}, which it has no name for")]
    UnknownClass(u32),
    #[error("the model returned {value} for row {row}, which is not a finite number")]
    NonFiniteValue { row: usize, value: f64 },
    #[error("the model failed to predict: {0}")]
    Model(String),
}

/// One predicted row: a class (its name and id) or a value. Serialized untagged:
/// `{"class": "setosa", "class_id": 0}` or `{"value": 3.2}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Prediction {
    Class { class: &'static str, class_id: u32 },
    Value { value: f64 },
}

impl Prediction {
    /// The class name and id, for a classifier's prediction.
    pub fn class(&self) -> Option<(&'static str, u32)> {
        match *self {
            Prediction::Class { class, class_id } => Some((class, class_id)),
            Prediction::Value { .. } => None,
        }
    }

    /// The value, for a regressor's prediction.
    pub fn value(&self) -> Option<f64> {
        match *self {
            Prediction::Value { value } => Some(value),
            Prediction::Class { .. } => None,
        }
    }
}

/// A loaded model ready to serve predictions.
#[derive(Debug)]
pub struct Model {
    name: String,
    version: String,
    feature_names: Vec<String>,
    /// Leaked once at load so predictions can hand out `&'static str` names
    /// (metric labels and JSON) without allocating per row. Empty for regression.
    class_names: &'static [&'static str],
    estimator: Estimator,
    /// What drift is measured against, when the model carries one.
    reference: Option<reference::Reference>,
    /// Upper bound of the work of one row (see [`cost`]).
    work_per_row: u64,
    /// How the model was trained, when known.
    training: Option<TrainingInfo>,
}

impl Model {
    /// Assembles a model; `class_names` are leaked for the life of the process
    /// (a server loads one model, so this is a fixed, small cost). A regressor has none.
    pub fn new(
        name: String,
        version: String,
        feature_names: Vec<String>,
        class_names: Vec<String>,
        estimator: impl Into<Estimator>,
    ) -> Self {
        let names: Vec<&'static str> = class_names
            .into_iter()
            .map(|n| &*Box::leak(n.into_boxed_str()))
            .collect();
        let estimator = estimator.into();
        Model {
            name,
            version,
            feature_names,
            class_names: Box::leak(names.into_boxed_slice()),
            work_per_row: match &estimator {
                Estimator::Classifier(c) => cost::work_per_row(c),
                Estimator::Regressor(r) => cost::work_per_row(r),
            },
            estimator,
            reference: None,
            training: None,
        }
    }

    /// Attaches the training reference (see [`reference`](mod@reference)).
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

    /// Attaches how the model was trained (shown by `GET /`).
    pub fn with_training(mut self, training: Option<TrainingInfo>) -> Self {
        self.training = training;
        self
    }

    /// How the model was trained, if known.
    pub fn training(&self) -> Option<&TrainingInfo> {
        self.training.as_ref()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn task(&self) -> Task {
        self.estimator.task()
    }

    pub fn algorithm(&self) -> Algorithm {
        self.estimator.algorithm()
    }

    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The class names by class id; empty for a regression model.
    pub fn class_names(&self) -> &'static [&'static str] {
        self.class_names
    }

    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    /// Histogram boundaries for a regression model's predicted values: the deciles of its
    /// predictions on the training rows (from the training reference), rounded to three
    /// significant digits for readable `le` labels, repeats dropped; or
    /// [`DEFAULT_VALUE_BUCKETS`] when the model carries no usable reference.
    pub fn prediction_buckets(&self) -> Vec<f64> {
        let mut buckets: Vec<f64> = match self.reference.as_ref().map(|r| &r.output) {
            Some(reference::OutputReference::PredictionQuantiles { values, .. }) => values
                .iter()
                .map(|&v| three_significant_digits(v))
                .filter(|v| v.is_finite())
                .collect(),
            _ => Vec::new(),
        };
        buckets.dedup();
        if buckets.len() < 2 || buckets.windows(2).any(|w| w[0] >= w[1]) {
            return DEFAULT_VALUE_BUCKETS.to_vec();
        }
        buckets
    }

    /// Predicts one class or value per row. The rows must be [`Model::n_features`] wide.
    pub fn predict(&self, rows: &Rows) -> Result<Vec<Prediction>, PredictError> {
        let n = self.n_features();
        if rows.width() != n {
            return Err(PredictError::WrongFeatureCount {
                expected: n,
                got: rows.width(),
            });
        }
        let x = Matrix::new(rows.len(), n, rows.as_slice().to_vec(), false)
            .map_err(|e| PredictError::Model(e.to_string()))?;
        match &self.estimator {
            Estimator::Classifier(classifier) => classifier
                .predict(&x)
                .map_err(|e| PredictError::Model(e.to_string()))?
                .into_iter()
                .map(|id| {
                    let class = self
                        .class_names
                        .get(id as usize)
                        .ok_or(PredictError::UnknownClass(id))?;
                    Ok(Prediction::Class {
                        class,
                        class_id: id,
                    })
                })
                .collect(),
            Estimator::Regressor(regressor) => regressor
                .predict(&x)
                .map_err(|e| PredictError::Model(e.to_string()))?
                .into_iter()
                .enumerate()
                .map(|(row, value)| {
                    if value.is_finite() {
                        Ok(Prediction::Value { value })
                    } else {
                        Err(PredictError::NonFiniteValue { row, value })
                    }
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_significant_digits_by_example() {
        assert_eq!(three_significant_digits(16.105116666666675), 16.1);
        assert_eq!(three_significant_digits(142036.0), 142000.0);
        assert_eq!(three_significant_digits(-0.0012345), -0.00123);
        assert_eq!(three_significant_digits(0.0), 0.0);
        assert_eq!(three_significant_digits(f64::MAX), f64::MAX);
    }
}
