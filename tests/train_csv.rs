//! Training on the example CSV tables (examples/data/), then serving what was trained:
//! the answers' shapes, `GET /`, the V2 metadata and outputs, the metrics; bad tables;
//! and forged regressors, refused like forged classifiers.

mod common;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::http::StatusCode;
use axum::Router;
use common::*;
use model_server::api;
use model_server::drain::Drain;
use model_server::model::artifact::{checksum_of, Artifact, ArtifactError, FORMAT, FORMAT_VERSION};
use model_server::model::table::Table;
use model_server::model::train::{train_table, Algorithm, TrainError, TrainOptions};
use model_server::model::validate::StructureError;
use model_server::model::Task;
use model_server::telemetry::Telemetry;
use serde_json::{json, Value};

const MACHINES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/machines.csv");
const ENERGY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/energy.csv");

fn opts(algorithm: Algorithm, name: &str) -> TrainOptions {
    TrainOptions {
        algorithm,
        name: name.to_owned(),
        ..TrainOptions::default()
    }
}

fn trained(path: &str, target: &str, algorithm: Algorithm, name: &str) -> Artifact {
    let table = Table::read(Path::new(path), target).unwrap();
    train_table(&table, None, &opts(algorithm, name))
        .unwrap()
        .artifact
}

/// Saved and loaded again, so what is served is what a file holds.
fn through_a_file(artifact: &Artifact) -> Artifact {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    artifact.save(&path).unwrap();
    Artifact::load(&path, 1 << 30).unwrap()
}

fn machines() -> &'static Artifact {
    static A: OnceLock<Artifact> = OnceLock::new();
    A.get_or_init(|| trained(MACHINES, "condition", Algorithm::RandomForest, "machines"))
}

fn energy() -> &'static Artifact {
    static A: OnceLock<Artifact> = OnceLock::new();
    A.get_or_init(|| trained(ENERGY, "load_kw", Algorithm::RandomForest, "energy"))
}

fn serve(artifact: &Artifact) -> (Router, Telemetry) {
    let model = through_a_file(artifact).into_model();
    let telemetry = Telemetry::new().unwrap();
    let router = api::router(
        Arc::new(model),
        telemetry.clone(),
        Drain::new(),
        pool(),
        &config(),
    );
    (router, telemetry)
}

#[test]
fn the_example_tables_train_as_documented() {
    let m = machines();
    assert_eq!(m.task(), Task::Classification);
    assert_eq!(
        m.feature_names(),
        [
            "temperature_c",
            "vibration_mm_s",
            "pressure_kpa",
            "rpm",
            "current_a",
            "age_days"
        ]
    );
    // Text labels in code-point order; `machine_id` (text) is not a feature.
    assert_eq!(m.class_names(), ["failing", "healthy", "worn"]);
    let info = m.training();
    assert_eq!((info.train_rows, info.test_rows), (240, 60));
    assert_eq!(info.target.as_deref(), Some("condition"));
    assert_eq!(info.data_set, "machines.csv");
    let accuracy = info.test_accuracy.unwrap();
    assert!(accuracy > 0.85, "held-out accuracy {accuracy}");
    assert!(info.test_rmse.is_none());

    let e = energy();
    assert_eq!(e.task(), Task::Regression);
    assert!(e.class_names().is_empty());
    let info = e.training();
    assert!(info.test_accuracy.is_none());
    let (rmse, r2) = (info.test_rmse.unwrap(), info.test_r2.unwrap());
    assert!(rmse > 0.0 && rmse < 15.0, "RMSE {rmse}");
    assert!(r2 > 0.7 && r2 <= 1.0, "R² {r2}");
    // The drift reference: bins for each feature, and prediction quantiles.
    let reference = e.reference().unwrap();
    assert_eq!(reference.features.len(), 5);
    assert!(matches!(
        &reference.output,
        model_server::model::reference::OutputReference::PredictionQuantiles { values, .. }
            if values.len() == 11 && values.windows(2).all(|w| w[0] <= w[1])
    ));
}

#[test]
fn every_regressor_round_trips_and_is_deterministic() {
    for algorithm in Algorithm::for_task(Task::Regression) {
        let a = trained(ENERGY, "load_kw", *algorithm, "energy");
        let b = trained(ENERGY, "load_kw", *algorithm, "energy");
        assert_eq!(a.checksum(), b.checksum(), "{algorithm}");
        assert_eq!(a.algorithm(), *algorithm);
        let loaded = through_a_file(&a);
        assert_eq!(loaded.version(), a.version());
        let row =
            model_server::model::Rows::from_rows(5, [[5.0f32, 60.0, 10.0, 120.0, 1200.0]]).unwrap();
        assert_eq!(
            a.into_model().predict(&row).unwrap(),
            loaded.into_model().predict(&row).unwrap()
        );
    }
    let table = Table::read(Path::new(ENERGY), "load_kw").unwrap();
    let other_seed = train_table(
        &table,
        None,
        &TrainOptions {
            seed: 7,
            ..opts(Algorithm::RandomForest, "energy")
        },
    )
    .unwrap();
    assert_ne!(other_seed.artifact.version(), energy().version());
}

#[tokio::test]
async fn a_classifier_of_the_csv_serves_named_features_and_describes_itself() {
    let (app, telemetry) = serve(machines());
    let failing = r#"{"temperature_c":75,"vibration_mm_s":8.1,"pressure_kpa":360,"rpm":1420,"current_a":14.2,"age_days":1200}"#;
    let healthy = r#"{"age_days":150,"current_a":11.4,"rpm":1482,"pressure_kpa":412,"vibration_mm_s":1.9,"temperature_c":54}"#;
    let body = format!(r#"{{"instances":[{failing},{healthy}]}}"#);
    let reply = send(&app, post_json("/predict", body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = reply.json();
    assert_eq!(
        body["predictions"],
        json!([{"class": "failing", "class_id": 0}, {"class": "healthy", "class_id": 1}])
    );
    assert_eq!(body["model"]["name"], "machines");

    let missing = r#"{"features":{"temperature_c":75}}"#;
    let reply = send(&app, post_json("/predict", missing)).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    assert!(reply.text.contains("vibration_mm_s"), "{}", reply.text);

    let root = send(&app, get("/")).await.json();
    let model = &root["model"];
    assert_eq!(model["task"], "classification");
    assert_eq!(model["classes"], json!(["failing", "healthy", "worn"]));
    assert_eq!(model["features"][0], "temperature_c");
    assert_eq!(model["training"]["target"], "condition");
    assert_eq!(
        model["training"]["test_accuracy"].as_f64(),
        machines().training().test_accuracy
    );

    let scrape = scrape(&telemetry);
    assert_eq!(
        scrape.value("predictions_total", &[("class", "failing")]),
        Some(1.0)
    );
    assert_eq!(scrape.series("prediction_value_count"), 0);
}

#[tokio::test]
async fn a_regressor_answers_values_everywhere() {
    let (app, telemetry) = serve(energy());
    let row =
        r#"{"outdoor_temp_c":-5,"humidity_pct":50,"hour":10,"occupancy":120,"floor_area_m2":1200}"#;
    let reply = send(
        &app,
        post_json("/predict", format!(r#"{{"features":{row}}}"#)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = reply.json();
    let prediction = body["predictions"][0].as_object().unwrap();
    assert_eq!(prediction.len(), 1, "{body}");
    let value = prediction["value"].as_f64().unwrap();
    // 0.012·1200 + 0.35·120 + 2.2·21 + 4·sin(π·10/24) ≈ 106.5 by the generator's rule.
    assert!((value - 106.5).abs() < 25.0, "{value}");
    let positional = r#"{"instances":[[-5,50,10,120,1200],[30,80,14,150,2500]]}"#;
    let body = send(&app, post_json("/predict", positional)).await.json();
    assert_eq!(body["predictions"][0]["value"].as_f64(), Some(value));
    assert!(body["predictions"][1]["value"].as_f64().unwrap() > 0.0);

    let root = send(&app, get("/")).await.json();
    let model = &root["model"];
    assert_eq!(model["task"], "regression");
    assert!(model.get("classes").is_none(), "{model}");
    assert_eq!(model["features"].as_array().unwrap().len(), 5);
    assert!(model["training"]["test_rmse"].as_f64().unwrap() > 0.0);
    assert!(model["training"]["test_r2"].as_f64().is_some());

    let meta = send(&app, get("/v2/models/energy")).await.json();
    assert_eq!(
        meta["outputs"],
        json!([{"name": "value", "datatype": "FP64", "shape": [-1]}])
    );
    let infer = json!({"inputs": [{"name": "input", "shape": [1, 5], "datatype": "FP32",
        "data": [-5, 50, 10, 120, 1200]}]});
    let reply = send(
        &app,
        post_json("/v2/models/energy/infer", infer.to_string()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let out = reply.json()["outputs"].clone();
    assert_eq!(out[0]["name"], "value");
    assert_eq!(out[0]["datatype"], "FP64");
    assert_eq!(out[0]["data"][0].as_f64(), Some(value));
    let wrong_output = json!({"inputs": infer["inputs"], "outputs": [{"name": "label"}]});
    let reply = send(
        &app,
        post_json("/v2/models/energy/infer", wrong_output.to_string()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);

    // Four rows predicted in all (one, then two, then one over V2), none by class.
    let scrape = scrape(&telemetry);
    assert_eq!(scrape.value("prediction_value_count", &[]), Some(4.0));
    assert_eq!(scrape.series("predictions_total"), 0);
    let buckets = scrape.series("prediction_value_bucket");
    assert!((3..=12).contains(&buckets), "{buckets} buckets");
}

fn table(text: &str, target: &str) -> Table {
    Table::parse(Path::new("t.csv"), text.as_bytes(), target).unwrap()
}

fn rows(n: usize, target: impl Fn(usize) -> String) -> String {
    let mut text = "a,b,y\n".to_owned();
    for i in 0..n {
        text.push_str(&format!("{i},{},{}\n", (i * 7) % 5, target(i)));
    }
    text
}

fn refused(text: &str, task: Option<Task>, algorithm: Algorithm) -> String {
    let err = train_table(&table(text, "y"), task, &opts(algorithm, "t")).unwrap_err();
    let message = err.to_string();
    assert!(!message.contains('\n'), "{message}");
    message
}

#[test]
fn tables_that_cannot_be_trained_on_say_why() {
    let rf = Algorithm::RandomForest;
    let m = refused(&rows(9, |i| (i % 2).to_string()), None, rf);
    assert!(m.contains("9 data rows; training needs at least 10"), "{m}");
    let m = refused("a,y\n", None, rf);
    assert!(m.contains("0 data rows"), "{m}");
    let m = refused(&rows(30, |_| "ok".into()), None, rf);
    assert!(m.contains(r#"single class, "ok""#), "{m}");
    let m = refused(&rows(30, |_| "2.5".into()), None, rf);
    assert!(m.contains("is 2.5 on every row"), "{m}");
    let m = refused(
        &rows(30, |i| format!("{i}.5")),
        Some(Task::Regression),
        Algorithm::LogisticRegression,
    );
    assert!(
        m.contains("--algorithm logistic-regression does not do regression"),
        "{m}"
    );
    assert!(
        m.contains("random-forest, linear-regression, decision-tree"),
        "{m}"
    );
    let m = refused(
        &rows(30, |i| (i % 3).to_string()),
        None,
        Algorithm::LinearRegression,
    );
    assert!(m.contains("does not do classification"), "{m}");
    let m = refused(
        &rows(30, |i| {
            if i == 4 {
                "n/a".into()
            } else {
                format!("{i}.5")
            }
        }),
        Some(Task::Regression),
        rf,
    );
    assert!(
        m.contains(r#"row 5 (line 6), column "y": "n/a" is not a number"#),
        "{m}"
    );
    // One "rare" row in ten, one row held out: for some seeds it is the rare one, and the
    // training split is left with a single class; every other seed trains.
    let one_rare = table(
        &rows(10, |i| {
            if i == 0 {
                "rare".into()
            } else {
                "common".into()
            }
        }),
        "y",
    );
    let outcomes: Vec<_> = (0..40)
        .map(|seed| {
            train_table(
                &one_rare,
                None,
                &TrainOptions {
                    seed,
                    test_size: 0.1,
                    ..opts(Algorithm::DecisionTree, "t")
                },
            )
        })
        .collect();
    assert!(outcomes.iter().any(|o| matches!(
        o,
        Err(TrainError::SingleClassInSplit { class }) if class == "common"
    )));
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, Ok(_) | Err(TrainError::SingleClassInSplit { .. }))));
    let err = train_table(
        &table(&rows(10, |i| (i % 2).to_string()), "y"),
        None,
        &TrainOptions {
            test_size: 0.05,
            ..opts(rf, "t")
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, TrainError::SplitTooSmall { test: 0, .. }),
        "{err}"
    );
}

#[test]
fn whole_number_targets_are_classes_until_there_are_many() {
    let few = train_table(
        &table(&rows(40, |i| (i % 3 * 10).to_string()), "y"),
        None,
        &opts(Algorithm::DecisionTree, "t"),
    )
    .unwrap();
    assert_eq!(few.task, Task::Classification);
    assert_eq!(few.artifact.class_names(), ["0", "10", "20"]);
    let many = train_table(
        &table(&rows(40, |i| i.to_string()), "y"),
        None,
        &opts(Algorithm::DecisionTree, "t"),
    )
    .unwrap();
    assert_eq!(many.task, Task::Regression);
    let forced = train_table(
        &table(&rows(40, |i| i.to_string()), "y"),
        Some(Task::Classification),
        &opts(Algorithm::DecisionTree, "t"),
    )
    .unwrap();
    assert_eq!(forced.artifact.class_names().len(), 40);
    let err = train_table(
        &table(&rows(1001, |i| i.to_string()), "y"),
        Some(Task::Classification),
        &opts(Algorithm::DecisionTree, "t"),
    )
    .unwrap_err();
    assert!(
        matches!(err, TrainError::TooManyClasses { classes: 1001, .. }),
        "{err}"
    );
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

fn body_of(artifact: &Artifact) -> Value {
    let file: Value = serde_json::from_slice(&artifact.to_bytes()).unwrap();
    file["body"].clone()
}

fn structure_error(body: &Value) -> StructureError {
    match Artifact::from_bytes(Path::new("forged.json"), &reseal(body)) {
        Err(ArtifactError::Structure { source, .. }) => source,
        Err(other) => panic!("not a structure error: {other}"),
        Ok(_) => panic!("a forged regressor loaded"),
    }
}

#[test]
fn forged_regressors_are_refused_by_name() {
    let linear = body_of(&trained(
        ENERGY,
        "load_kw",
        Algorithm::LinearRegression,
        "e",
    ));
    let tree = body_of(&trained(ENERGY, "load_kw", Algorithm::DecisionTree, "e"));
    let mut forest = body_of(energy());
    forest["regressor"]["random-forest"]["forest_regressor"]["trees"]
        .as_array_mut()
        .unwrap()
        .truncate(3);
    // Untouched (resealed compactly) they load, except the cut forest's version.
    assert!(Artifact::from_bytes(Path::new("ok.json"), &reseal(&linear)).is_ok());
    assert!(Artifact::from_bytes(Path::new("ok.json"), &reseal(&tree)).is_ok());

    let mut b = linear.clone();
    b["regressor"]["linear-regression"]["coefficients"]["nrows"] = 4.into();
    assert!(matches!(
        structure_error(&b),
        StructureError::BadShape {
            matrix: "coefficients",
            ..
        }
    ));
    let mut b = linear.clone();
    b["regressor"]["linear-regression"]["intercept"] = Value::Null;
    assert!(matches!(
        structure_error(&b),
        StructureError::NotFitted {
            field: "intercept",
            ..
        }
    ));

    let nodes = "/regressor/decision-tree/tree_regressor/nodes";
    let mut b = tree.clone();
    b.pointer_mut(nodes).unwrap()[0]["true_child"] = 0.into();
    assert!(matches!(
        structure_error(&b),
        StructureError::NodeReachedTwice {
            node: 0,
            child: 0,
            ..
        }
    ));
    let mut b = tree.clone();
    b.pointer_mut(nodes).unwrap()[0]["split_feature"] = 5.into();
    assert!(matches!(
        structure_error(&b),
        StructureError::SplitFeatureOutOfRange { feature: 5, .. }
    ));
    let mut b = tree.clone();
    b.pointer_mut(nodes).unwrap()[0]["false_child"] = Value::Null;
    assert!(matches!(
        structure_error(&b),
        StructureError::HalfSplit { node: 0, .. }
    ));
    let mut b = tree.clone();
    let n = b.pointer(nodes).unwrap().as_array().unwrap().len();
    b.pointer_mut(nodes).unwrap()[0]["true_child"] = (n + 3).into();
    assert!(matches!(
        structure_error(&b),
        StructureError::NodeOutOfRange { .. }
    ));
    let mut b = tree.clone();
    b["regressor"]["decision-tree"]["num_features"] = 9.into();
    assert!(matches!(
        structure_error(&b),
        StructureError::CountMismatch { .. }
    ));

    let trees = "/regressor/random-forest/forest_regressor/trees";
    let mut b = forest.clone();
    b.pointer_mut(trees).unwrap()[2]["nodes"][0]["split_value"] = Value::Null;
    assert!(matches!(
        structure_error(&b),
        StructureError::BadThreshold { node: 0, .. }
    ));
    let mut b = forest.clone();
    *b.pointer_mut(trees).unwrap() = json!([]);
    assert!(matches!(
        structure_error(&b),
        StructureError::NoTrees { .. }
    ));
    let mut b = forest.clone();
    b["regressor"]["random-forest"]["forest_regressor"] = Value::Null;
    assert!(matches!(
        structure_error(&b),
        StructureError::NotFitted { .. }
    ));

    // A leaf value no f64 can hold is refused while parsing, never read as infinity.
    let mut text = tree.to_string();
    let at = text.find("\"output\":").unwrap() + "\"output\":".len();
    let end = at + text[at..].find(',').unwrap();
    text.replace_range(at..end, "1e999");
    let body: String = text;
    let file = format!(
        r#"{{"format":"{FORMAT}","format_version":{FORMAT_VERSION},"checksum":"{}","body":{body}}}"#,
        checksum_of(&body)
    );
    let err = Artifact::from_bytes(Path::new("f.json"), file.as_bytes()).unwrap_err();
    assert!(matches!(err, ArtifactError::NotJson { .. }), "{err}");

    // A regressor's file that claims classes, or whose reference has class shares.
    let mut b = tree.clone();
    b["class_names"] = json!(["a", "b"]);
    let err = Artifact::from_bytes(Path::new("f.json"), &reseal(&b)).unwrap_err();
    assert!(err.to_string().contains("has no class_names"), "{err}");
    let mut b = tree.clone();
    b["reference"]["output"] = json!({"class_shares": [0.5, 0.5]});
    let err = Artifact::from_bytes(Path::new("f.json"), &reseal(&b)).unwrap_err();
    assert!(err.to_string().contains("training reference"), "{err}");
}

/// Regressor bodies to edit: a decision tree, a 3-tree forest and a linear regression, trained
/// on the first 40 rows of energy.csv (small trees keep the search fast).
fn small_regressors() -> &'static [Value; 3] {
    static BODIES: OnceLock<[Value; 3]> = OnceLock::new();
    BODIES.get_or_init(|| {
        let text: String = std::fs::read_to_string(ENERGY)
            .unwrap()
            .lines()
            .take(41)
            .map(|l| format!("{l}\n"))
            .collect();
        let table = Table::parse(Path::new("energy.csv"), text.as_bytes(), "load_kw").unwrap();
        let body = |algorithm| {
            let trained = train_table(&table, None, &opts(algorithm, "e")).unwrap();
            body_of(&trained.artifact)["regressor"].clone()
        };
        let mut forest = body(Algorithm::RandomForest);
        forest["random-forest"]["forest_regressor"]["trees"]
            .as_array_mut()
            .unwrap()
            .truncate(3);
        [
            body(Algorithm::DecisionTree),
            forest,
            body(Algorithm::LinearRegression),
        ]
    })
}

/// An edit of a node link, split feature or threshold, or of a matrix dimension.
#[derive(Debug, Clone)]
enum RegressorEdit {
    Link {
        node: usize,
        true_side: bool,
        to: Option<u8>,
    },
    Feature {
        node: usize,
        feature: u8,
    },
    Threshold {
        node: usize,
        value: Option<f64>,
    },
    Dimension {
        coefficients: bool,
        rows: bool,
        value: u8,
    },
}

fn regressor_edit() -> impl proptest::strategy::Strategy<Value = RegressorEdit> {
    use proptest::prelude::*;
    prop_oneof![
        (any::<usize>(), any::<bool>(), proptest::option::of(0..40u8)).prop_map(
            |(node, true_side, to)| RegressorEdit::Link {
                node,
                true_side,
                to
            }
        ),
        (any::<usize>(), 0..8u8)
            .prop_map(|(node, feature)| RegressorEdit::Feature { node, feature }),
        (any::<usize>(), proptest::option::of(-50.0..50.0f64))
            .prop_map(|(node, value)| RegressorEdit::Threshold { node, value }),
        (any::<bool>(), any::<bool>(), 0..7u8).prop_map(|(coefficients, rows, value)| {
            RegressorEdit::Dimension {
                coefficients,
                rows,
                value,
            }
        }),
    ]
}

fn apply_regressor_edit(regressor: &mut Value, edit: &RegressorEdit) {
    let nodes = if let Some(tree) = regressor.pointer_mut("/decision-tree/tree_regressor") {
        &mut tree["nodes"]
    } else if let Some(trees) = regressor.pointer_mut("/random-forest/forest_regressor/trees") {
        &mut trees[0]["nodes"]
    } else {
        if let RegressorEdit::Dimension {
            coefficients,
            rows,
            value,
        } = *edit
        {
            let m = if coefficients {
                "coefficients"
            } else {
                "intercept"
            };
            let dim = if rows { "nrows" } else { "ncols" };
            regressor["linear-regression"][m][dim] = value.into();
        }
        return;
    };
    let n = nodes.as_array().unwrap().len();
    match *edit {
        RegressorEdit::Link {
            node,
            true_side,
            to,
        } => {
            let side = if true_side {
                "true_child"
            } else {
                "false_child"
            };
            nodes[node % n][side] = to.map_or(Value::Null, Value::from);
        }
        RegressorEdit::Feature { node, feature } => {
            nodes[node % n]["split_feature"] = feature.into();
        }
        RegressorEdit::Threshold { node, value } => {
            nodes[node % n]["split_value"] = value.map_or(Value::Null, Value::from);
        }
        RegressorEdit::Dimension { .. } => {}
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// Whatever edited regressor passes the structural check predicts any row without a
    /// panic or a loop; what it refuses is refused by name.
    #[test]
    fn whatever_regressor_passes_the_check_predicts_safely(
        which in 0..3usize,
        edits in proptest::collection::vec(regressor_edit(), 1..5),
        rows in proptest::collection::vec(
            proptest::collection::vec(-1e6f32..1e6f32, 5), 1..6),
    ) {
        let mut regressor = small_regressors()[which].clone();
        for e in &edits {
            apply_regressor_edit(&mut regressor, e);
        }
        let json = regressor.to_string();
        match model_server::model::validate::check_regressor(&json, 5) {
            Ok(()) => {
                let regressor: model_server::model::Regressor =
                    serde_json::from_str(&json).unwrap();
                let names = (0..5).map(|i| format!("f{i}")).collect();
                let model = model_server::model::Model::new(
                    "m".into(), "v".into(), names, Vec::new(), regressor);
                let rows = model_server::model::Rows::from_rows(5, rows).unwrap();
                let (tx, rx) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    let _ = tx.send(model.predict(&rows).map(|p| p.len()));
                });
                let answer = rx.recv_timeout(std::time::Duration::from_secs(5));
                proptest::prop_assert!(
                    matches!(answer, Ok(Ok(_))),
                    "{edits:?}: {answer:?} (a panic or a loop)"
                );
            }
            Err(model_server::model::validate::CheckError::Structure(e)) => {
                proptest::prop_assert!(!e.to_string().is_empty());
            }
            Err(e) => proptest::prop_assert!(false, "{edits:?}: not a structure error: {e}"),
        }
    }
}

/// The property above is not vacuous: some edits pass the check, others do not.
#[test]
fn the_regressor_edits_both_pass_and_fail_the_check() {
    let [tree, _, linear] = small_regressors();
    let mut swapped = tree.clone();
    // Another threshold keeps the structure sound.
    apply_regressor_edit(
        &mut swapped,
        &RegressorEdit::Threshold {
            node: 0,
            value: Some(1.0),
        },
    );
    assert!(model_server::model::validate::check_regressor(&swapped.to_string(), 5).is_ok());
    let mut cut = tree.clone();
    apply_regressor_edit(
        &mut cut,
        &RegressorEdit::Link {
            node: 0,
            true_side: true,
            to: None,
        },
    );
    assert!(model_server::model::validate::check_regressor(&cut.to_string(), 5).is_err());
    let mut wide = linear.clone();
    apply_regressor_edit(
        &mut wide,
        &RegressorEdit::Dimension {
            coefficients: true,
            rows: true,
            value: 6,
        },
    );
    assert!(model_server::model::validate::check_regressor(&wide.to_string(), 5).is_err());
}
