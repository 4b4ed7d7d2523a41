//! Why an artifact could not be written or loaded: one [`ArtifactError`] variant per way a
//! file can be wrong, each naming the file.

use std::path::PathBuf;

use super::{FORMAT, FORMAT_VERSION};
use crate::model::validate::StructureError;

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
    FittedModelSchema {
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
