//! Model prediction micro-benchmarks: random forest (the served default) and
//! logistic regression, one row and a 32-row batch, through `Model::predict`
//! (the exact call the `/predict` handler makes, class names included).
//!
//! `cargo bench --bench model` (add `-- --quick` for a fast look). Ratios are
//! printed at the end and collected into BENCHMARKS.md by `bench/run`.

use std::hint::black_box;

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use model_server::model::train::{train, Algorithm, TrainOptions};
use model_server::model::Model;

#[path = "common.rs"]
mod common;

/// Rows around the three Iris class means, cycled to the batch size.
fn rows(n: usize) -> Vec<Vec<f32>> {
    let base = [
        [5.1, 3.5, 1.4, 0.2],
        [5.9, 2.8, 4.4, 1.3],
        [6.6, 3.0, 5.6, 2.1],
    ];
    (0..n).map(|i| base[i % 3].to_vec()).collect()
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

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = predict
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
    ]);
}
