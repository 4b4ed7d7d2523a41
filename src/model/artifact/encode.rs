//! Writing an artifact: the body serialized once from a freshly trained estimator, and the
//! envelope around its exact bytes.

use serde::Serialize;
use serde_json::value::RawValue;

use super::{checksum_of, version_of, Artifact, TrainingInfo, FORMAT, FORMAT_VERSION};
use crate::model::reference::Reference;
use crate::model::{Algorithm, Classifier, Estimator, Regressor, Task};

#[derive(Serialize)]
struct BodyOut<'a> {
    name: &'a str,
    version: &'a str,
    task: Task,
    algorithm: Algorithm,
    feature_names: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    class_names: Option<&'a [String]>,
    training: &'a TrainingInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<&'a Reference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    classifier: Option<&'a Classifier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    regressor: Option<&'a Regressor>,
}

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    format: &'static str,
    format_version: u64,
    checksum: &'a str,
    body: &'a RawValue,
}

impl Artifact {
    /// Wraps a freshly trained estimator, deriving its version and checksum. A regressor
    /// takes no class names.
    pub fn new(
        name: String,
        feature_names: Vec<String>,
        class_names: Vec<String>,
        training: TrainingInfo,
        reference: Option<Reference>,
        estimator: impl Into<Estimator>,
    ) -> Self {
        let estimator = estimator.into();
        let version = version_of(&feature_names, &class_names, &estimator);
        let (classifier, regressor) = match &estimator {
            Estimator::Classifier(c) => (Some(c), None),
            Estimator::Regressor(r) => (None, Some(r)),
        };
        let pretty = serde_json::to_string_pretty(&BodyOut {
            name: &name,
            version: &version,
            task: estimator.task(),
            algorithm: estimator.algorithm(),
            feature_names: &feature_names,
            class_names: classifier.map(|_| class_names.as_slice()),
            training: &training,
            reference: reference.as_ref(),
            classifier,
            regressor,
        })
        .expect("artifact types serialize to JSON infallibly");
        // Indented one level to sit inside the envelope; JSON strings hold no raw newlines,
        // so this only touches whitespace between tokens.
        let body_json = pretty.replace('\n', "\n  ");
        Artifact {
            format_version: FORMAT_VERSION,
            checksum: checksum_of(&body_json),
            body_json,
            name,
            version,
            feature_names,
            class_names,
            training,
            reference,
            estimator,
        }
    }

    /// Serializes the artifact: pretty JSON with the body's exact checksummed bytes inside.
    pub fn to_bytes(&self) -> Vec<u8> {
        let body: &RawValue = serde_json::from_str(&self.body_json)
            .expect("the body was written or read as one JSON value");
        let mut bytes = serde_json::to_vec_pretty(&EnvelopeOut {
            format: FORMAT,
            format_version: self.format_version,
            checksum: &self.checksum,
            body,
        })
        .expect("artifact types serialize to JSON infallibly");
        bytes.push(b'\n');
        bytes
    }
}
