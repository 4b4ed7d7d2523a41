//! The classifiers: mirrors of smartcore 0.7's serialized random forest, decision tree and
//! logistic regression, and [`check_classifier`], which refuses any whose trees, classes or
//! coefficients smartcore could not have fitted.

use serde::Deserialize;

use super::rules::{self, Matrix, Split};
use super::{CheckError, Part, StructureError};

// Mirrors of smartcore 0.7's serialized classifiers (field names and types as in its
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

/// Checks the JSON of a [`crate::model::Classifier`] against `n_features` input columns and
/// `n_class_names` class names: on `Ok`, smartcore can predict any row of `n_features`
/// values with it without panicking or looping, and every class id it returns has a name.
pub fn check_classifier(
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

/// What a classifier is checked against: the artifact's input columns and class names.
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

    /// A tree is sound when every node is reached from the root exactly once (so the walk of
    /// `predict` ends at a leaf within `nodes.len()` steps), every split has both children, a
    /// finite threshold and an existing feature, and every output indexes `n_classes`.
    fn tree(&self, part: Part, tree: &Tree, n_classes: usize) -> Result<(), StructureError> {
        let classes = self.classes(part, Some(&tree.classes))?;
        rules::count(part, "num_classes", tree.num_classes, classes.len())?;
        rules::count(part, "num_features", tree.num_features, self.n_features)?;
        rules::walk(
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

    /// smartcore's logistic regression keeps one coefficient row and one intercept for two
    /// classes (a sigmoid), and one of each per class otherwise (an argmax).
    fn logistic(&self, lr: &Logistic) -> Result<(), StructureError> {
        let part = Part::LogisticRegression;
        let classes = self.classes(part, lr.classes.as_deref())?;
        rules::count(part, "num_classes", lr.num_classes, classes.len())?;
        rules::count(part, "num_attributes", lr.num_attributes, self.n_features)?;
        if classes.len() < 2 {
            return Err(StructureError::CountMismatch {
                part,
                field: "num_classes",
                found: classes.len(),
                expected: 2,
            });
        }
        let rows = if classes.len() == 2 { 1 } else { classes.len() };
        rules::matrix(
            part,
            "coefficients",
            &lr.coefficients,
            rows,
            self.n_features,
        )?;
        rules::matrix(part, "intercept", &lr.intercept, rows, 1)?;
        Ok(())
    }
}
