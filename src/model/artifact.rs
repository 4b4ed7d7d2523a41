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
//! classifier's parameters) and checked at load, so two artifacts with the same version
//! predict the same. The classifier's structure is checked ([`super::validate`]) before
//! smartcore sees it. Every way a file can be wrong is an [`ArtifactError`] that names the
//! file; loading never panics.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::reference::Reference;
use super::validate::{self, CheckError, StructureError};
use super::{Algorithm, Classifier, Estimator, Model, Regressor, Task};

/// The `format` tag every artifact carries.
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

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    format: &'static str,
    format_version: u64,
    checksum: &'a str,
    body: &'a RawValue,
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

/// Why an artifact could not be written or loaded. Every variant names the file.
///
/// Causes (OS and JSON errors) are [`std::error::Error::source`]s, not part of the message:
/// print with `{:#}` (anyhow) or walk the chain to see them once.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("cannot read model file {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write model file {path}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("model file {path} is {kind}, not a regular file")]
    NotRegularFile { path: PathBuf, kind: &'static str },
    #[error(
        "model file {path} is {size} bytes, over the limit of {max} bytes \
         (raise it with --max-model-size)"
    )]
    TooLarge {
        path: PathBuf,
        size: u64,
        max: usize,
    },
    #[error(
        "model file {path} grew past the limit of {max} bytes while it was read \
         (raise it with --max-model-size)"
    )]
    GrewPastLimit { path: PathBuf, max: usize },
    #[error("model file {path} is empty")]
    Empty { path: PathBuf },
    #[error("model file {path} is truncated: the JSON ends early (line {line}, column {column})")]
    Truncated {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    #[error("model file {path} is not valid JSON")]
    NotJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "model file {path} is not a model-server artifact: {found} (expected format {FORMAT:?})"
    )]
    WrongFormat { path: PathBuf, found: String },
    #[error(
        "model file {path} has format version {found}, this build reads versions 2 and \
         {FORMAT_VERSION}; retrain it with `model-server train --out {path}` (add \
         `--data FILE.csv --target COLUMN` for a model of your own data)"
    )]
    UnsupportedVersion { path: PathBuf, found: u64 },
    #[error(
        "model file {path} has \"format_version\": {found}, which is not a whole number; \
         this build reads format_version {FORMAT_VERSION}"
    )]
    BadFormatVersion { path: PathBuf, found: String },
    #[error(
        "model file {path} has no format_version; this build reads format_version {FORMAT_VERSION}"
    )]
    MissingFormatVersion { path: PathBuf },
    #[error("model file {path} does not match the artifact schema")]
    Schema {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "model file {path} is corrupt: its checksum is {expected} but its body hashes to {actual}"
    )]
    ChecksumMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("model file {path}: body.{field} does not match smartcore's fitted-model schema")]
    ClassifierSchema {
        field: &'static str,
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("model file {path} holds an unsound fitted model")]
    Structure {
        path: PathBuf,
        source: StructureError,
    },
    #[error(
        "model file {path} says version {claimed}, but its fitted model has version {actual}: \
         the file was edited after `model-server train` wrote it"
    )]
    VersionMismatch {
        path: PathBuf,
        claimed: String,
        actual: String,
    },
    #[error("model file {path} is inconsistent: {reason}")]
    Inconsistent { path: PathBuf, reason: String },
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

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The checksum of a body: SHA-256 of its exact bytes.
pub fn checksum_of(body_json: &str) -> String {
    format!("sha256:{}", sha256_hex(body_json.as_bytes()))
}

/// The version of a fitted model: the first 12 hex digits of the SHA-256 of the compact JSON
/// of everything a prediction depends on. Computed from parsed values, so it names the model,
/// not how its file is formatted (the checksum covers the formatting). For a classifier this
/// is what format 2 computed, so a format 2 file keeps its version.
pub fn version_of(
    feature_names: &[String],
    class_names: &[String],
    estimator: &Estimator,
) -> String {
    let json = match estimator {
        Estimator::Classifier(c) => serde_json::to_vec(&(feature_names, class_names, c)),
        Estimator::Regressor(r) => serde_json::to_vec(&("regression", feature_names, r)),
    }
    .expect("artifact types serialize to JSON infallibly");
    sha256_hex(&json)[..12].to_owned()
}

/// Short JSON text of a value for an error message.
fn short(value: &serde_json::Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn file_kind(file_type: fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "something else"
    }
}

/// Reads a regular file of at most `max` bytes. The type and size are checked with `stat`
/// before opening (a FIFO would block `open`, a device would never end), and again on the
/// opened file, which is opened non-blocking in case the path was swapped in between; the
/// read stops after `max + 1` bytes in case the file grows.
fn read_capped(path: &Path, max: usize) -> Result<Vec<u8>, ArtifactError> {
    let read_err = |source| ArtifactError::Read {
        path: path.to_owned(),
        source,
    };
    let check = |meta: fs::Metadata| {
        if !meta.file_type().is_file() {
            return Err(ArtifactError::NotRegularFile {
                path: path.to_owned(),
                kind: file_kind(meta.file_type()),
            });
        }
        if meta.len() > max as u64 {
            return Err(ArtifactError::TooLarge {
                path: path.to_owned(),
                size: meta.len(),
                max,
            });
        }
        Ok(meta.len())
    };
    check(fs::metadata(path).map_err(read_err)?)?;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(read_err)?;
    let len = check(file.metadata().map_err(read_err)?)?;
    let mut bytes = Vec::with_capacity(len as usize + 1);
    file.take((max as u64).saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() > max {
        return Err(ArtifactError::GrewPastLimit {
            path: path.to_owned(),
            max,
        });
    }
    Ok(bytes)
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

    /// Writes the artifact atomically: a temporary file in the same folder, then a rename,
    /// so an interrupted write never leaves a half-written model at `path`.
    pub fn save(&self, path: &Path) -> Result<(), ArtifactError> {
        let write_err = |source| ArtifactError::Write {
            path: path.to_owned(),
            source,
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if path.file_name().is_none() {
            return Err(write_err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the path has no file name",
            )));
        }
        // A temporary file in the same folder (removed if anything fails), synced, then
        // renamed over `path`.
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(write_err)?;
        // An artifact is not a secret: readable as a plain `File::create` would leave it
        // (tempfile creates 0600), so a server running as another user can load it.
        {
            use std::os::unix::fs::PermissionsExt;
            file.as_file()
                .set_permissions(fs::Permissions::from_mode(0o644))
                .map_err(write_err)?;
        }
        file.write_all(&self.to_bytes()).map_err(write_err)?;
        file.as_file().sync_all().map_err(write_err)?;
        file.persist(path).map_err(|e| write_err(e.error))?;
        Ok(())
    }

    /// Reads and verifies an artifact file of at most `max_size` bytes
    /// ([`DEFAULT_MAX_SIZE`] unless configured).
    pub fn load(path: &Path, max_size: usize) -> Result<Self, ArtifactError> {
        let bytes = read_capped(path, max_size)?;
        Self::from_bytes(path, &bytes)
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::train::{train, TrainOptions};

    fn trained(algorithm: Algorithm) -> Artifact {
        train(&TrainOptions {
            algorithm,
            ..TrainOptions::default()
        })
        .unwrap()
    }

    fn load(bytes: &[u8]) -> Result<Artifact, ArtifactError> {
        Artifact::from_bytes(Path::new("m.json"), bytes)
    }

    /// The message as `main` prints it (anyhow's `{:#}`): each cause once, on one line.
    fn chain(err: &ArtifactError) -> String {
        let mut text = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            text = format!("{text}: {cause}");
            source = cause.source();
        }
        text
    }

    /// A file whose body was replaced, with the checksum recomputed as a forger would.
    fn resealed(body: &str) -> Vec<u8> {
        format!(
            r#"{{"format":"{FORMAT}","format_version":{FORMAT_VERSION},"checksum":"{}","body":{body}}}"#,
            checksum_of(body)
        )
        .into_bytes()
    }

    fn body_of(artifact: &Artifact) -> serde_json::Value {
        serde_json::from_str(&artifact.body_json).unwrap()
    }

    #[test]
    fn round_trips_through_a_file_and_predicts_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        for algorithm in [
            Algorithm::RandomForest,
            Algorithm::LogisticRegression,
            Algorithm::DecisionTree,
        ] {
            let original = trained(algorithm);
            original.save(&path).unwrap();
            let loaded = Artifact::load(&path, DEFAULT_MAX_SIZE).unwrap();
            assert_eq!(loaded.checksum(), original.checksum());
            assert_eq!(loaded.version(), original.version());
            assert_eq!(loaded.training(), original.training());
            // Written back byte for byte: the body is kept as read.
            assert!(loaded.to_bytes() == std::fs::read(&path).unwrap());
            let rows = vec![
                vec![5.1, 3.5, 1.4, 0.2],
                vec![6.0, 2.7, 5.1, 1.6],
                vec![6.7, 3.0, 5.2, 2.3],
            ];
            let a = original.into_model().predict(&rows).unwrap();
            let b = loaded.into_model().predict(&rows).unwrap();
            assert_eq!(a, b);
            assert!(
                matches!(
                    a[0],
                    crate::model::Prediction::Class {
                        class: "setosa",
                        ..
                    }
                ),
                "{a:?}"
            );
        }
        // Only the artifact is left: the temporary file was renamed away.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn the_version_names_the_fitted_model_and_its_classes() {
        let forest = trained(Algorithm::RandomForest);
        let lr = trained(Algorithm::LogisticRegression);
        assert_ne!(forest.version(), lr.version());
        let mut names = forest.class_names.clone();
        names.swap(0, 2);
        assert_ne!(
            version_of(&forest.feature_names, &names, &forest.estimator),
            forest.version()
        );
    }

    #[test]
    fn missing_file_names_the_path_and_the_os_error_once() {
        let err =
            Artifact::load(Path::new("/nonexistent/model.json"), DEFAULT_MAX_SIZE).unwrap_err();
        assert!(matches!(err, ArtifactError::Read { .. }));
        let text = chain(&err);
        assert!(text.contains("/nonexistent/model.json"), "{text}");
        assert_eq!(text.matches("os error 2").count(), 1, "{text}");
    }

    #[test]
    fn only_regular_files_within_the_cap_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let err = Artifact::load(dir.path(), DEFAULT_MAX_SIZE).unwrap_err();
        assert!(
            matches!(
                err,
                ArtifactError::NotRegularFile {
                    kind: "a directory",
                    ..
                }
            ),
            "{err}"
        );

        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        // No writer: a blocking open() would hang here.
        let err = Artifact::load(&fifo, DEFAULT_MAX_SIZE).unwrap_err();
        assert!(
            matches!(
                err,
                ArtifactError::NotRegularFile {
                    kind: "a FIFO (named pipe)",
                    ..
                }
            ),
            "{err}"
        );

        let err = Artifact::load(Path::new("/dev/zero"), DEFAULT_MAX_SIZE).unwrap_err();
        assert!(
            matches!(
                err,
                ArtifactError::NotRegularFile {
                    kind: "a character device",
                    ..
                }
            ),
            "{err}"
        );

        // Sparse: 1 TiB on paper, nothing on disk; refused from its size alone.
        let huge = dir.path().join("huge.json");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(1 << 40)
            .unwrap();
        let err = Artifact::load(&huge, DEFAULT_MAX_SIZE).unwrap_err();
        assert!(
            matches!(err, ArtifactError::TooLarge { size, .. } if size == 1 << 40),
            "{err}"
        );

        // /proc files stat as 0 bytes and hold more, like a file growing after the stat:
        // the read stops one byte past the cap.
        let err = Artifact::load(Path::new("/proc/self/status"), 100).unwrap_err();
        assert!(
            matches!(err, ArtifactError::GrewPastLimit { max: 100, .. }),
            "{err}"
        );

        // The cap is inclusive.
        let small = dir.path().join("small.json");
        std::fs::write(&small, trained(Algorithm::LogisticRegression).to_bytes()).unwrap();
        let len = std::fs::metadata(&small).unwrap().len() as usize;
        assert!(Artifact::load(&small, len).is_ok());
        assert!(matches!(
            Artifact::load(&small, len - 1),
            Err(ArtifactError::TooLarge { .. })
        ));
    }

    #[test]
    fn every_corruption_is_a_named_error() {
        let good = trained(Algorithm::LogisticRegression).to_bytes();
        let text = String::from_utf8(good.clone()).unwrap();

        assert!(matches!(load(b""), Err(ArtifactError::Empty { .. })));
        assert!(matches!(
            load(&good[..good.len() / 2]),
            Err(ArtifactError::Truncated { .. })
        ));
        assert!(matches!(
            load(b"not json at all"),
            Err(ArtifactError::NotJson { .. })
        ));
        assert!(matches!(
            load(b"[1, 2, 3]"),
            Err(ArtifactError::WrongFormat { .. })
        ));
        assert!(matches!(
            load(br#"{"format": "something-else", "format_version": 1}"#),
            Err(ArtifactError::WrongFormat { .. })
        ));
        let future = text.replacen("\"format_version\": 3", "\"format_version\": 99", 1);
        assert!(matches!(
            load(future.as_bytes()),
            Err(ArtifactError::UnsupportedVersion { found: 99, .. })
        ));
        // A flipped digit inside the model's parameters: still valid JSON, wrong checksum.
        let tampered = text.replacen("\"seed\": 42", "\"seed\": 43", 1);
        assert_ne!(tampered, text);
        assert!(matches!(
            load(tampered.as_bytes()),
            Err(ArtifactError::ChecksumMismatch { .. })
        ));
        let no_body = text.replacen("\"body\"", "\"corpse\"", 1);
        assert!(matches!(
            load(no_body.as_bytes()),
            Err(ArtifactError::Schema { .. })
        ));
        for err in [load(b"").unwrap_err(), load(future.as_bytes()).unwrap_err()] {
            assert!(err.to_string().contains("m.json"), "{err}");
        }
    }

    #[test]
    fn format_version_that_is_not_a_number_is_named() {
        let text = String::from_utf8(trained(Algorithm::LogisticRegression).to_bytes()).unwrap();
        let stringly = text.replacen("\"format_version\": 3", "\"format_version\": \"1\"", 1);
        let err = load(stringly.as_bytes()).unwrap_err();
        assert!(
            matches!(err, ArtifactError::BadFormatVersion { .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains(r#""format_version": "1""#),
            "{err}"
        );
        assert!(!err.to_string().contains("None"), "{err}");
        let missing = text.replacen("\"format_version\": 3,", "", 1);
        assert!(matches!(
            load(missing.as_bytes()),
            Err(ArtifactError::MissingFormatVersion { .. })
        ));
        let old = text.replacen("\"format_version\": 3", "\"format_version\": 1", 1);
        let err = load(old.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("model-server train"), "{err}");
    }

    /// The checksum is over the body's bytes as written, not over what they parse to.
    #[test]
    fn any_edit_to_the_body_bytes_breaks_the_checksum() {
        let text = String::from_utf8(trained(Algorithm::LogisticRegression).to_bytes()).unwrap();
        let edits = [
            // An extra digit that parses to the same f32.
            text.replacen("4.5495753", "4.54957530000000001", 1),
            // A field added inside the body.
            text.replacen("\"name\": \"iris\"", "\"name\": \"iris\", \"extra\": 1", 1),
            // Whitespace only.
            text.replacen("\"name\": \"iris\"", "\"name\":  \"iris\"", 1),
        ];
        for edited in edits {
            assert_ne!(edited, text);
            let err = load(edited.as_bytes()).unwrap_err();
            assert!(
                matches!(err, ArtifactError::ChecksumMismatch { .. }),
                "{}",
                chain(&err)
            );
        }
    }

    /// Forged files carry a recomputed checksum; what is in them must still hold
    /// (tests/artifact.rs corrupts the structure in many more ways).
    #[test]
    fn forged_bodies_with_a_valid_checksum_are_refused() {
        let lr = trained(Algorithm::LogisticRegression);
        let forest = trained(Algorithm::RandomForest);

        // Unchanged but resealed (compact): loads.
        assert!(load(&resealed(&body_of(&lr).to_string())).is_ok());

        let mut b = body_of(&lr);
        b["version"] = forest.version().into();
        let err = load(&resealed(&b.to_string())).unwrap_err();
        assert!(
            matches!(err, ArtifactError::VersionMismatch { .. }),
            "{}",
            chain(&err)
        );

        let mut b = body_of(&forest);
        b["class_names"] = serde_json::json!(["virginica", "versicolor", "setosa"]);
        let err = load(&resealed(&b.to_string())).unwrap_err();
        assert!(
            matches!(err, ArtifactError::VersionMismatch { .. }),
            "{}",
            chain(&err)
        );

        let mut b = body_of(&lr);
        b["extra"] = 1.into();
        let err = load(&resealed(&b.to_string())).unwrap_err();
        assert!(
            matches!(err, ArtifactError::Schema { .. }),
            "{}",
            chain(&err)
        );

        let mut b = body_of(&lr);
        b["classifier"]["logistic-regression"]["coefficients"]["ncols"] = 5.into();
        let err = load(&resealed(&b.to_string())).unwrap_err();
        assert!(
            matches!(
                err,
                ArtifactError::Structure {
                    source: StructureError::BadShape { .. },
                    ..
                }
            ),
            "{}",
            chain(&err)
        );
    }

    /// Written by the last build of format 2 (`train --algorithm logistic-regression`).
    const FORMAT_2: &[u8] = include_bytes!("../../tests/data/format2-logistic-regression.json");

    #[test]
    fn a_format_2_file_loads_as_the_classifier_it_was() {
        let text = std::str::from_utf8(FORMAT_2).unwrap();
        assert!(text.contains("\"format_version\": 2"));
        assert!(!text.contains("\"task\""));
        let loaded = load(FORMAT_2).unwrap();
        assert_eq!(loaded.task(), Task::Classification);
        assert_eq!(loaded.version(), "750ecca1f0a5");
        // The same training today is the same model: the version did not move with the format.
        assert_eq!(
            trained(Algorithm::LogisticRegression).version(),
            "750ecca1f0a5"
        );
        // Kept byte for byte, format version included: its body is a format 2 body.
        assert!(loaded.to_bytes() == FORMAT_2);
        let model = loaded.into_model();
        assert_eq!(model.training().unwrap().test_accuracy, Some(1.0));
        let p = model.predict(&[vec![5.1, 3.5, 1.4, 0.2]]).unwrap();
        assert!(matches!(
            p[0],
            crate::model::Prediction::Class {
                class: "setosa",
                ..
            }
        ));
    }

    #[test]
    fn the_task_must_match_the_format_and_the_fitted_model() {
        let v2 = |body: &serde_json::Value| {
            let body = body.to_string();
            format!(
                r#"{{"format":"{FORMAT}","format_version":2,"checksum":"{}","body":{body}}}"#,
                checksum_of(&body)
            )
            .into_bytes()
        };
        let file: serde_json::Value = serde_json::from_slice(FORMAT_2).unwrap();
        let old = file["body"].clone();
        assert!(load(&v2(&old)).is_ok());
        // Format 2 with a task, format 3 without one.
        let mut b = old.clone();
        b["task"] = "classification".into();
        let err = load(&v2(&b)).unwrap_err();
        assert!(
            err.to_string()
                .contains("format_version 2 files have no task"),
            "{err}"
        );
        let err = load(&resealed(&old.to_string())).unwrap_err();
        assert!(err.to_string().contains("name their task"), "{err}");
        // Format 3 saying regression over a classifier, and classification without names.
        let lr = body_of(&trained(Algorithm::LogisticRegression));
        let mut b = lr.clone();
        b["task"] = "regression".into();
        let err = load(&resealed(&b.to_string())).unwrap_err();
        assert!(matches!(err, ArtifactError::Inconsistent { .. }), "{err}");
        let mut b = lr.clone();
        b.as_object_mut().unwrap().remove("class_names");
        let err = load(&resealed(&b.to_string())).unwrap_err();
        assert!(err.to_string().contains("non-empty class_names"), "{err}");
        // Both a classifier and a regressor.
        let mut b = lr.clone();
        b["regressor"] = b["classifier"].clone();
        let err = load(&resealed(&b.to_string())).unwrap_err();
        assert!(matches!(err, ArtifactError::Inconsistent { .. }), "{err}");
        assert!(load(&resealed(&lr.to_string())).is_ok());
    }
}
