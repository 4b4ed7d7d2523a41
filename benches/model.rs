//! Model prediction micro-benchmarks: random forest (the served default) and
//! logistic regression, one row and a 32-row batch, through `Model::predict`
//! (the exact call the `/predict` handler makes, class names included); and
//! `validate/*`: a `/predict` body parsed and validated into the model's rows
//! (positional and named, 1 and 32 rows), the work before the model runs.
//!
//! `cargo bench --bench model` (add `-- --quick` for a fast look). Ratios are
//! printed at the end and collected into BENCHMARKS.md by `bench/run`.

use std::hint::black_box;

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use model_server::api::predict::{self, Features, PredictRequest};
use model_server::model::train::{train, Algorithm, TrainOptions};
use model_server::model::{Model, Rows};

#[path = "common.rs"]
mod common;

/// Rows around the three Iris class means, cycled to the batch size.
fn rows(n: usize) -> Rows {
    let base = [
        [5.1f32, 3.5, 1.4, 0.2],
        [5.9, 2.8, 4.4, 1.3],
        [6.6, 3.0, 5.6, 2.1],
    ];
    Rows::from_rows(4, (0..n).map(|i| base[i % 3])).expect("finite rows of 4")
}

fn model(algorithm: Algorithm) -> Model {
    train(&TrainOptions {
        algorithm,
        ..TrainOptions::default()
    })
    .expect("training on Iris works")
    .into_model()
}

fn predict(c: &mut Criterion) {
    let mut group = c.benchmark_group("predict");
    for algorithm in [Algorithm::RandomForest, Algorithm::LogisticRegression] {
        let m = model(algorithm);
        for n in [1usize, 32] {
            let x = rows(n);
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new(algorithm.as_str(), n), &x, |b, x| {
                b.iter(|| m.predict(black_box(x)).expect("prediction"))
            });
        }
    }
    group.finish();
}

/// A `/predict` body of `n` rows, positional (`[..]`) or named (`{"name": ..}`).
fn body(n: usize, named: bool) -> String {
    let row = if named {
        r#"{"sepal_length_cm":5.1,"sepal_width_cm":3.5,"petal_length_cm":1.4,"petal_width_cm":0.2}"#
    } else {
        "[5.1,3.5,1.4,0.2]"
    };
    if n == 1 {
        format!(r#"{{"features":{row}}}"#)
    } else {
        format!(r#"{{"instances":[{}]}}"#, vec![row; n].join(","))
    }
}

fn validate(c: &mut Criterion) {
    let m = model(Algorithm::LogisticRegression);
    let features = Features::new(m.feature_names());
    let mut group = c.benchmark_group("validate");
    for (name, n, named) in [
        ("positional", 1, false),
        ("positional", 32, false),
        ("named", 1, true),
    ] {
        let body = body(n, named);
        // Checked before timing, so a filtered run still checks it.
        let parsed: PredictRequest = serde_json::from_str(&body).expect("a valid body");
        let rows = predict::validate(parsed, &features, 64).expect("valid rows");
        assert_eq!(rows.len(), n, "{name}/{n}");
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new(name, n), &body, |b, body| {
            b.iter(|| {
                let parsed: PredictRequest =
                    serde_json::from_str(black_box(body)).expect("a valid body");
                predict::validate(parsed, &features, 64).expect("valid rows")
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = predict, validate
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    common::print_ratios(&[
        (
            "random forest / logistic regression, 1 row",
            "predict/random-forest/1",
            "predict/logistic-regression/1",
        ),
        (
            "random forest, 32 rows / 1 row",
            "predict/random-forest/32",
            "predict/random-forest/1",
        ),
        (
            "logistic regression, 32 rows / 1 row",
            "predict/logistic-regression/32",
            "predict/logistic-regression/1",
        ),
        (
            "validation, 32 positional rows / 1 row",
            "validate/positional/32",
            "validate/positional/1",
        ),
        (
            "validation, 1 named row / 1 positional row",
            "validate/named/1",
            "validate/positional/1",
        ),
    ]);
}
