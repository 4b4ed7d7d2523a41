//! Training a classifier on the Iris data set that smartcore ships.

use std::fmt;

use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};
use smartcore::model_selection::train_test_split;
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters,
};

use super::artifact::{Artifact, TrainingInfo};
use super::reference::{self, Reference};
use super::{Classifier, Matrix};

/// The algorithms `train` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// 100-tree random forest (the default).
    RandomForest,
    /// Multinomial logistic regression.
    LogisticRegression,
    /// A single CART decision tree.
    DecisionTree,
}

impl Algorithm {
    /// The stable name used in artifacts, metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RandomForest => "random-forest",
            Algorithm::LogisticRegression => "logistic-regression",
            Algorithm::DecisionTree => "decision-tree",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to train.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub algorithm: Algorithm,
    pub seed: u64,
    /// Share of the data set held out for the reported accuracy, in (0, 1).
    pub test_size: f32,
    /// Model name recorded in the artifact and in `model_info`.
    pub name: String,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            algorithm: Algorithm::RandomForest,
            seed: 42,
            test_size: 0.2,
            name: "iris".to_owned(),
        }
    }
}

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("test size must be strictly between 0 and 1, got {0}")]
    BadTestSize(f32),
    #[error("smartcore failed to {stage}: {message}")]
    Smartcore {
        stage: &'static str,
        message: String,
    },
}

fn smartcore(stage: &'static str) -> impl FnOnce(smartcore::error::Failed) -> TrainError {
    move |e| TrainError::Smartcore {
        stage,
        message: e.to_string(),
    }
}

/// Trains on the training split and measures accuracy on the held-out split.
///
/// Deterministic for a given seed: the split and the estimators are seeded.
pub fn train(opts: &TrainOptions) -> Result<Artifact, TrainError> {
    if !(opts.test_size > 0.0 && opts.test_size < 1.0) {
        return Err(TrainError::BadTestSize(opts.test_size));
    }
    let iris = smartcore::dataset::iris::load_dataset();
    let x = Matrix::new(iris.num_samples, iris.num_features, iris.data, false)
        .map_err(smartcore("build the feature matrix"))?;
    let (x_train, x_test, y_train, y_test) =
        train_test_split(&x, &iris.target, opts.test_size, true, Some(opts.seed));

    let classifier = match opts.algorithm {
        Algorithm::RandomForest => Classifier::RandomForest(
            RandomForestClassifier::fit(
                &x_train,
                &y_train,
                RandomForestClassifierParameters::default()
                    .with_n_trees(100)
                    .with_seed(opts.seed),
            )
            .map_err(smartcore("fit the random forest"))?,
        ),
        Algorithm::LogisticRegression => Classifier::LogisticRegression(
            LogisticRegression::fit(&x_train, &y_train, LogisticRegressionParameters::default())
                .map_err(smartcore("fit the logistic regression"))?,
        ),
        Algorithm::DecisionTree => {
            let params = DecisionTreeClassifierParameters {
                seed: Some(opts.seed),
                ..Default::default()
            };
            Classifier::DecisionTree(
                DecisionTreeClassifier::fit(&x_train, &y_train, params)
                    .map_err(smartcore("fit the decision tree"))?,
            )
        }
    };
    let predicted = classifier
        .predict(&x_test)
        .map_err(smartcore("predict the held-out split"))?;
    let accuracy = smartcore::metrics::accuracy(&y_test, &predicted);

    let training = TrainingInfo {
        data_set: "iris".to_owned(),
        seed: opts.seed,
        train_rows: y_train.len(),
        test_rows: y_test.len(),
        test_accuracy: accuracy,
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

/// The rows of a matrix, widened to f64.
fn rows_of(x: &Matrix) -> Vec<Vec<f64>> {
    use smartcore::linalg::basic::arrays::Array;
    let (n, f) = x.shape();
    (0..n)
        .map(|i| (0..f).map(|j| f64::from(*x.get((i, j)))).collect())
        .collect()
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

    #[test]
    fn feature_keys_are_snake_case() {
        assert_eq!(feature_key("sepal length (cm)"), "sepal_length_cm");
        assert_eq!(feature_key("petal width (cm)"), "petal_width_cm");
    }

    #[test]
    fn rejects_bad_test_size() {
        for size in [0.0, 1.0, -0.5, f32::NAN] {
            let opts = TrainOptions {
                test_size: size,
                ..TrainOptions::default()
            };
            assert!(matches!(train(&opts), Err(TrainError::BadTestSize(_))));
        }
    }

    #[test]
    fn every_algorithm_beats_ninety_percent_held_out() {
        for algorithm in [
            Algorithm::RandomForest,
            Algorithm::LogisticRegression,
            Algorithm::DecisionTree,
        ] {
            let artifact = train(&TrainOptions {
                algorithm,
                ..TrainOptions::default()
            })
            .unwrap();
            let info = artifact.training();
            assert_eq!(info.train_rows + info.test_rows, 150);
            assert_eq!(info.test_rows, 30);
            assert!(
                info.test_accuracy > 0.9,
                "{algorithm}: held-out accuracy {}",
                info.test_accuracy
            );
        }
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
