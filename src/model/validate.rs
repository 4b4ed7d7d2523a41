//! Structural checks of a fitted classifier or regressor, run on the artifact's JSON before
//! smartcore sees it.
//!
//! smartcore's fitted types keep their fields private and trust them at prediction time:
//! a tree node that points at itself loops forever, an out-of-range node, feature or class
//! index panics, and a coefficient matrix whose `values` disagree with its shape panics.
//! A forged artifact can carry any of these with a valid checksum, so [`check`] parses the
//! same JSON into mirror types of what smartcore 0.7 serializes (same field names and
//! field types, so both read the same numbers) and refuses anything smartcore could not
//! have fitted. Unknown fields are refused too: a file with extra content is not one that
//! `train` wrote.

use std::fmt;

use serde::Deserialize;

/// Which part of the classifier a [`StructureError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    DecisionTree,
    /// Tree `n` (0-based) of a random forest.
    ForestTree(usize),
    RandomForest,
    LogisticRegression,
    RegressionTree,
    /// Tree `n` (0-based) of a random forest regressor.
    RegressionForestTree(usize),
    RegressionForest,
    LinearRegression,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::DecisionTree => f.write_str("the decision tree"),
            Part::ForestTree(n) => write!(f, "tree {n} of the random forest"),
            Part::RandomForest => f.write_str("the random forest"),
            Part::LogisticRegression => f.write_str("the logistic regression"),
            Part::RegressionTree => f.write_str("the regression tree"),
            Part::RegressionForestTree(n) => write!(f, "tree {n} of the random forest regressor"),
            Part::RegressionForest => f.write_str("the random forest regressor"),
            Part::LinearRegression => f.write_str("the linear regression"),
        }
    }
}

/// Why a fitted classifier's structure cannot be served.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StructureError {
    #[error("{part} is not fitted: `{field}` is null")]
    NotFitted { part: Part, field: &'static str },
    #[error("{part} has no nodes")]
    NoNodes { part: Part },
    #[error("{part} has no trees")]
    NoTrees { part: Part },
    #[error("node {node} of {part} points to node {child}, but there are only {len} nodes")]
    NodeOutOfRange {
        part: Part,
        node: usize,
        child: usize,
        len: usize,
    },
    #[error(
        "node {node} of {part} leads back to node {child}, which is already on a path from the root \
         (a cycle or a shared node)"
    )]
    NodeReachedTwice {
        part: Part,
        node: usize,
        child: usize,
    },
    #[error("node {node} of {part} cannot be reached from the root")]
    UnreachableNode { part: Part, node: usize },
    #[error("node {node} of {part} has one child; a split needs both")]
    HalfSplit { part: Part, node: usize },
    #[error(
        "node {node} of {part} splits on feature {feature}, but the model has {n_features} features"
    )]
    SplitFeatureOutOfRange {
        part: Part,
        node: usize,
        feature: usize,
        n_features: usize,
    },
    #[error("node {node} of {part} splits without a finite threshold")]
    BadThreshold { part: Part, node: usize },
    #[error(
        "node {node} of {part} outputs class index {output}, but there are {n_classes} classes"
    )]
    OutputOutOfRange {
        part: Part,
        node: usize,
        output: usize,
        n_classes: usize,
    },
    #[error("{part} node {node} outputs a value that is not a finite number")]
    NonFiniteOutput { part: Part, node: usize },
    #[error("{part} has no classes")]
    NoClasses { part: Part },
    #[error("{part} predicts class id {id}, but the artifact names only {n_names} classes")]
    ClassIdOutOfRange { part: Part, id: u32, n_names: usize },
    #[error("{part} lists class ids out of order or twice (at position {position})")]
    ClassesNotAscending { part: Part, position: usize },
    #[error("{part} has classes that differ from the forest's")]
    TreeClassesDiffer { part: Part },
    #[error("{part} says {field} is {found}, expected {expected}")]
    CountMismatch {
        part: Part,
        field: &'static str,
        found: usize,
        expected: usize,
    },
    #[error(
        "{part} has a {matrix} matrix of {rows}x{cols} with {values} values, expected \
         {expected_rows}x{expected_cols}"
    )]
    BadShape {
        part: Part,
        matrix: &'static str,
        rows: usize,
        cols: usize,
        values: usize,
        expected_rows: usize,
        expected_cols: usize,
    },
    #[error("{part} has a non-finite value in its {matrix} matrix (value {index})")]
    NonFinite {
        part: Part,
        matrix: &'static str,
        index: usize,
    },
}

// Mirrors of smartcore 0.7's serialized fitted types (field names and types as in its
// sources; `deny_unknown_fields` so nothing else rides along).

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
enum ClassifierShape {
    RandomForest(Forest),
    LogisticRegression(Logistic),
    DecisionTree(Tree),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Forest {
    trees: Option<Vec<Tree>>,
    classes: Option<Vec<u32>>,
    #[allow(dead_code)]
    samples: Option<Vec<Vec<bool>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Read only to refuse what does not parse as smartcore would.
struct Tree {
    nodes: Vec<Node>,
    parameters: Option<TreeParameters>,
    num_classes: usize,
    classes: Vec<u32>,
    depth: u16,
    num_features: usize,
    _phantom_tx: std::marker::PhantomData<()>,
    _phantom_x: std::marker::PhantomData<()>,
    _phantom_y: std::marker::PhantomData<()>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Node {
    output: usize,
    n_node_samples: usize,
    split_feature: usize,
    split_value: Option<f64>,
    split_score: Option<f64>,
    true_child: Option<usize>,
    false_child: Option<usize>,
    impurity: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct TreeParameters {
    #[serde(default)]
    criterion: Criterion,
    #[serde(default)]
    max_depth: Option<u16>,
    #[serde(default)]
    min_samples_leaf: usize,
    #[serde(default)]
    min_samples_split: usize,
    #[serde(default)]
    seed: Option<u64>,
}

#[derive(Deserialize, Default)]
enum Criterion {
    #[default]
    Gini,
    Entropy,
    ClassificationError,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Logistic {
    coefficients: Option<Matrix>,
    intercept: Option<Matrix>,
    classes: Option<Vec<u32>>,
    num_attributes: usize,
    num_classes: usize,
    _phantom_tx: std::marker::PhantomData<()>,
    _phantom_y: std::marker::PhantomData<()>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Matrix {
    ncols: usize,
    nrows: usize,
    /// `f32` as in the served `DenseMatrix<f32>`: 1e39 reads as infinity here as it would there.
    values: Vec<f32>,
    column_major: bool,
}

/// Why [`check`] refused a classifier: it does not parse as one, or its structure is unsound.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("the classifier does not match smartcore's fitted-model schema")]
    Schema(#[source] serde_json::Error),
    #[error(transparent)]
    Structure(#[from] StructureError),
}

/// Checks the JSON of a [`super::Classifier`] against `n_features` input columns and
/// `n_class_names` class names: on `Ok`, smartcore can predict any row of `n_features`
/// values with it without panicking or looping, and every class id it returns has a name.
pub fn check(
    classifier_json: &str,
    n_features: usize,
    n_class_names: usize,
) -> Result<(), CheckError> {
    let shape: ClassifierShape =
        serde_json::from_str(classifier_json).map_err(CheckError::Schema)?;
    let limits = Limits {
        n_features,
        n_class_names,
    };
    match &shape {
        ClassifierShape::DecisionTree(tree) => {
            let classes = limits.classes(Part::DecisionTree, Some(&tree.classes))?;
            limits.tree(Part::DecisionTree, tree, classes.len())?;
        }
        ClassifierShape::RandomForest(forest) => {
            let classes = limits.classes(Part::RandomForest, forest.classes.as_deref())?;
            let trees = forest.trees.as_ref().ok_or(StructureError::NotFitted {
                part: Part::RandomForest,
                field: "trees",
            })?;
            if trees.is_empty() {
                return Err(StructureError::NoTrees {
                    part: Part::RandomForest,
                }
                .into());
            }
            for (i, tree) in trees.iter().enumerate() {
                let part = Part::ForestTree(i);
                // The forest votes by a tree's leaf output, an index into the forest's classes.
                if tree.classes != classes {
                    return Err(StructureError::TreeClassesDiffer { part }.into());
                }
                limits.tree(part, tree, classes.len())?;
            }
        }
        ClassifierShape::LogisticRegression(lr) => limits.logistic(lr)?,
    }
    Ok(())
}

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

/// Checks the JSON of a [`super::Regressor`] against `n_features` input columns: on `Ok`,
/// smartcore can predict any row of `n_features` values with it without panicking or
/// looping, and every tree leaf holds a finite value.
pub fn check_regressor(regressor_json: &str, n_features: usize) -> Result<(), CheckError> {
    let shape: RegressorShape = serde_json::from_str(regressor_json).map_err(CheckError::Schema)?;
    let limits = Limits {
        n_features,
        n_class_names: 0,
    };
    match &shape {
        RegressorShape::DecisionTree(t) => {
            let part = Part::RegressionTree;
            let tree = t.tree_regressor.as_ref().ok_or(StructureError::NotFitted {
                part,
                field: "tree_regressor",
            })?;
            let num_features = t.num_features.ok_or(StructureError::NotFitted {
                part,
                field: "num_features",
            })?;
            Limits::count(part, "num_features", num_features, n_features)?;
            limits.value_tree(part, tree)?;
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
            let num_features = forest.num_features.ok_or(StructureError::NotFitted {
                part,
                field: "num_features",
            })?;
            Limits::count(part, "num_features", num_features, n_features)?;
            let trees = forest.trees.as_ref().ok_or(StructureError::NotFitted {
                part,
                field: "trees",
            })?;
            if trees.is_empty() {
                return Err(StructureError::NoTrees { part }.into());
            }
            for (i, tree) in trees.iter().enumerate() {
                limits.value_tree(Part::RegressionForestTree(i), tree)?;
            }
        }
        RegressorShape::LinearRegression(lr) => {
            let part = Part::LinearRegression;
            Limits::matrix(part, "coefficients", &lr.coefficients, n_features, 1)?;
            Limits::matrix(part, "intercept", &lr.intercept, 1, 1)?;
        }
    }
    Ok(())
}

/// What the tree walk needs of a node.
struct Split {
    true_child: Option<usize>,
    false_child: Option<usize>,
    feature: usize,
    value: Option<f64>,
}

struct Limits {
    n_features: usize,
    n_class_names: usize,
}

impl Limits {
    /// Class ids must be present, ascending without repeats (as smartcore's `unique` makes
    /// them), and each must have a name.
    fn classes<'a>(
        &self,
        part: Part,
        classes: Option<&'a [u32]>,
    ) -> Result<&'a [u32], StructureError> {
        let classes = classes.ok_or(StructureError::NotFitted {
            part,
            field: "classes",
        })?;
        if classes.is_empty() {
            return Err(StructureError::NoClasses { part });
        }
        if let Some(position) = classes.windows(2).position(|w| w[0] >= w[1]) {
            return Err(StructureError::ClassesNotAscending {
                part,
                position: position + 1,
            });
        }
        if let Some(&id) = classes
            .iter()
            .find(|&&id| id as usize >= self.n_class_names)
        {
            return Err(StructureError::ClassIdOutOfRange {
                part,
                id,
                n_names: self.n_class_names,
            });
        }
        Ok(classes)
    }

    fn count(
        part: Part,
        field: &'static str,
        found: usize,
        expected: usize,
    ) -> Result<(), StructureError> {
        if found == expected {
            Ok(())
        } else {
            Err(StructureError::CountMismatch {
                part,
                field,
                found,
                expected,
            })
        }
    }

    /// A tree is sound when every node is reached from the root exactly once (so the walk of
    /// `predict` ends at a leaf within `nodes.len()` steps), every split has both children, a
    /// finite threshold and an existing feature, and every output indexes `n_classes`.
    fn tree(&self, part: Part, tree: &Tree, n_classes: usize) -> Result<(), StructureError> {
        let classes = self.classes(part, Some(&tree.classes))?;
        Self::count(part, "num_classes", tree.num_classes, classes.len())?;
        Self::count(part, "num_features", tree.num_features, self.n_features)?;
        Self::walk(
            part,
            &tree.nodes,
            self.n_features,
            |node| Split {
                true_child: node.true_child,
                false_child: node.false_child,
                feature: node.split_feature,
                value: node.split_value,
            },
            |id, node| {
                if node.output >= n_classes {
                    Err(StructureError::OutputOutOfRange {
                        part,
                        node: id,
                        output: node.output,
                        n_classes,
                    })
                } else {
                    Ok(())
                }
            },
        )
    }

    /// A regression tree: sound as a classification tree is, with finite leaf values.
    fn value_tree(&self, part: Part, tree: &BaseTree) -> Result<(), StructureError> {
        Self::walk(
            part,
            &tree.nodes,
            self.n_features,
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

    /// Walks a tree from its root: every node must be reached exactly once (so the walk of
    /// `predict` ends at a leaf within `nodes.len()` steps), every split must have both
    /// children, a finite threshold and an existing feature, and `output` must accept
    /// every node reached.
    fn walk<N>(
        part: Part,
        nodes: &[N],
        n_features: usize,
        split: impl Fn(&N) -> Split,
        output: impl Fn(usize, &N) -> Result<(), StructureError>,
    ) -> Result<(), StructureError> {
        if nodes.is_empty() {
            return Err(StructureError::NoNodes { part });
        }
        let mut seen = vec![false; nodes.len()];
        seen[0] = true;
        // Depth-first with an explicit stack: a forged chain of a million nodes must not
        // overflow the thread's stack.
        let mut stack = vec![0usize];
        while let Some(id) = stack.pop() {
            let node = &nodes[id];
            output(id, node)?;
            let s = split(node);
            let (t, f) = match (s.true_child, s.false_child) {
                (None, None) => continue,
                (Some(t), Some(f)) => (t, f),
                _ => return Err(StructureError::HalfSplit { part, node: id }),
            };
            if s.feature >= n_features {
                return Err(StructureError::SplitFeatureOutOfRange {
                    part,
                    node: id,
                    feature: s.feature,
                    n_features,
                });
            }
            if !s.value.is_some_and(f64::is_finite) {
                return Err(StructureError::BadThreshold { part, node: id });
            }
            for child in [t, f] {
                match seen.get_mut(child) {
                    None => {
                        return Err(StructureError::NodeOutOfRange {
                            part,
                            node: id,
                            child,
                            len: nodes.len(),
                        })
                    }
                    Some(true) => {
                        return Err(StructureError::NodeReachedTwice {
                            part,
                            node: id,
                            child,
                        })
                    }
                    Some(s) => *s = true,
                }
                stack.push(child);
            }
        }
        if let Some(node) = seen.iter().position(|s| !s) {
            return Err(StructureError::UnreachableNode { part, node });
        }
        Ok(())
    }

    /// A fitted matrix of exactly `rows` x `cols` finite values.
    fn matrix(
        part: Part,
        name: &'static str,
        matrix: &Option<Matrix>,
        rows: usize,
        cols: usize,
    ) -> Result<(), StructureError> {
        let m = matrix
            .as_ref()
            .ok_or(StructureError::NotFitted { part, field: name })?;
        if m.nrows != rows || m.ncols != cols || m.values.len() != rows * cols {
            return Err(StructureError::BadShape {
                part,
                matrix: name,
                rows: m.nrows,
                cols: m.ncols,
                values: m.values.len(),
                expected_rows: rows,
                expected_cols: cols,
            });
        }
        if let Some(index) = m.values.iter().position(|v| !v.is_finite()) {
            return Err(StructureError::NonFinite {
                part,
                matrix: name,
                index,
            });
        }
        Ok(())
    }

    /// smartcore's logistic regression keeps one coefficient row and one intercept for two
    /// classes (a sigmoid), and one of each per class otherwise (an argmax).
    fn logistic(&self, lr: &Logistic) -> Result<(), StructureError> {
        let part = Part::LogisticRegression;
        let classes = self.classes(part, lr.classes.as_deref())?;
        Self::count(part, "num_classes", lr.num_classes, classes.len())?;
        Self::count(part, "num_attributes", lr.num_attributes, self.n_features)?;
        if classes.len() < 2 {
            return Err(StructureError::CountMismatch {
                part,
                field: "num_classes",
                found: classes.len(),
                expected: 2,
            });
        }
        let rows = if classes.len() == 2 { 1 } else { classes.len() };
        Self::matrix(
            part,
            "coefficients",
            &lr.coefficients,
            rows,
            self.n_features,
        )?;
        Self::matrix(part, "intercept", &lr.intercept, rows, 1)?;
        Ok(())
    }
}
