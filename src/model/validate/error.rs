//! What the structural checks refuse: [`StructureError`], naming the [`Part`] of the fitted
//! model it is about, and [`CheckError`], which adds "does not parse as one".

use std::fmt;

/// Which part of the fitted model a [`StructureError`] is about.
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

/// Why a fitted model's structure cannot be served.
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

/// Why [`super::check_classifier`] or [`super::check_regressor`] refused a fitted model: it
/// does not parse as one, or its structure is unsound.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("the fitted model does not match smartcore's fitted-model schema")]
    Schema(#[source] serde_json::Error),
    #[error(transparent)]
    Structure(#[from] StructureError),
}
