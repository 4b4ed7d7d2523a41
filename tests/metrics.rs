//! The exported metrics have exactly the expected values after known traffic.

mod common;

use axum::http::StatusCode;
use common::*;

const DURATION_COUNT: &str = "requests_duration_seconds_count";

#[tokio::test]
async fn counters_histograms_and_gauge_match_a_known_sequence() {
    let mut cfg = config();
    cfg.enable_faults = true;
    let (app, telemetry) = app(cfg);
    // 2 single predictions + 1 batch of 3 rows → 3 × 200, 5 rows predicted.
    send(&app, post_json("/predict", SETOSA)).await;
    send(
        &app,
        post_json("/predict", r#"{"features":[6.7,3.0,5.2,2.3]}"#),
    )
    .await;
    send(
        &app,
        post_json(
            "/predict",
            r#"{"instances":[[5.1,3.5,1.4,0.2],[5.9,2.8,4.3,1.3],[6.3,3.3,6.0,2.5]]}"#,
        ),
    )
    .await;
    // 2 × 422, 1 × 400, 1 × 404, 1 × 405, 1 × 500 injected, 1 × 500 panic.
    send(&app, post_json("/predict", r#"{"features":[1]}"#)).await;
    send(&app, post_json("/predict", r#"{"instances":[]}"#)).await;
    send(&app, post_json("/predict", "{oops")).await;
    send(&app, get("/nowhere")).await;
    send(&app, get("/predict")).await;
    send(&app, predict_with_fault("500", SETOSA)).await;
    send(&app, predict_with_fault("panic", SETOSA)).await;
    // Probes and scrapes are not counted by default.
    send(&app, get("/metrics")).await;
    send(&app, get("/healthz")).await;
    send(&app, get("/readyz")).await;
    send(&app, get("/")).await;

    let m = scrape(&telemetry);
    let post = [("method", "POST"), ("route", "/predict")];
    let expect = [
        (post, "200", 3.0),
        (post, "422", 2.0),
        (post, "400", 1.0),
        (post, "500", 2.0),
    ];
    for (labels, status, n) in expect {
        let mut l = labels.to_vec();
        l.push(("status", status));
        assert_eq!(
            m.value("requests_total", &l),
            Some(n),
            "requests_total {l:?}"
        );
        assert_eq!(
            m.value(DURATION_COUNT, &l),
            Some(n),
            "{DURATION_COUNT} {l:?}"
        );
    }
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    assert_eq!(m.value("requests_total", &unmatched), Some(1.0));
    let wrong_method = [("method", "GET"), ("route", "/predict"), ("status", "405")];
    assert_eq!(m.value("requests_total", &wrong_method), Some(1.0));
    let root = [("method", "GET"), ("route", "/"), ("status", "200")];
    assert_eq!(m.value("requests_total", &root), Some(1.0));
    assert_eq!(
        m.sum("requests_total", &[]),
        11.0,
        "every request once, probes excluded"
    );
    for probe in ["/metrics", "/healthz", "/readyz"] {
        assert_eq!(m.sum("requests_total", &[("route", probe)]), 0.0, "{probe}");
    }
    assert_eq!(m.sum("request_in_progress", &[]), 0.0);

    // Histogram buckets are cumulative and end at the count.
    let inf = m.value(
        "requests_duration_seconds_bucket",
        &[
            ("method", "POST"),
            ("route", "/predict"),
            ("status", "200"),
            ("le", "+Inf"),
        ],
    );
    assert_eq!(inf, Some(3.0));

    // Predictions: one per row, by class.
    assert_eq!(
        m.value("predictions_total", &[("class", "setosa")]),
        Some(2.0)
    );
    assert_eq!(
        m.value("predictions_total", &[("class", "versicolor")]),
        Some(1.0)
    );
    assert_eq!(
        m.value("predictions_total", &[("class", "virginica")]),
        Some(2.0)
    );
    // Inference time is recorded once per successful predict call.
    assert_eq!(m.value("inference_duration_seconds_count", &[]), Some(3.0));
    let model = model();
    assert_eq!(
        m.value(
            "model_info",
            &[
                ("name", "iris"),
                ("version", model.version()),
                ("algorithm", "random-forest")
            ]
        ),
        Some(1.0)
    );
    // No OpenTelemetry clutter.
    assert!(m
        .samples
        .keys()
        .all(|(name, labels)| name != "target_info"
            && !labels.keys().any(|k| k.starts_with("otel_"))));
}

#[tokio::test]
async fn probes_are_counted_when_asked() {
    let mut cfg = config();
    cfg.instrument_probes = true;
    let (app, telemetry) = app(cfg);
    send(&app, get("/healthz")).await;
    send(&app, get("/readyz")).await;
    send(&app, get("/metrics")).await;
    let m = scrape(&telemetry);
    for probe in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(
            m.value(
                "requests_total",
                &[("method", "GET"), ("route", probe), ("status", "200")]
            ),
            Some(1.0),
            "{probe}"
        );
    }
    // The scrape in flight sees itself, so /metrics is in progress while rendering;
    // afterwards everything is back to 0.
    assert_eq!(scrape(&telemetry).sum("request_in_progress", &[]), 0.0);
}

#[tokio::test]
async fn a_thousand_random_paths_add_no_series() {
    let (app, telemetry) = app(config());
    send(&app, get("/warm-up")).await;
    let before = scrape(&telemetry);
    for i in 0..1000u32 {
        let path = format!("/{:x}/{}", i.wrapping_mul(2654435761), i);
        assert_eq!(send(&app, get(&path)).await.status, StatusCode::NOT_FOUND);
    }
    let after = scrape(&telemetry);
    for name in ["requests_total", DURATION_COUNT, "request_in_progress"] {
        assert_eq!(after.series(name), before.series(name), "{name}");
    }
    assert_eq!(
        after.value(
            "requests_total",
            &[("method", "GET"), ("route", "unmatched"), ("status", "404")]
        ),
        Some(1001.0)
    );
}

#[tokio::test]
async fn non_standard_methods_are_other() {
    let (app, telemetry) = app(config());
    let request = axum::http::Request::builder()
        .method("BREW")
        .uri("/")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(
        send(&app, request).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let m = scrape(&telemetry);
    assert_eq!(m.sum("requests_total", &[("method", "other")]), 1.0);
    assert_eq!(m.sum("requests_total", &[("method", "BREW")]), 0.0);
}

#[tokio::test]
async fn http_metrics_can_be_turned_off_leaving_model_metrics() {
    let mut cfg = config();
    cfg.http_metrics = false;
    let (app, telemetry) = app(cfg);
    assert_eq!(
        send(&app, post_json("/predict", SETOSA)).await.status,
        StatusCode::OK
    );
    let m = scrape(&telemetry);
    assert_eq!(m.series("requests_total"), 0);
    assert_eq!(m.series(DURATION_COUNT), 0);
    assert_eq!(
        m.value("predictions_total", &[("class", "setosa")]),
        Some(1.0)
    );
}

#[tokio::test]
async fn served_inputs_are_counted_into_the_training_bins() {
    let (app, telemetry) = app(config());
    let reference = model()
        .reference()
        .expect("the default model has a reference")
        .clone();
    // One row inside the training range, one below every minimum, one above every maximum.
    let body = r#"{"instances":[[5.1,3.5,1.4,0.2],[0.0,0.0,0.0,0.0],[99,99,99,99]]}"#;
    assert_eq!(
        send(&app, post_json("/predict", body)).await.status,
        StatusCode::OK
    );
    let m = scrape(&telemetry);
    let row = [5.1f32, 3.5, 1.4, 0.2];
    for (feature, value) in reference.features.iter().zip(row) {
        let name = feature.name.as_str();
        let bin = feature.bin(f64::from(value)).label();
        assert_eq!(
            m.value(
                "model_input_values_total",
                &[("feature", name), ("bin", &bin)]
            ),
            Some(1.0),
            "{name} bin {bin}"
        );
        for edge in ["below_min", "above_max"] {
            assert_eq!(
                m.value(
                    "model_input_values_total",
                    &[("feature", name), ("bin", edge)]
                ),
                Some(1.0),
                "{name} {edge}"
            );
        }
        // Every bin has a series, and the reference shares are exported and sum to 1.
        assert_eq!(m.sum("model_input_values_total", &[("feature", name)]), 3.0);
        assert_eq!(
            m.series_with("model_input_values_total", &[("feature", name)]),
            feature.bins() + 2
        );
        let total: f64 = m.sum("model_input_reference_share", &[("feature", name)]);
        assert!((total - 1.0).abs() < 1e-9, "{name}: {total}");
    }
    assert_eq!(
        m.series("model_output_reference_share"),
        model().class_names().len()
    );
}

#[tokio::test]
async fn input_monitoring_can_be_turned_off() {
    let mut cfg = config();
    cfg.monitored_features = 0;
    let (router, telemetry) = app(cfg);
    send(&router, post_json("/predict", SETOSA)).await;
    let m = scrape(&telemetry);
    assert_eq!(m.series("model_input_values_total"), 0);
    assert_eq!(m.series("model_input_reference_share"), 0);
    let mut cfg = config();
    cfg.monitored_features = 2;
    let (router, telemetry) = app(cfg);
    send(&router, post_json("/predict", SETOSA)).await;
    let features: std::collections::BTreeSet<String> = scrape(&telemetry)
        .samples
        .keys()
        .filter(|(n, _)| n == "model_input_values_total")
        .map(|(_, l)| l["feature"].clone())
        .collect();
    assert_eq!(features.len(), 2, "{features:?}");
}

/// `/metrics` is written by our own encoder (issue 14); on the real app's
/// instruments, after traffic that fills every kind of family, its text is
/// byte-for-byte what the prometheus crate's `TextEncoder` prints.
#[tokio::test]
async fn the_served_text_is_what_the_prometheus_text_encoder_prints() {
    use prometheus::{Encoder, TextEncoder};

    let (app, telemetry) = app(config());
    let batch = r#"{"instances":[[6.7,3.0,5.2,2.3],[5.9,2.8,4.3,1.3]]}"#;
    for body in [SETOSA, batch, r#"{"features":[1]}"#] {
        send(&app, post_json("/predict", body)).await;
    }
    send(&app, get("/nowhere")).await;

    let served = send(&app, get("/metrics")).await;
    assert_eq!(served.status, StatusCode::OK);
    let mut expected = Vec::new();
    TextEncoder::new()
        .encode(&telemetry.gather(), &mut expected)
        .unwrap();
    let expected = String::from_utf8(expected).unwrap();
    assert!(expected.contains("# TYPE requests_duration_seconds histogram\n"));
    assert!(expected.contains("# TYPE requests_total counter\n"));
    assert!(expected.contains("# TYPE request_in_progress gauge\n"));
    assert_eq!(served.text, expected);
}
