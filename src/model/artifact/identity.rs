//! What names an artifact: the checksum of its body's bytes and the version of the fitted
//! model it holds.

use sha2::{Digest, Sha256};

use crate::model::Estimator;

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
