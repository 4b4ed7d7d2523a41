//! Reading an artifact from its bytes, and verifying everything in it before it is served.
//!
//! [`Artifact::from_bytes`] is a pipeline; each step refuses one kind of wrong file, in
//! this order, so a file wrong in several ways is named by the first:
//! 1. *probe*: the bytes are a JSON object that says it is an artifact, in a format version
//!    this build reads;
//! 2. *verify the checksum*: the body's bytes, exactly as written, hash to the checksum;
//! 3. *resolve the task*: the body matches the schema and holds exactly what its task needs
//!    (a classifier and class names, or a regressor);
//! 4. *check the fitted model*: its structure is sound ([`crate::model::validate`]), and only
//!    then does smartcore read it; the drift reference must fit its features and classes;
//! 5. *check identity*: the algorithm and version the body claims are those of its fitted
//!    model.
//!
//! The envelope (format, format version, checksum and the body's bytes) comes from one
//! parse. The body is parsed once more, typed, over the whole file, so that a schema error
//! names its line and column in the file; that parse comes after the checksum, so a
//! corrupted file is reported as corrupt. The fitted model is read twice: into the mirror
//! types of the structural check, then by smartcore.

use std::path::Path;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::{checksum_of, version_of, Artifact, ArtifactError, TrainingInfo};
use super::{FORMAT, READABLE_VERSIONS};
use crate::model::reference::Reference;
use crate::model::validate::{self, CheckError};
use crate::model::{Algorithm, Classifier, Estimator, Regressor, Task};

/// The envelope as written, with the body kept as its exact bytes for the checksum.
/// `format` and `format_version` are read loosely here and judged by [`Reading::probe`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeIn<'a> {
    format: Option<Value>,
    format_version: Option<Value>,
    checksum: String,
    #[serde(borrow)]
    body: &'a RawValue,
}

/// Just enough of the envelope to tell what a file claims to be, whatever else is wrong
/// with it (unknown fields, a missing checksum).
#[derive(Deserialize)]
struct Probe {
    format: Option<Value>,
    format_version: Option<Value>,
}

/// The envelope with the body parsed (but the fitted model still raw), so schema errors
/// carry line and column in the file.
#[derive(Deserialize)]
struct TypedEnvelope<'a> {
    #[serde(borrow)]
    body: BodyIn<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BodyIn<'a> {
    name: String,
    version: String,
    /// Required from format 3 on; format 2 has none (always classification).
    #[serde(default)]
    task: Option<Task>,
    algorithm: Algorithm,
    feature_names: Vec<String>,
    #[serde(default)]
    class_names: Option<Vec<String>>,
    training: TrainingInfo,
    /// What drift is measured against; files written before it existed have none.
    #[serde(default)]
    reference: Option<Reference>,
    #[serde(borrow, default)]
    classifier: Option<&'a RawValue>,
    #[serde(borrow, default)]
    regressor: Option<&'a RawValue>,
}

/// What the probe found: a readable format version, and the body with its checksum.
struct Envelope<'a> {
    format_version: u64,
    checksum: String,
    body: &'a RawValue,
}

/// The fitted model a body holds, once its task is known.
struct Fitted<'a> {
    task: Task,
    /// The body field that holds it: `classifier` or `regressor`.
    field: &'static str,
    json: &'a RawValue,
    /// Empty for a regressor.
    class_names: Vec<String>,
}

/// Short JSON text of a value for an error message.
fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

impl Artifact {
    /// Parses and verifies artifact bytes; `path` is only used in error messages.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self, ArtifactError> {
        let file = Reading { path };
        let envelope = file.probe(bytes)?;
        file.verify_checksum(&envelope)?;
        let mut body = file.parse_body(bytes)?;
        let fitted = file.resolve_task(envelope.format_version, &mut body)?;
        let estimator = file.check_fitted(&fitted, body.feature_names.len())?;
        file.check_reference(&body, &fitted)?;
        let version = file.check_identity(&body, &fitted, &estimator)?;
        Ok(Artifact {
            format_version: envelope.format_version,
            checksum: envelope.checksum,
            body_json: envelope.body.get().to_owned(),
            name: body.name,
            version,
            feature_names: body.feature_names,
            class_names: fitted.class_names,
            training: body.training,
            reference: body.reference,
            estimator,
        })
    }
}

/// The file being read: the steps of [`Artifact::from_bytes`], each naming the file in
/// the errors it returns.
struct Reading<'p> {
    path: &'p Path,
}

impl Reading<'_> {
    /// What the file claims to be: an object whose `format` is ours, in a readable
    /// `format_version`, with a checksum and a body.
    fn probe<'a>(&self, bytes: &'a [u8]) -> Result<Envelope<'a>, ArtifactError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ArtifactError::Empty {
                path: self.path.to_owned(),
            });
        }
        // serde would also read a struct from an array: only an object is an artifact.
        if bytes.trim_ascii_start().first() != Some(&b'{') {
            serde_json::from_slice::<IgnoredAny>(bytes).map_err(|e| self.json_error(e))?;
            return Err(ArtifactError::WrongFormat {
                path: self.path.to_owned(),
                found: "the JSON is not an object".to_owned(),
            });
        }
        match serde_json::from_slice::<EnvelopeIn>(bytes) {
            Ok(envelope) => Ok(Envelope {
                format_version: self
                    .readable_version(envelope.format.as_ref(), envelope.format_version.as_ref())?,
                checksum: envelope.checksum,
                body: envelope.body,
            }),
            // What the file claims to be is reported first, as it says more (a file of
            // another program, or of a format version this build does not read); only
            // then that the envelope does not match the schema.
            Err(envelope) => {
                let probe: Probe = serde_json::from_slice(bytes).map_err(|e| self.json_error(e))?;
                self.readable_version(probe.format.as_ref(), probe.format_version.as_ref())?;
                Err(self.schema(envelope))
            }
        }
    }

    /// The format version, if `format` is ours and the version one this build reads.
    fn readable_version(
        &self,
        format: Option<&Value>,
        format_version: Option<&Value>,
    ) -> Result<u64, ArtifactError> {
        let path = self.path.to_owned();
        match format {
            Some(Value::String(f)) if f == FORMAT => {}
            Some(other) => {
                return Err(ArtifactError::WrongFormat {
                    path,
                    found: format!("its format is {}", short(other)),
                })
            }
            None => {
                return Err(ArtifactError::WrongFormat {
                    path,
                    found: "it has no \"format\" field".to_owned(),
                })
            }
        }
        let Some(version) = format_version else {
            return Err(ArtifactError::MissingFormatVersion { path });
        };
        match version.as_u64() {
            Some(found) if READABLE_VERSIONS.contains(&found) => Ok(found),
            Some(found) => Err(ArtifactError::UnsupportedVersion { path, found }),
            None => Err(ArtifactError::BadFormatVersion {
                path,
                found: short(version),
            }),
        }
    }

    /// The body's bytes, exactly as written, hash to the checksum.
    fn verify_checksum(&self, envelope: &Envelope) -> Result<(), ArtifactError> {
        let actual = checksum_of(envelope.body.get());
        if actual == envelope.checksum {
            Ok(())
        } else {
            Err(ArtifactError::ChecksumMismatch {
                path: self.path.to_owned(),
                expected: envelope.checksum.clone(),
                actual,
            })
        }
    }

    /// The body, typed (the fitted model still raw).
    fn parse_body<'a>(&self, bytes: &'a [u8]) -> Result<BodyIn<'a>, ArtifactError> {
        serde_json::from_slice::<TypedEnvelope>(bytes)
            .map(|envelope| envelope.body)
            .map_err(|e| self.schema(e))
    }

    /// Which task the body holds, and that it holds exactly what that task needs; takes
    /// the fitted model and the class names out of the body.
    fn resolve_task<'a>(
        &self,
        format_version: u64,
        body: &mut BodyIn<'a>,
    ) -> Result<Fitted<'a>, ArtifactError> {
        let task = match (format_version, body.task) {
            (2, None) => Task::Classification,
            (2, Some(_)) => return Err(self.inconsistent("format_version 2 files have no task")),
            (_, Some(task)) => task,
            (_, None) => {
                return Err(self.inconsistent(format!(
                    "format_version {format_version} files name their task"
                )))
            }
        };
        if body.feature_names.is_empty() {
            return Err(self.inconsistent("feature_names must not be empty"));
        }
        match (task, body.classifier, body.regressor) {
            (Task::Classification, Some(json), None) => match body.class_names.take() {
                Some(class_names) if !class_names.is_empty() => Ok(Fitted {
                    task,
                    field: "classifier",
                    json,
                    class_names,
                }),
                _ => Err(self.inconsistent("a classification model needs non-empty class_names")),
            },
            (Task::Regression, None, Some(json)) if body.class_names.is_none() => Ok(Fitted {
                task,
                field: "regressor",
                json,
                class_names: Vec::new(),
            }),
            (Task::Regression, None, Some(_)) => {
                Err(self.inconsistent("a regression model has no class_names"))
            }
            (Task::Classification, _, _) => {
                Err(self.inconsistent("a classification model holds a classifier and no regressor"))
            }
            (Task::Regression, _, _) => {
                Err(self.inconsistent("a regression model holds a regressor and no classifier"))
            }
        }
    }

    /// The fitted model's structure is sound; only then does smartcore read it.
    fn check_fitted(&self, fitted: &Fitted, n_features: usize) -> Result<Estimator, ArtifactError> {
        let json = fitted.json.get();
        let fitted_schema = |source| ArtifactError::FittedModelSchema {
            field: fitted.field,
            path: self.path.to_owned(),
            source,
        };
        match fitted.task {
            Task::Classification => {
                validate::check_classifier(json, n_features, fitted.class_names.len())
            }
            Task::Regression => validate::check_regressor(json, n_features),
        }
        .map_err(|e| match e {
            CheckError::Schema(source) => fitted_schema(source),
            CheckError::Structure(source) => ArtifactError::Structure {
                path: self.path.to_owned(),
                source,
            },
        })?;
        Ok(match fitted.task {
            Task::Classification => serde_json::from_str::<Classifier>(json)
                .map_err(fitted_schema)?
                .into(),
            Task::Regression => serde_json::from_str::<Regressor>(json)
                .map_err(fitted_schema)?
                .into(),
        })
    }

    /// The drift reference, if any, describes the model's features (and classes).
    fn check_reference(&self, body: &BodyIn, fitted: &Fitted) -> Result<(), ArtifactError> {
        let Some(reference) = &body.reference else {
            return Ok(());
        };
        let n_classes = (fitted.task == Task::Classification).then_some(fitted.class_names.len());
        reference
            .check(&body.feature_names, n_classes)
            .map_err(|reason| self.inconsistent(format!("training reference: {reason}")))
    }

    /// The algorithm and version the body claims are those of its fitted model; returns
    /// the version.
    fn check_identity(
        &self,
        body: &BodyIn,
        fitted: &Fitted,
        estimator: &Estimator,
    ) -> Result<String, ArtifactError> {
        if body.algorithm != estimator.algorithm() {
            return Err(self.inconsistent(format!(
                "algorithm says {} but the {} is a {}",
                body.algorithm,
                fitted.field,
                estimator.algorithm()
            )));
        }
        let version = version_of(&body.feature_names, &fitted.class_names, estimator);
        if version != body.version {
            return Err(ArtifactError::VersionMismatch {
                path: self.path.to_owned(),
                claimed: body.version.clone(),
                actual: version,
            });
        }
        Ok(version)
    }

    /// A JSON error in the envelope: the file ends early, is not JSON, or (a data error)
    /// does not match the schema.
    fn json_error(&self, source: serde_json::Error) -> ArtifactError {
        let path = self.path.to_owned();
        if source.is_eof() {
            ArtifactError::Truncated {
                path,
                line: source.line(),
                column: source.column(),
            }
        } else if source.is_data() {
            ArtifactError::Schema { path, source }
        } else {
            ArtifactError::NotJson { path, source }
        }
    }

    fn schema(&self, source: serde_json::Error) -> ArtifactError {
        ArtifactError::Schema {
            path: self.path.to_owned(),
            source,
        }
    }

    fn inconsistent(&self, reason: impl Into<String>) -> ArtifactError {
        ArtifactError::Inconsistent {
            path: self.path.to_owned(),
            reason: reason.into(),
        }
    }
}
