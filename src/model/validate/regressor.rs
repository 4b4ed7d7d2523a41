//! The regressors: mirrors of smartcore 0.7's serialized random forest, decision tree and
//! linear regression, and [`check_regressor`], which refuses any whose trees or
//! coefficients smartcore could not have fitted.

use serde::Deserialize;

use super::rules::{self, Matrix, Split};
use super::{CheckError, Part, StructureError};

// Mirrors of smartcore 0.7's serialized regressors. Its regression trees are a `BaseTree`
// whose leaves output an f64; a forest regressor is a `BaseForest` of them.

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
enum RegressorShape {
    RandomForest(ForestRegressor),
    LinearRegression(Linear),
    DecisionTree(TreeRegressor),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForestRegressor {
    forest_regressor: Option<BaseForest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct BaseForest {
    trees: Option<Vec<BaseTree>>,
    num_features: Option<usize>,
    samples: Option<Vec<Vec<bool>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TreeRegressor {
    tree_regressor: Option<BaseTree>,
    num_features: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct BaseTree {
    nodes: Vec<ValueNode>,
    parameters: Option<BaseTreeParameters>,
    depth: u16,
    root_mass: f64,
    _phantom_tx: std::marker::PhantomData<()>,
    _phantom_ty: std::marker::PhantomData<()>,
    _phantom_x: std::marker::PhantomData<()>,
    _phantom_y: std::marker::PhantomData<()>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ValueNode {
    output: f64,
    split_feature: usize,
    split_value: Option<f64>,
    split_score: Option<f64>,
    true_child: Option<usize>,
    false_child: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct BaseTreeParameters {
    #[serde(default)]
    max_depth: Option<u16>,
    #[serde(default)]
    min_samples_leaf: usize,
    #[serde(default)]
    min_samples_split: usize,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    splitter: Splitter,
}

#[derive(Deserialize, Default)]
enum Splitter {
    Random,
    #[default]
    Best,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Linear {
    coefficients: Option<Matrix>,
    intercept: Option<Matrix>,
    _phantom_tx: std::marker::PhantomData<()>,
    _phantom_ty: std::marker::PhantomData<()>,
    _phantom_y: std::marker::PhantomData<()>,
}

/// Checks the JSON of a [`crate::model::Regressor`] against `n_features` input columns: on `Ok`,
/// smartcore can predict any row of `n_features` values with it without panicking or
/// looping, and every tree leaf holds a finite value.
pub fn check_regressor(regressor_json: &str, n_features: usize) -> Result<(), CheckError> {
    let shape: RegressorShape = serde_json::from_str(regressor_json).map_err(CheckError::Schema)?;
    match &shape {
        RegressorShape::DecisionTree(t) => {
            let part = Part::RegressionTree;
            let tree = t.tree_regressor.as_ref().ok_or(StructureError::NotFitted {
                part,
                field: "tree_regressor",
            })?;
            stored_features(part, t.num_features, n_features)?;
            value_tree(part, tree, n_features)?;
        }
        RegressorShape::RandomForest(f) => {
            let part = Part::RegressionForest;
            let forest = f
                .forest_regressor
                .as_ref()
                .ok_or(StructureError::NotFitted {
                    part,
                    field: "forest_regressor",
                })?;
            stored_features(part, forest.num_features, n_features)?;
            let trees = forest.trees.as_ref().ok_or(StructureError::NotFitted {
                part,
                field: "trees",
            })?;
            if trees.is_empty() {
                return Err(StructureError::NoTrees { part }.into());
            }
            for (i, tree) in trees.iter().enumerate() {
                value_tree(Part::RegressionForestTree(i), tree, n_features)?;
            }
        }
        RegressorShape::LinearRegression(lr) => {
            let part = Part::LinearRegression;
            rules::matrix(part, "coefficients", &lr.coefficients, n_features, 1)?;
            rules::matrix(part, "intercept", &lr.intercept, 1, 1)?;
        }
    }
    Ok(())
}

/// The feature count a fitted regressor stores must be there, and be the artifact's.
fn stored_features(
    part: Part,
    stored: Option<usize>,
    n_features: usize,
) -> Result<(), StructureError> {
    let stored = stored.ok_or(StructureError::NotFitted {
        part,
        field: "num_features",
    })?;
    rules::count(part, "num_features", stored, n_features)
}

/// A regression tree: sound as a classification tree is, with finite leaf values.
fn value_tree(part: Part, tree: &BaseTree, n_features: usize) -> Result<(), StructureError> {
    rules::walk(
        part,
        &tree.nodes,
        n_features,
        |node| Split {
            true_child: node.true_child,
            false_child: node.false_child,
            feature: node.split_feature,
            value: node.split_value,
        },
        |id, node| {
            if node.output.is_finite() {
                Ok(())
            } else {
                Err(StructureError::NonFiniteOutput { part, node: id })
            }
        },
    )
}
