//! The artifact's unit tests: round trips through a file, what is refused on reading (the
//! file, its bytes, forged bodies) and how older formats load. tests/artifact.rs corrupts
//! files in many more ways, from outside the crate.

use std::path::Path;

use super::*;
use crate::model::train::{train, TrainOptions};
use crate::model::validate::StructureError;
use crate::model::Rows;

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
        let rows = Rows::from_rows(
            4,
            [
                [5.1, 3.5, 1.4, 0.2],
                [6.0, 2.7, 5.1, 1.6],
                [6.7, 3.0, 5.2, 2.3],
            ],
        )
        .unwrap();
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
    let err = Artifact::load(Path::new("/nonexistent/model.json"), DEFAULT_MAX_SIZE).unwrap_err();
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
const FORMAT_2: &[u8] = include_bytes!("../../../tests/data/format2-logistic-regression.json");

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
    let p = model
        .predict(&Rows::from_rows(4, [[5.1, 3.5, 1.4, 0.2]]).unwrap())
        .unwrap();
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
