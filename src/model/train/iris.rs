//! The embedded default: a classifier trained on the Iris data set that smartcore ships.

use smartcore::model_selection::train_test_split;

use super::algorithm::{check_algorithm, fit_classifier};
use super::{check_options, rows_of, smartcore, TrainError, TrainOptions};
use crate::model::artifact::{Artifact, TrainingInfo};
use crate::model::reference::{self, Reference};
use crate::model::{Matrix, Task};

/// Trains on the Iris training split and measures accuracy on the held-out split.
///
/// Deterministic for a given seed: the split and the estimators are seeded.
pub fn train(opts: &TrainOptions) -> Result<Artifact, TrainError> {
    check_options(opts)?;
    check_algorithm(opts.algorithm, Task::Classification)?;
    let iris = smartcore::dataset::iris::load_dataset();
    let x = Matrix::new(iris.num_samples, iris.num_features, iris.data, false)
        .map_err(smartcore("build the feature matrix"))?;
    let (x_train, x_test, y_train, y_test) =
        train_test_split(&x, &iris.target, opts.test_size, true, Some(opts.seed));

    let classifier = fit_classifier(opts.algorithm, &x_train, &y_train, opts.seed)?;
    let predicted = classifier
        .predict(&x_test)
        .map_err(smartcore("predict the held-out split"))?;
    let accuracy = smartcore::metrics::accuracy(&y_test, &predicted);

    let training = TrainingInfo {
        data_set: "iris".to_owned(),
        target: None,
        seed: opts.seed,
        train_rows: y_train.len(),
        test_rows: y_test.len(),
        test_accuracy: Some(accuracy),
        test_rmse: None,
        test_r2: None,
        smartcore_version: "0.7".to_owned(),
    };
    let feature_names = iris
        .feature_names
        .iter()
        .map(|n| feature_key(n))
        .collect::<Vec<_>>();
    let rows = rows_of(&x_train);
    let reference = Reference::for_classes(
        &feature_names,
        &rows,
        &y_train,
        iris.target_names.len(),
        reference::DEFAULT_BINS,
    );
    Ok(Artifact::new(
        opts.name.clone(),
        feature_names,
        iris.target_names,
        training,
        reference,
        classifier,
    ))
}

/// `"sepal length (cm)"` → `"sepal_length_cm"`: names safe for JSON keys and docs.
fn feature_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c.to_ascii_lowercase());
        } else if !key.ends_with('_') {
            key.push('_');
        }
    }
    key.trim_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Algorithm;

    #[test]
    fn feature_keys_are_snake_case() {
        assert_eq!(feature_key("sepal length (cm)"), "sepal_length_cm");
        assert_eq!(feature_key("petal width (cm)"), "petal_width_cm");
    }

    #[test]
    fn every_algorithm_beats_ninety_percent_held_out() {
        for &algorithm in Algorithm::for_task(Task::Classification) {
            let artifact = train(&TrainOptions {
                algorithm,
                ..TrainOptions::default()
            })
            .unwrap();
            let info = artifact.training();
            assert_eq!(info.train_rows + info.test_rows, 150);
            assert_eq!(info.test_rows, 30);
            let accuracy = info.test_accuracy.unwrap();
            assert!(accuracy > 0.9, "{algorithm}: held-out accuracy {accuracy}");
        }
        assert!(matches!(
            train(&TrainOptions {
                algorithm: Algorithm::LinearRegression,
                ..TrainOptions::default()
            }),
            Err(TrainError::AlgorithmForTask { .. })
        ));
    }

    #[test]
    fn training_is_deterministic_for_a_seed() {
        let opts = TrainOptions::default();
        let a = train(&opts).unwrap();
        let b = train(&opts).unwrap();
        assert_eq!(a.version(), b.version());
        assert_eq!(a.checksum(), b.checksum());
        let other = train(&TrainOptions {
            seed: 7,
            ..TrainOptions::default()
        })
        .unwrap();
        assert_ne!(a.version(), other.version());
    }
}
