//! Property tests of model artifact loading: forged files (checksum recomputed, as anyone
//! can) whose fitted model is structurally corrupt are refused with a named error, never
//! loaded, never a panic and never a loop; and whatever the structural check lets through
//! predicts any row without panicking or looping.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::OnceLock;
use std::time::Duration;

use model_server::model::artifact::{checksum_of, Artifact, ArtifactError, FORMAT, FORMAT_VERSION};
use model_server::model::train::{train, Algorithm, TrainOptions};
use model_server::model::validate::{self, StructureError};
use model_server::model::{Classifier, Model};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Longest any single load or prediction may take before the test calls it a loop.
const BOUND: Duration = Duration::from_secs(5);

/// Runs `f` on its own thread and fails the test if it panics or outlives [`BOUND`]
/// (a looping thread is left behind, but the test has failed).
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let out = f();
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(BOUND) {
        Ok(()) => handle.join().unwrap(),
        Err(RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
        Err(RecvTimeoutError::Timeout) => panic!("{what} did not finish within {BOUND:?}: a loop?"),
    }
}

/// Bodies of trained artifacts as JSON values: decision tree, logistic regression, and a
/// random forest cut to 5 trees (still a valid forest; its version no longer matches).
fn bodies() -> &'static [Value; 3] {
    static BODIES: OnceLock<[Value; 3]> = OnceLock::new();
    BODIES.get_or_init(|| {
        let body = |algorithm| {
            let artifact = train(&TrainOptions {
                algorithm,
                ..TrainOptions::default()
            })
            .unwrap();
            let file: Value = serde_json::from_slice(&artifact.to_bytes()).unwrap();
            file["body"].clone()
        };
        let mut forest = body(Algorithm::RandomForest);
        forest["classifier"]["random-forest"]["trees"]
            .as_array_mut()
            .unwrap()
            .truncate(5);
        [
            body(Algorithm::DecisionTree),
            body(Algorithm::LogisticRegression),
            forest,
        ]
    })
}

/// The file a forger writes: any body, with its checksum recomputed.
fn reseal(body: &Value) -> Vec<u8> {
    let body = body.to_string();
    format!(
        r#"{{"format":"{FORMAT}","format_version":{FORMAT_VERSION},"checksum":"{}","body":{body}}}"#,
        checksum_of(&body)
    )
    .into_bytes()
}

fn load_bounded(bytes: Vec<u8>) -> Result<Artifact, ArtifactError> {
    bounded("loading", move || {
        Artifact::from_bytes(Path::new("forged.json"), &bytes)
    })
}

fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

const N_FEATURES: usize = 4;
const N_NAMES: usize = 3;

/// One structural corruption of a tree; each breaks an invariant smartcore relies on.
/// `usize` fields pick a node or position (taken modulo what exists).
#[derive(Debug, Clone)]
enum TreeHit {
    /// A split's child points back to the split itself or one of its ancestors.
    Cycle {
        node: usize,
        ancestor: usize,
        true_side: bool,
    },
    ChildOutOfRange {
        node: usize,
        beyond: u32,
        true_side: bool,
    },
    /// Both children of a split are the same node.
    SharedChild {
        node: usize,
    },
    /// A split with one child.
    HalfSplit {
        node: usize,
        true_side: bool,
    },
    SplitFeature {
        node: usize,
        beyond: u32,
    },
    NoThreshold {
        node: usize,
    },
    Output {
        node: usize,
        beyond: u32,
    },
    /// Nodes cut off the end: some split now points past them.
    Truncate {
        keep: usize,
    },
    NoNodes,
    UnreachableLeaf,
    ClassIdOutOfRange {
        position: usize,
        beyond: u32,
    },
    ClassesOutOfOrder,
    NumFeatures {
        off: u8,
    },
    NumClasses {
        off: u8,
    },
    UnknownNodeField {
        node: usize,
    },
}

fn tree_hit() -> impl Strategy<Value = TreeHit> {
    let n = any::<usize>;
    prop_oneof![
        (n(), n(), any::<bool>()).prop_map(|(node, ancestor, true_side)| TreeHit::Cycle {
            node,
            ancestor,
            true_side
        }),
        (n(), any::<u32>(), any::<bool>()).prop_map(|(node, beyond, true_side)| {
            TreeHit::ChildOutOfRange {
                node,
                beyond,
                true_side,
            }
        }),
        n().prop_map(|node| TreeHit::SharedChild { node }),
        (n(), any::<bool>()).prop_map(|(node, true_side)| TreeHit::HalfSplit { node, true_side }),
        (n(), any::<u32>()).prop_map(|(node, beyond)| TreeHit::SplitFeature { node, beyond }),
        n().prop_map(|node| TreeHit::NoThreshold { node }),
        (n(), any::<u32>()).prop_map(|(node, beyond)| TreeHit::Output { node, beyond }),
        n().prop_map(|keep| TreeHit::Truncate { keep }),
        Just(TreeHit::NoNodes),
        Just(TreeHit::UnreachableLeaf),
        (n(), any::<u32>())
            .prop_map(|(position, beyond)| TreeHit::ClassIdOutOfRange { position, beyond }),
        Just(TreeHit::ClassesOutOfOrder),
        (1..=u8::MAX).prop_map(|off| TreeHit::NumFeatures { off }),
        (1..=u8::MAX).prop_map(|off| TreeHit::NumClasses { off }),
        n().prop_map(|node| TreeHit::UnknownNodeField { node }),
    ]
}

fn child_key(true_side: bool) -> &'static str {
    if true_side {
        "true_child"
    } else {
        "false_child"
    }
}

/// Applies `hit` to a serialized smartcore tree; says whether it must be refused as a
/// schema error (true) or a structure error (false).
fn apply_tree_hit(tree: &mut Value, hit: &TreeHit) -> bool {
    let nodes = tree["nodes"].as_array_mut().unwrap();
    let len = nodes.len();
    let splits: Vec<usize> = (0..len)
        .filter(|&i| !nodes[i]["true_child"].is_null())
        .collect();
    let mut parent = vec![None; len];
    for &i in &splits {
        for key in ["true_child", "false_child"] {
            parent[nodes[i][key].as_u64().unwrap() as usize] = Some(i);
        }
    }
    let split = |pick: usize| splits[pick % splits.len()];
    let beyond = |base: usize, extra: u32| base as u64 + u64::from(extra);
    match *hit {
        TreeHit::Cycle {
            node,
            ancestor,
            true_side,
        } => {
            let node = split(node);
            let mut path = vec![node];
            while let Some(p) = parent[*path.last().unwrap()] {
                path.push(p);
            }
            nodes[node][child_key(true_side)] = path[ancestor % path.len()].into();
        }
        TreeHit::ChildOutOfRange {
            node,
            beyond: extra,
            true_side,
        } => {
            nodes[split(node)][child_key(true_side)] = beyond(len, extra).into();
        }
        TreeHit::SharedChild { node } => {
            let node = split(node);
            nodes[node]["false_child"] = nodes[node]["true_child"].clone();
        }
        TreeHit::HalfSplit { node, true_side } => {
            nodes[split(node)][child_key(true_side)] = Value::Null;
        }
        TreeHit::SplitFeature {
            node,
            beyond: extra,
        } => {
            nodes[split(node)]["split_feature"] = beyond(N_FEATURES, extra).into();
        }
        TreeHit::NoThreshold { node } => {
            nodes[split(node)]["split_value"] = Value::Null;
        }
        TreeHit::Output {
            node,
            beyond: extra,
        } => {
            nodes[node % len]["output"] = beyond(N_NAMES, extra).into();
        }
        TreeHit::Truncate { keep } => nodes.truncate(1 + keep % (len - 1)),
        TreeHit::NoNodes => nodes.clear(),
        TreeHit::UnreachableLeaf => {
            let leaf = nodes[splits
                .iter()
                .map(|&i| i + 1)
                .find(|i| !splits.contains(i))
                .unwrap()]
            .clone();
            nodes.push(leaf);
        }
        TreeHit::ClassIdOutOfRange {
            position,
            beyond: extra,
        } => {
            let classes = tree["classes"].as_array_mut().unwrap();
            let at = position % classes.len();
            classes[at] = beyond(N_NAMES, extra).into();
        }
        TreeHit::ClassesOutOfOrder => {
            tree["classes"].as_array_mut().unwrap().reverse();
        }
        TreeHit::NumFeatures { off } => {
            tree["num_features"] = (N_FEATURES + usize::from(off)).into();
        }
        TreeHit::NumClasses { off } => {
            tree["num_classes"] = (N_NAMES + usize::from(off)).into();
        }
        TreeHit::UnknownNodeField { node } => {
            nodes[node % len]["leaks"] = json!("anything");
            return true;
        }
    }
    false
}

#[derive(Debug, Clone)]
enum LrHit {
    Rows { off: u8 },
    Cols { off: u8 },
    DropValue { matrix: bool },
    ExtraValue { matrix: bool },
    Infinite { pick: usize, negative: bool },
    ClassIdOutOfRange { beyond: u32 },
    NumAttributes { off: u8 },
    NoCoefficients,
    UnknownField,
}

fn lr_hit() -> impl Strategy<Value = LrHit> {
    prop_oneof![
        (1..=u8::MAX).prop_map(|off| LrHit::Rows { off }),
        (1..=u8::MAX).prop_map(|off| LrHit::Cols { off }),
        any::<bool>().prop_map(|matrix| LrHit::DropValue { matrix }),
        any::<bool>().prop_map(|matrix| LrHit::ExtraValue { matrix }),
        (any::<usize>(), any::<bool>())
            .prop_map(|(pick, negative)| LrHit::Infinite { pick, negative }),
        any::<u32>().prop_map(|beyond| LrHit::ClassIdOutOfRange { beyond }),
        (1..=u8::MAX).prop_map(|off| LrHit::NumAttributes { off }),
        Just(LrHit::NoCoefficients),
        Just(LrHit::UnknownField),
    ]
}

fn apply_lr_hit(lr: &mut Value, hit: &LrHit) -> bool {
    let which = |coefficients: bool| {
        if coefficients {
            "coefficients"
        } else {
            "intercept"
        }
    };
    match *hit {
        LrHit::Rows { off } => {
            let rows = lr["coefficients"]["nrows"].as_u64().unwrap();
            lr["coefficients"]["nrows"] = (rows + u64::from(off)).into();
        }
        LrHit::Cols { off } => {
            let cols = lr["intercept"]["ncols"].as_u64().unwrap();
            lr["intercept"]["ncols"] = (cols + u64::from(off)).into();
        }
        LrHit::DropValue { matrix } => {
            lr[which(matrix)]["values"].as_array_mut().unwrap().pop();
        }
        LrHit::ExtraValue { matrix } => {
            lr[which(matrix)]["values"]
                .as_array_mut()
                .unwrap()
                .push(json!(1.5));
        }
        LrHit::Infinite { pick, negative } => {
            let values = lr["coefficients"]["values"].as_array_mut().unwrap();
            let at = pick % values.len();
            // Finite as text and as f64, out of range for the model's f32: serde_json
            // refuses it (rather than reading infinity), so it is a schema error.
            values[at] = json!(if negative { -1e39 } else { 1e39 });
            return true;
        }
        LrHit::ClassIdOutOfRange { beyond } => {
            lr["classes"][2] = (N_NAMES as u64 + u64::from(beyond)).into();
        }
        LrHit::NumAttributes { off } => {
            lr["num_attributes"] = (N_FEATURES + usize::from(off)).into();
        }
        LrHit::NoCoefficients => lr["coefficients"] = Value::Null,
        LrHit::UnknownField => {
            lr["coefficients"]["stride"] = json!(4);
            return true;
        }
    }
    false
}

#[derive(Debug, Clone)]
enum ForestHit {
    Tree {
        tree: usize,
        hit: TreeHit,
    },
    NoTrees,
    NullTrees,
    NullClasses,
    /// One tree's classes differ from the forest's (its votes would index the wrong class).
    TreeClasses {
        tree: usize,
    },
}

fn forest_hit() -> impl Strategy<Value = ForestHit> {
    prop_oneof![
        4 => (any::<usize>(), tree_hit()).prop_map(|(tree, hit)| ForestHit::Tree { tree, hit }),
        1 => Just(ForestHit::NoTrees),
        1 => Just(ForestHit::NullTrees),
        1 => Just(ForestHit::NullClasses),
        1 => any::<usize>().prop_map(|tree| ForestHit::TreeClasses { tree }),
    ]
}

fn apply_forest_hit(forest: &mut Value, hit: &ForestHit) -> bool {
    let n_trees = forest["trees"].as_array().unwrap().len();
    match hit {
        ForestHit::Tree { tree, hit } => {
            return apply_tree_hit(&mut forest["trees"][tree % n_trees], hit)
        }
        ForestHit::NoTrees => forest["trees"] = json!([]),
        ForestHit::NullTrees => forest["trees"] = Value::Null,
        ForestHit::NullClasses => forest["classes"] = Value::Null,
        ForestHit::TreeClasses { tree } => {
            forest["trees"][tree % n_trees]["classes"] = json!([0, 1]);
        }
    }
    false
}

fn assert_refused(body: &Value, schema: bool, hit: &dyn std::fmt::Debug) {
    match load_bounded(reseal(body)) {
        Ok(_) => panic!("{hit:?}: a forged artifact loaded"),
        Err(err) => {
            let named = if schema {
                matches!(err, ArtifactError::FittedModelSchema { .. })
            } else {
                matches!(err, ArtifactError::Structure { .. })
            };
            assert!(
                named,
                "{hit:?}: refused for another reason: {}",
                chain(&err)
            );
        }
    }
}

/// The fixtures themselves pass the structural check: the refusals below are the hits'.
#[test]
fn unforged_bodies_pass_the_structural_check() {
    let [tree, lr, forest] = bodies();
    assert!(load_bounded(reseal(tree)).is_ok());
    assert!(load_bounded(reseal(lr)).is_ok());
    // Cutting trees changes the fitted model, so only the version check objects.
    let err = load_bounded(reseal(forest)).unwrap_err();
    assert!(
        matches!(err, ArtifactError::VersionMismatch { .. }),
        "{}",
        chain(&err)
    );
}

/// The case the report found: a root that points at itself made every request loop.
#[test]
fn a_self_looping_root_is_refused_by_name() {
    let mut body = bodies()[0].clone();
    body["classifier"]["decision-tree"]["nodes"][0]["true_child"] = json!(0);
    let err = load_bounded(reseal(&body)).unwrap_err();
    assert!(
        matches!(
            err,
            ArtifactError::Structure {
                source: StructureError::NodeReachedTwice {
                    node: 0,
                    child: 0,
                    ..
                },
                ..
            }
        ),
        "{}",
        chain(&err)
    );
    assert!(chain(&err).contains("forged.json"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn corrupt_decision_trees_are_refused(hit in tree_hit()) {
        let mut body = bodies()[0].clone();
        let schema = apply_tree_hit(&mut body["classifier"]["decision-tree"], &hit);
        assert_refused(&body, schema, &hit);
    }

    #[test]
    fn corrupt_logistic_regressions_are_refused(hit in lr_hit()) {
        let mut body = bodies()[1].clone();
        let schema = apply_lr_hit(&mut body["classifier"]["logistic-regression"], &hit);
        assert_refused(&body, schema, &hit);
    }

    #[test]
    fn corrupt_random_forests_are_refused(hit in forest_hit()) {
        let mut body = bodies()[2].clone();
        let schema = apply_forest_hit(&mut body["classifier"]["random-forest"], &hit);
        assert_refused(&body, schema, &hit);
    }
}

/// An arbitrary edit, valid or not: a node field, a threshold, a class id or a matrix size
/// set to a small value near the real ranges.
#[derive(Debug, Clone)]
enum Edit {
    NodeField {
        node: usize,
        field: usize,
        value: Option<u8>,
    },
    Threshold {
        node: usize,
        value: Option<f64>,
    },
    Class {
        position: usize,
        id: u8,
    },
    MatrixSize {
        coefficients: bool,
        rows: bool,
        value: u8,
    },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0..4usize, proptest::option::of(0..24u8))
            .prop_map(|(node, field, value)| Edit::NodeField { node, field, value }),
        (any::<usize>(), proptest::option::of(-10.0..10.0f64))
            .prop_map(|(node, value)| Edit::Threshold { node, value }),
        (any::<usize>(), 0..5u8).prop_map(|(position, id)| Edit::Class { position, id }),
        (any::<bool>(), any::<bool>(), 0..5u8).prop_map(|(coefficients, rows, value)| {
            Edit::MatrixSize {
                coefficients,
                rows,
                value,
            }
        }),
    ]
}

fn apply_edit(classifier: &mut Value, edit: &Edit) {
    let tree = match classifier.get_mut("decision-tree") {
        Some(tree) => tree,
        None => match classifier.get_mut("random-forest") {
            Some(forest) => &mut forest["trees"][0],
            None => {
                let lr = &mut classifier["logistic-regression"];
                match *edit {
                    Edit::Class { position, id } => lr["classes"][position % 3] = id.into(),
                    Edit::MatrixSize {
                        coefficients,
                        rows,
                        value,
                    } => {
                        let m = if coefficients {
                            "coefficients"
                        } else {
                            "intercept"
                        };
                        let dim = if rows { "nrows" } else { "ncols" };
                        lr[m][dim] = value.into();
                    }
                    _ => {}
                }
                return;
            }
        },
    };
    let len = tree["nodes"].as_array().unwrap().len();
    match *edit {
        Edit::NodeField { node, field, value } => {
            let key = ["output", "split_feature", "true_child", "false_child"][field];
            let value = match (value, key) {
                (Some(v), _) => Value::from(v),
                // Only the children may be null in smartcore's schema.
                (None, "true_child" | "false_child") => Value::Null,
                (None, _) => Value::from(0),
            };
            tree["nodes"][node % len][key] = value;
        }
        Edit::Threshold { node, value } => {
            tree["nodes"][node % len]["split_value"] = value.map_or(Value::Null, Value::from);
        }
        Edit::Class { position, id } => {
            let n = tree["classes"].as_array().unwrap().len();
            tree["classes"][position % n] = id.into();
        }
        Edit::MatrixSize { .. } => {}
    }
}

fn row() -> impl Strategy<Value = Vec<f32>> {
    proptest::collection::vec(-1e6f32..1e6f32, N_FEATURES)
}

proptest! {
    // Few shrink steps: a looping case costs BOUND per step (and leaves a spinning thread).
    #![proptest_config(ProptestConfig { cases: 256, max_shrink_iters: 8, ..ProptestConfig::default() })]

    /// Soundness of the check: a classifier it accepts, however edited, predicts every row
    /// (no panic, no loop) with class ids that have names.
    #[test]
    fn whatever_passes_the_check_predicts_safely(
        which in 0..3usize,
        edits in proptest::collection::vec(edit(), 1..6),
        rows in proptest::collection::vec(row(), 1..8),
    ) {
        let mut classifier = bodies()[which]["classifier"].clone();
        for e in &edits {
            apply_edit(&mut classifier, e);
        }
        let json = classifier.to_string();
        if validate::check_classifier(&json, N_FEATURES, N_NAMES).is_ok() {
            let classifier: Classifier = serde_json::from_str(&json).unwrap();
            let names = |n: usize, stem: &str| (0..n).map(|i| format!("{stem}{i}")).collect();
            let model = Model::new(
                "m".into(),
                "v".into(),
                names(N_FEATURES, "f"),
                names(N_NAMES, "c"),
                classifier,
            );
            let rows = model_server::model::Rows::from_rows(N_FEATURES, rows).unwrap();
            let predictions = bounded("predicting", move || model.predict(&rows));
            prop_assert!(predictions.is_ok(), "{edits:?}: {predictions:?}");
        }
    }

    /// Byte-level damage, resealed or not, is an error in bounded time, never a panic.
    #[test]
    fn damaged_bytes_never_panic(
        cut in any::<usize>(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        seal in any::<bool>(),
    ) {
        let body = bodies()[0].to_string();
        let mut bytes = body.into_bytes();
        for (at, byte) in flips {
            let n = bytes.len();
            bytes[at % n] = byte;
        }
        bytes.truncate(bytes.len() - cut % 8);
        let file = if seal {
            let body = String::from_utf8_lossy(&bytes).into_owned();
            format!(
                r#"{{"format":"{FORMAT}","format_version":{FORMAT_VERSION},"checksum":"{}","body":{body}}}"#,
                checksum_of(&body)
            )
            .into_bytes()
        } else {
            bytes
        };
        let _ = load_bounded(file);
    }
}

/// The soundness property above is not vacuous: edits that keep the structure (new
/// thresholds, other valid leaf outputs) pass the check and predict.
#[test]
fn structure_preserving_edits_pass_the_check() {
    let mut classifier = bodies()[0]["classifier"].clone();
    let nodes = classifier["decision-tree"]["nodes"].as_array_mut().unwrap();
    for (i, node) in nodes.iter_mut().enumerate() {
        node["output"] = json!(i % N_NAMES);
        if !node["true_child"].is_null() {
            node["split_value"] = json!(i as f64 - 3.5);
        }
    }
    validate::check_classifier(&classifier.to_string(), N_FEATURES, N_NAMES).unwrap();
    // And a check that is too strict for the real feature count would say so.
    assert!(validate::check_classifier(&classifier.to_string(), 2, N_NAMES).is_err());
}
