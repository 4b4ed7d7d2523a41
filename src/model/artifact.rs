//! The versioned model artifact written by `model-server train` and read by `serve --model`.
//!
//! Layout (JSON):
//! ```json
//! {"format": "model-server.iris-classifier", "format_version": 1,
//!  "checksum": "sha256:<hex of the compact JSON of body>",
//!  "body": {"name", "version", "algorithm", "feature_names", "class_names", "training", "classifier"}}
//! ```
//! `version` is derived from the classifier's parameters, so two artifacts with the
//! same version predict the same. Every way a file can be wrong is an
//! [`ArtifactError`] that names the file; loading never panics.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Algorithm, Classifier, Model};

/// The `format` tag every artifact carries.
pub const FORMAT: &str = "model-server.iris-classifier";
/// The artifact layout this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// How the model was trained, kept for people reading the artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    pub data_set: String,
    pub seed: u64,
    pub train_rows: usize,
    pub test_rows: usize,
    pub test_accuracy: f64,
    pub smartcore_version: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Body {
    name: String,
    version: String,
    algorithm: Algorithm,
    feature_names: Vec<String>,
    class_names: Vec<String>,
    training: TrainingInfo,
    classifier: Classifier,
}

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    format: &'static str,
    format_version: u32,
    checksum: &'a str,
    body: &'a Body,
}

#[derive(Deserialize)]
struct EnvelopeIn {
    checksum: String,
    body: Body,
}

/// Just enough of the envelope to tell what a file claims to be.
#[derive(Deserialize)]
struct Probe {
    format: Option<String>,
    format_version: Option<u32>,
}

/// Why an artifact could not be written or loaded. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("cannot read model file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write model file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("model file {path} is empty")]
    Empty { path: PathBuf },
    #[error("model file {path} is truncated: the JSON ends early (line {line}, column {column})")]
    Truncated {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    #[error("model file {path} is not valid JSON: {source}")]
    NotJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("model file {path} is not a model-server artifact (format is {found:?}, expected {FORMAT:?})")]
    WrongFormat {
        path: PathBuf,
        found: Option<String>,
    },
    #[error(
        "model file {path} has format version {found}, this build reads version {FORMAT_VERSION}; \
         retrain it with `model-server train`"
    )]
    UnsupportedVersion { path: PathBuf, found: u32 },
    #[error("model file {path} does not match the artifact schema: {source}")]
    Schema {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("model file {path} is corrupt: its checksum is {expected} but its content hashes to {actual}")]
    ChecksumMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("model file {path} is inconsistent: {reason}")]
    Inconsistent { path: PathBuf, reason: String },
}

/// A trained model together with its metadata, as stored on disk.
#[derive(Debug)]
pub struct Artifact {
    checksum: String,
    body: Body,
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("artifact types serialize to JSON infallibly")
}

fn checksum_of(body: &Body) -> String {
    format!("sha256:{}", sha256_hex(&to_json(body)))
}

impl Artifact {
    /// Wraps a freshly trained classifier, deriving its version and checksum.
    pub fn new(
        name: String,
        feature_names: Vec<String>,
        class_names: Vec<String>,
        training: TrainingInfo,
        classifier: Classifier,
    ) -> Self {
        let version = sha256_hex(&to_json(&classifier))[..12].to_owned();
        let body = Body {
            name,
            version,
            algorithm: classifier.algorithm(),
            feature_names,
            class_names,
            training,
            classifier,
        };
        Artifact {
            checksum: checksum_of(&body),
            body,
        }
    }

    pub fn version(&self) -> &str {
        &self.body.version
    }

    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    pub fn training(&self) -> &TrainingInfo {
        &self.body.training
    }

    /// Serializes the artifact (pretty JSON, the body's checksum included).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(&EnvelopeOut {
            format: FORMAT,
            format_version: FORMAT_VERSION,
            checksum: &self.checksum,
            body: &self.body,
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
        let file_name = path.file_name().ok_or_else(|| {
            write_err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the path has no file name",
            ))
        })?;
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            file_name.to_string_lossy(),
            std::process::id()
        ));
        let result = (|| {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(&self.to_bytes())?;
            file.sync_all()?;
            fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(write_err)
    }

    /// Reads and verifies an artifact file.
    pub fn load(path: &Path) -> Result<Self, ArtifactError> {
        let bytes = fs::read(path).map_err(|source| ArtifactError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(path, &bytes)
    }

    /// Parses and verifies artifact bytes; `path` is only used in error messages.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self, ArtifactError> {
        let path = path.to_owned();
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ArtifactError::Empty { path });
        }
        let probe: Probe = serde_json::from_slice(bytes).map_err(|source| {
            if source.is_eof() {
                ArtifactError::Truncated {
                    path: path.clone(),
                    line: source.line(),
                    column: source.column(),
                }
            } else if source.is_data() {
                // Valid JSON, but not an object with our tag fields.
                ArtifactError::WrongFormat {
                    path: path.clone(),
                    found: None,
                }
            } else {
                ArtifactError::NotJson {
                    path: path.clone(),
                    source,
                }
            }
        })?;
        if probe.format.as_deref() != Some(FORMAT) {
            return Err(ArtifactError::WrongFormat {
                path,
                found: probe.format,
            });
        }
        match probe.format_version {
            Some(FORMAT_VERSION) => {}
            Some(found) => return Err(ArtifactError::UnsupportedVersion { path, found }),
            None => {
                return Err(ArtifactError::Inconsistent {
                    path,
                    reason: "format_version is missing".to_owned(),
                })
            }
        }
        let envelope: EnvelopeIn =
            serde_json::from_slice(bytes).map_err(|source| ArtifactError::Schema {
                path: path.clone(),
                source,
            })?;
        let actual = checksum_of(&envelope.body);
        if actual != envelope.checksum {
            return Err(ArtifactError::ChecksumMismatch {
                path,
                expected: envelope.checksum,
                actual,
            });
        }
        let body = envelope.body;
        let inconsistent = |reason: String| ArtifactError::Inconsistent {
            path: path.clone(),
            reason,
        };
        if body.algorithm != body.classifier.algorithm() {
            return Err(inconsistent(format!(
                "algorithm says {} but the classifier is a {}",
                body.algorithm,
                body.classifier.algorithm()
            )));
        }
        if body.feature_names.is_empty() || body.class_names.is_empty() {
            return Err(inconsistent(
                "feature_names and class_names must not be empty".to_owned(),
            ));
        }
        Ok(Artifact {
            checksum: envelope.checksum,
            body,
        })
    }

    /// Turns the artifact into a servable [`Model`].
    pub fn into_model(self) -> Model {
        let b = self.body;
        Model::new(
            b.name,
            b.version,
            b.feature_names,
            b.class_names,
            b.classifier,
        )
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
            let loaded = Artifact::load(&path).unwrap();
            assert_eq!(loaded.checksum(), original.checksum());
            assert_eq!(loaded.version(), original.version());
            assert_eq!(loaded.training(), original.training());
            let rows = vec![
                vec![5.1, 3.5, 1.4, 0.2],
                vec![6.0, 2.7, 5.1, 1.6],
                vec![6.7, 3.0, 5.2, 2.3],
            ];
            let a = original.into_model().predict(&rows).unwrap();
            let b = loaded.into_model().predict(&rows).unwrap();
            assert_eq!(a, b);
            assert_eq!(a[0].class, "setosa");
        }
        // Only the artifact is left: the temporary file was renamed away.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// The checksum is recomputed from the parsed body, so every float must
    /// survive text and back exactly (serde_json's `float_roundtrip`).
    #[test]
    fn body_json_round_trips_byte_for_byte() {
        for algorithm in [
            Algorithm::RandomForest,
            Algorithm::LogisticRegression,
            Algorithm::DecisionTree,
        ] {
            let first = to_json(&trained(algorithm).body);
            let parsed: Body = serde_json::from_slice(&first).unwrap();
            assert!(
                first == to_json(&parsed),
                "{algorithm} body changed on a round trip"
            );
        }
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = Artifact::load(Path::new("/nonexistent/model.json")).unwrap_err();
        assert!(matches!(err, ArtifactError::Read { .. }));
        assert!(err.to_string().contains("/nonexistent/model.json"), "{err}");
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
        let future = text.replacen("\"format_version\": 1", "\"format_version\": 99", 1);
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
}
