//! Instrumentation micro-benchmarks:
//! - `http_layer/*`: one request through a trivial axum router with and without
//!   [`HttpMetricsLayer`]; the difference is what recording one request's
//!   metrics costs (gauge up, counter, histogram, gauge down).
//! - `predict_route/*`: one `POST /predict` through the real `api::router`
//!   (JSON parsing, validation, model, response) with HTTP metrics on and off.
//! - `render/*`: what `GET /metrics` does at about 10, 1,000 and 10,000 series
//!   created through the OpenTelemetry meter: `render/ours/*` is
//!   `Telemetry::render()`, `render/textencoder/*` the pre-issue-14 path
//!   (gather, then the prometheus crate's `TextEncoder`), so one run gives
//!   before and after.
//! - `gather/*` and `encode/*`: the two halves of a render timed apart: the
//!   exporter's collection into metric families, and the text encoding.
//!
//! `cargo bench --bench metrics` (add `-- --quick` for a fast look).

use std::hint::black_box;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request};
use axum::routing::get;
use axum::Router;
use criterion::{criterion_group, BenchmarkId, Criterion};
use model_server::api::{self, ApiConfig};
use model_server::drain::Drain;
use model_server::http_metrics::HttpMetricsLayer;
use model_server::inference::InferencePool;
use model_server::model::train::{train, TrainOptions};
use model_server::telemetry::{text, Telemetry};
use opentelemetry::KeyValue;
use prometheus::{Encoder, TextEncoder};
use tower::ServiceExt;

#[path = "common.rs"]
mod common;

const PREDICT_BODY: &str = r#"{"features":[5.1,3.5,1.4,0.2]}"#;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn get_root() -> Request<Body> {
    Request::builder().uri("/").body(Body::empty()).unwrap()
}

fn post_predict() -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri("/predict")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(PREDICT_BODY))
        .unwrap()
}

fn http_layer(c: &mut Criterion) {
    let rt = runtime();
    let telemetry = Telemetry::new().unwrap();
    let bare: Router = Router::new().route("/", get(|| async { "ok" }));
    let layered = bare
        .clone()
        .layer(HttpMetricsLayer::new(&telemetry.meter("bench")));
    // The layer does record (checked before timing, so a filtered run still checks it).
    rt.block_on(layered.clone().oneshot(get_root())).unwrap();
    let text = telemetry.render().unwrap();
    assert!(
        text.contains("requests_total{"),
        "layer recorded nothing:\n{text}"
    );
    let mut group = c.benchmark_group("http_layer");
    group.bench_function("without", |b| {
        b.iter(|| {
            rt.block_on(bare.clone().oneshot(black_box(get_root())))
                .unwrap()
        })
    });
    group.bench_function("with", |b| {
        b.iter(|| {
            rt.block_on(layered.clone().oneshot(black_box(get_root())))
                .unwrap()
        })
    });
    group.finish();
}

fn api_config(http_metrics: bool) -> ApiConfig {
    ApiConfig {
        http_metrics,
        ..ApiConfig::default()
    }
}

fn predict_route(c: &mut Criterion) {
    let rt = runtime();
    let model = Arc::new(train(&TrainOptions::default()).unwrap().into_model());
    let mut group = c.benchmark_group("predict_route");
    for (name, on) in [("metrics_on", true), ("metrics_off", false)] {
        let app = api::router(
            model.clone(),
            Telemetry::new().unwrap(),
            Drain::new(),
            InferencePool::new(1).unwrap(),
            &api_config(on),
        );
        // The timeout middleware needs the runtime's timer: build requests inside it.
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let response = app.clone().oneshot(post_predict()).await.unwrap();
                    assert!(response.status().is_success());
                    response
                })
            })
        });
    }
    group.finish();
}

/// A telemetry holding about `series` counter series: 3 labels each like
/// `requests_total`, at most 1,000 per instrument (the SDK's default cardinality
/// limit is 2,000 per instrument; beyond it values fold into an overflow series).
fn telemetry_with_series(series: usize) -> (Telemetry, usize) {
    let telemetry = Telemetry::new().unwrap();
    let meter = telemetry.meter("bench");
    let per_instrument = 1000;
    let instruments = series.div_ceil(per_instrument);
    let mut made = 0;
    for k in 0..instruments {
        let counter = meter
            .u64_counter(format!("bench_requests_{k}"))
            .with_description("Benchmark series")
            .build();
        for i in 0..per_instrument.min(series - made) {
            counter.add(
                1 + i as u64,
                &[
                    KeyValue::new("method", "GET"),
                    KeyValue::new("route", format!("/route/{k}/{i}")),
                    KeyValue::new("status", "200"),
                ],
            );
            made += 1;
        }
    }
    let text = telemetry.render().unwrap();
    let samples = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    (telemetry, samples)
}

/// What `Telemetry::render` did before issue 14: gather, then the prometheus
/// crate's `TextEncoder` into a fresh buffer, then a `String`. Kept here as the
/// baseline every run compares against.
fn render_with_textencoder(telemetry: &Telemetry) -> String {
    let families = telemetry.gather();
    let mut buf = Vec::with_capacity(8 * 1024);
    TextEncoder::new().encode(&families, &mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

const SERIES: [usize; 3] = [10, 1_000, 10_000];

/// `render/*`: the whole of `GET /metrics`' work, old and current.
/// `gather/*` and `encode/*`: its two halves, timed apart.
fn render(c: &mut Criterion) {
    let fixtures: Vec<(usize, Telemetry)> = SERIES
        .iter()
        .map(|&series| {
            let (telemetry, samples) = telemetry_with_series(series);
            assert_eq!(
                samples, series,
                "expected {series} series, rendered {samples}"
            );
            (series, telemetry)
        })
        .collect();

    let mut group = c.benchmark_group("render");
    for (series, telemetry) in &fixtures {
        if *series >= 10_000 {
            group.sample_size(20);
        }
        group.bench_with_input(
            BenchmarkId::new("textencoder", series),
            telemetry,
            |b, t| b.iter(|| black_box(render_with_textencoder(t))),
        );
        group.bench_with_input(BenchmarkId::new("ours", series), telemetry, |b, t| {
            b.iter(|| black_box(t.render().unwrap()))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("gather");
    for (series, telemetry) in &fixtures {
        if *series >= 10_000 {
            group.sample_size(20);
        }
        group.bench_with_input(BenchmarkId::from_parameter(series), telemetry, |b, t| {
            b.iter(|| black_box(t.gather()))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("encode");
    for (series, telemetry) in &fixtures {
        let families = telemetry.gather();
        let mut buf = Vec::new();
        group.bench_with_input(
            BenchmarkId::new("textencoder", series),
            &families,
            |b, f| {
                b.iter(|| {
                    buf.clear();
                    TextEncoder::new().encode(f, &mut buf).unwrap();
                    black_box(buf.len())
                })
            },
        );
        let mut out = String::new();
        group.bench_with_input(BenchmarkId::new("ours", series), &families, |b, f| {
            b.iter(|| {
                out.clear();
                text::encode(f, &mut out).unwrap();
                black_box(out.len())
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = http_layer, predict_route, render
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    common::print_ratios(&[
        (
            "trivial route, with / without HttpMetricsLayer",
            "http_layer/with",
            "http_layer/without",
        ),
        (
            "POST /predict in-process, metrics on / off",
            "predict_route/metrics_on",
            "predict_route/metrics_off",
        ),
        (
            "render 1,000 / 10 series (current)",
            "render/ours/1000",
            "render/ours/10",
        ),
        (
            "render 10,000 / 1,000 series (current)",
            "render/ours/10000",
            "render/ours/1000",
        ),
        (
            "render 10 series, current / TextEncoder",
            "render/ours/10",
            "render/textencoder/10",
        ),
        (
            "render 1,000 series, current / TextEncoder",
            "render/ours/1000",
            "render/textencoder/1000",
        ),
        (
            "render 10,000 series, current / TextEncoder",
            "render/ours/10000",
            "render/textencoder/10000",
        ),
        (
            "encode 1,000 series, ours / TextEncoder",
            "encode/ours/1000",
            "encode/textencoder/1000",
        ),
        (
            "encode 10,000 series, ours / TextEncoder",
            "encode/ours/10000",
            "encode/textencoder/10000",
        ),
        (
            "encode 10,000 / 1,000 series, ours",
            "encode/ours/10000",
            "encode/ours/1000",
        ),
        (
            "gather 10,000 / 1,000 series",
            "gather/10000",
            "gather/1000",
        ),
        (
            "1,000 series, gather / whole TextEncoder render",
            "gather/1000",
            "render/textencoder/1000",
        ),
        (
            "10,000 series, gather / whole TextEncoder render",
            "gather/10000",
            "render/textencoder/10000",
        ),
    ]);
    if let (Some(with), Some(without)) = (
        common::median_ns("http_layer/with"),
        common::median_ns("http_layer/without"),
    ) {
        println!(
            "  recording one request's HTTP metrics: {}",
            common::human(with - without)
        );
    }
}
