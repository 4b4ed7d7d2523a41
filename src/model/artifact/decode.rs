//! Reading an artifact from its bytes, and verifying everything in it before it is served:
//! what the file claims to be, its checksum, its schema, that its task, names and fitted
//! model agree, the fitted model's structure ([`crate::model::validate`]) and its version.

use std::path::Path;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{checksum_of, version_of, Artifact, ArtifactError, TrainingInfo};
use super::{FORMAT, READABLE_VERSIONS};
use crate::model::reference::Reference;
use crate::model::validate::{self, CheckError};
use crate::model::{Algorithm, Classifier, Estimator, Regressor, Task};

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

/// The envelope with the body kept as its exact bytes, for the checksum.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvelope<'a> {
    #[allow(dead_code)]
    format: IgnoredAny,
    #[allow(dead_code)]
    format_version: IgnoredAny,
    checksum: String,
    #[serde(borrow)]
    body: &'a RawValue,
}

/// The envelope with the body parsed (but the classifier still raw), so schema errors
/// carry line and column in the file.
#[derive(Deserialize)]
struct TypedEnvelope<'a> {
    #[serde(borrow)]
    body: BodyIn<'a>,
}

/// Just enough of the envelope to tell what a file claims to be.
#[derive(Deserialize)]
struct Probe {
    format: Option<serde_json::Value>,
    format_version: Option<serde_json::Value>,
}

/// Short JSON text of a value for an error message.
fn short(value: &serde_json::Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

impl Artifact {
    /// Parses and verifies artifact bytes; `path` is only used in error messages.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self, ArtifactError> {
        let path = path.to_owned();
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ArtifactError::Empty { path });
        }
        let json_error = |source: serde_json::Error| {
            if source.is_eof() {
                ArtifactError::Truncated {
                    path: path.clone(),
                    line: source.line(),
                    column: source.column(),
                }
            } else if source.is_data() {
                ArtifactError::Schema {
                    path: path.clone(),
                    source,
                }
            } else {
                ArtifactError::NotJson {
                    path: path.clone(),
                    source,
                }
            }
        };
        // serde would also read a struct from an array: only an object is an artifact.
        if bytes.trim_ascii_start().first() != Some(&b'{') {
            serde_json::from_slice::<IgnoredAny>(bytes).map_err(json_error)?;
            return Err(ArtifactError::WrongFormat {
                path,
                found: "the JSON is not an object".to_owned(),
            });
        }
        let probe: Probe = serde_json::from_slice(bytes).map_err(json_error)?;
        match &probe.format {
            Some(serde_json::Value::String(f)) if f == FORMAT => {}
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
        let format_version = match &probe.format_version {
            None => return Err(ArtifactError::MissingFormatVersion { path }),
            Some(v) => match v.as_u64() {
                Some(found) if READABLE_VERSIONS.contains(&found) => found,
                Some(found) => return Err(ArtifactError::UnsupportedVersion { path, found }),
                None => {
                    return Err(ArtifactError::BadFormatVersion {
                        path,
                        found: short(v),
                    })
                }
            },
        };

        let schema = |source| ArtifactError::Schema {
            path: path.clone(),
            source,
        };
        let raw: RawEnvelope = serde_json::from_slice(bytes).map_err(schema)?;
        let actual = checksum_of(raw.body.get());
        if actual != raw.checksum {
            return Err(ArtifactError::ChecksumMismatch {
                path,
                expected: raw.checksum,
                actual,
            });
        }
        let body = serde_json::from_slice::<TypedEnvelope>(bytes)
            .map_err(schema)?
            .body;

        let inconsistent = |reason: &str| ArtifactError::Inconsistent {
            path: path.clone(),
            reason: reason.to_owned(),
        };
        // Which task the body holds, and that it holds exactly what that task needs.
        let task = match (format_version, body.task) {
            (2, None) => Task::Classification,
            (2, Some(_)) => return Err(inconsistent("format_version 2 files have no task")),
            (_, Some(task)) => task,
            (_, None) => {
                return Err(inconsistent(&format!(
                    "format_version {format_version} files name their task"
                )))
            }
        };
        if body.feature_names.is_empty() {
            return Err(inconsistent("feature_names must not be empty"));
        }
        let (fitted, field, class_names) = match (task, body.classifier, body.regressor) {
            (Task::Classification, Some(c), None) => match body.class_names {
                Some(names) if !names.is_empty() => (c, "classifier", names),
                _ => {
                    return Err(inconsistent(
                        "a classification model needs non-empty class_names",
                    ))
                }
            },
            (Task::Regression, None, Some(r)) if body.class_names.is_none() => {
                (r, "regressor", Vec::new())
            }
            (Task::Regression, None, Some(_)) => {
                return Err(inconsistent("a regression model has no class_names"))
            }
            (Task::Classification, _, _) => {
                return Err(inconsistent(
                    "a classification model holds a classifier and no regressor",
                ))
            }
            (Task::Regression, _, _) => {
                return Err(inconsistent(
                    "a regression model holds a regressor and no classifier",
                ))
            }
        };
        let classifier_schema = |source| ArtifactError::ClassifierSchema {
            field,
            path: path.clone(),
            source,
        };
        let checked = match task {
            Task::Classification => {
                validate::check(fitted.get(), body.feature_names.len(), class_names.len())
            }
            Task::Regression => validate::check_regressor(fitted.get(), body.feature_names.len()),
        };
        checked.map_err(|e| match e {
            CheckError::Schema(source) => classifier_schema(source),
            CheckError::Structure(source) => ArtifactError::Structure {
                path: path.clone(),
                source,
            },
        })?;
        // Only now that its structure is known to be sound does smartcore get the model.
        let estimator: Estimator = match task {
            Task::Classification => serde_json::from_str::<Classifier>(fitted.get())
                .map_err(classifier_schema)?
                .into(),
            Task::Regression => serde_json::from_str::<Regressor>(fitted.get())
                .map_err(classifier_schema)?
                .into(),
        };
        if let Some(reference) = &body.reference {
            let n_classes = (task == Task::Classification).then_some(class_names.len());
            reference
                .check(&body.feature_names, n_classes)
                .map_err(|reason| inconsistent(&format!("training reference: {reason}")))?;
        }
        if body.algorithm != estimator.algorithm() {
            return Err(inconsistent(&format!(
                "algorithm says {} but the {field} is a {}",
                body.algorithm,
                estimator.algorithm()
            )));
        }
        let version = version_of(&body.feature_names, &class_names, &estimator);
        if version != body.version {
            return Err(ArtifactError::VersionMismatch {
                path,
                claimed: body.version,
                actual: version,
            });
        }
        Ok(Artifact {
            format_version,
            checksum: raw.checksum,
            body_json: raw.body.get().to_owned(),
            name: body.name,
            version,
            feature_names: body.feature_names,
            class_names,
            training: body.training,
            reference: body.reference,
            estimator,
        })
    }
}
