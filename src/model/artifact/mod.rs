//! The versioned model artifact written by `model-server train` and read by `serve --model`.
//!
//! Layout (JSON, format version 3):
//! ```json
//! {"format": "model-server.iris-classifier", "format_version": 3,
//!  "checksum": "sha256:<hex of the body's bytes exactly as they are in the file>",
//!  "body": {"name", "version", "task", "algorithm", "feature_names", "class_names",
//!           "training", "reference", "classifier" | "regressor"}}
//! ```
//! `task` is `classification` (with `class_names` and a `classifier`) or `regression`
//! (a `regressor`, no `class_names`). The `format` tag keeps its historical name: it names
//! the file format, which now holds any tabular model.
//!
//! Versions read: 3, and 2 (the same body without `task`, always a classifier, as
//! written before regression existed; it loads unchanged, with the same `version`).
//! Version 1 is refused with the command that retrains it.
//! The checksum covers every byte of `body` as written, so any edit (an added field, a digit
//! that would parse to the same float) shows; it detects corruption, it is not a signature.
//! `version` is derived from what predictions depend on (feature names, class names and the
//! fitted model's parameters) and checked at load, so two artifacts with the same version
//! predict the same. The fitted model's structure is checked ([`super::validate`]) before
//! smartcore sees it. Every way a file can be wrong is an [`ArtifactError`] that names the
//! file; loading never panics.
//!
//! Here: the format's constants, [`TrainingInfo`] and the [`Artifact`] itself. Beside it,
//! one concern each: `identity` (checksum and version), `encode` (writing the bytes),
//! `decode` (reading and verifying them), `file` (the file on disk) and `error`.

mod decode;
mod encode;
mod error;
mod file;
mod identity;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use super::reference::Reference;
use super::{Algorithm, Estimator, Model, Task};

pub use error::ArtifactError;
pub use identity::{checksum_of, version_of};

/// The `format` tag every artifact carries: the file format's historical name, kept so
/// that every file written since reads; it holds classifiers and regressors alike.
pub const FORMAT: &str = "model-server.iris-classifier";
/// The artifact layout this build writes. Version 1 checksummed a re-serialization of the
/// body and did not tie `version` to the class names; those files must be retrained.
/// Version 2 had no `task` and held only classifiers.
pub const FORMAT_VERSION: u64 = 3;
/// Older layouts this build still reads (see the module documentation).
pub const READABLE_VERSIONS: [u64; 2] = [2, 3];
/// Largest model file `serve` reads unless told otherwise (`--max-model-size`).
/// The default 100-tree forest is about 0.6 MB.
pub const DEFAULT_MAX_SIZE: usize = 256 << 20;

/// How the model was trained, kept for people reading the artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingInfo {
    /// `iris`, or the file name of the CSV.
    pub data_set: String,
    /// The target column of the CSV.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub seed: u64,
    pub train_rows: usize,
    pub test_rows: usize,
    /// Held-out accuracy (classification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_accuracy: Option<f64>,
    /// Held-out root mean squared error (regression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_rmse: Option<f64>,
    /// Held-out coefficient of determination (regression; absent when undefined).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_r2: Option<f64>,
    pub smartcore_version: String,
}

/// A trained model together with its metadata, as stored on disk.
#[derive(Debug)]
pub struct Artifact {
    /// The layout of `body_json`: [`FORMAT_VERSION`], or the older version it was read as.
    format_version: u64,
    checksum: String,
    /// The body exactly as written (and checksummed).
    body_json: String,
    name: String,
    version: String,
    feature_names: Vec<String>,
    /// Empty for a regressor.
    class_names: Vec<String>,
    training: TrainingInfo,
    reference: Option<Reference>,
    estimator: Estimator,
}

impl Artifact {
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    pub fn training(&self) -> &TrainingInfo {
        &self.training
    }

    pub fn task(&self) -> Task {
        self.estimator.task()
    }

    pub fn algorithm(&self) -> Algorithm {
        self.estimator.algorithm()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The class names by class id; empty for a regressor.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    pub fn reference(&self) -> Option<&Reference> {
        self.reference.as_ref()
    }

    /// Turns the artifact into a servable [`Model`].
    pub fn into_model(self) -> Model {
        Model::new(
            self.name,
            self.version,
            self.feature_names,
            self.class_names,
            self.estimator,
        )
        .with_reference(self.reference)
        .with_training(Some(self.training))
    }
}
