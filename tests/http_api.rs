//! Every documented status of the HTTP API, with its JSON body.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;

#[tokio::test]
async fn single_and_batch_predictions() {
    let (app, _) = app(config());
    let reply = send(&app, post_json("/predict", SETOSA)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["predictions"][0]["class"], "setosa");
    assert_eq!(body["predictions"][0]["class_id"], 0);
    assert_eq!(body["model"]["name"], "iris");
    assert_eq!(body["model"]["version"], model().version());

    let batch = r#"{"instances":[[5.1,3.5,1.4,0.2],[6.7,3.0,5.2,2.3],[5.9,2.8,4.3,1.3]]}"#;
    let body = send(&app, post_json("/predict", batch)).await.json();
    let classes: Vec<_> = body["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["class"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(classes, ["setosa", "virginica", "versicolor"]);
}

#[tokio::test]
async fn named_features_in_any_order_and_mixed_batches() {
    let (app, _) = app(config());
    let one = r#"{"features":{"petal_width_cm":2.3,"sepal_length_cm":6.7,"petal_length_cm":5.2,"sepal_width_cm":3.0}}"#;
    let body = send(&app, post_json("/predict", one)).await.json();
    assert_eq!(body["predictions"][0]["class"], "virginica", "{body}");
    let batch = r#"{"instances":[[5.1,3.5,1.4,0.2],{"sepal_length_cm":5.9,"sepal_width_cm":2.8,"petal_length_cm":4.3,"petal_width_cm":1.3}]}"#;
    let body = send(&app, post_json("/predict", batch)).await.json();
    assert_eq!(body["predictions"][0]["class"], "setosa", "{body}");
    assert_eq!(body["predictions"][1]["class"], "versicolor", "{body}");

    for (request, code, named) in [
        (
            r#"{"features":{"sepal_length_cm":5.1,"sepal_width_cm":3.5,"petal_length_cm":1.4,"petal_colour":1}}"#,
            "unknown_feature",
            "petal_colour",
        ),
        (
            r#"{"features":{"sepal_length_cm":5.1,"sepal_width_cm":3.5,"petal_length_cm":1.4}}"#,
            "missing_feature",
            "petal_width_cm",
        ),
        (
            r#"{"instances":[[5.1,3.5,1.4,0.2],{"sepal_length_cm":5.1,"sepal_length_cm":5.1,"petal_length_cm":1.4,"petal_width_cm":0.2}]}"#,
            "duplicate_feature",
            "row 1",
        ),
    ] {
        let reply = send(&app, post_json("/predict", request)).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.text
        );
        assert_eq!(reply.error_code(), code);
        assert!(reply.text.contains(named), "{}", reply.text);
    }
}

#[tokio::test]
async fn client_errors_have_the_documented_status_and_code() {
    let mut cfg = config();
    cfg.body_limit = 1024;
    cfg.max_batch = 4;
    let (app, _) = app(cfg);
    let row = "[5.1,3.5,1.4,0.2]";
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            post_json("/predict", "{\"features\": [1,"),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            post_json("/predict", "not json"),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            post_json("/predict", r#"{"features":[1,2,3]}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "wrong_feature_count",
        ),
        (
            post_json("/predict", r#"{"features":[1,2,3,1e39]}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "non_finite_feature",
        ),
        (
            post_json("/predict", r#"{"features":[1,2,3,1e999]}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "non_finite_feature",
        ),
        (
            post_json("/predict", r#"{"instances":[]}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_batch",
        ),
        (
            post_json(
                "/predict",
                format!(r#"{{"instances":[{row},{row},{row},{row},{row}]}}"#),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "batch_too_large",
        ),
        (
            post_json(
                "/predict",
                format!(r#"{{"features":{row},"instances":[{row}]}}"#),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "ambiguous_input",
        ),
        (
            post_json("/predict", r#"{"feature":[1,2,3,4]}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            post_json("/predict", r#"{"features":["a",2,3,4]}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            post_json("/predict", "{}"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            Request::post("/predict").body(Body::from(SETOSA)).unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            Request::post("/predict")
                .header("content-type", "text/plain")
                .body(Body::from(SETOSA))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            post_json(
                "/predict",
                format!(r#"{{"features":[{}]}}"#, "1,".repeat(600)),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (get("/no/such/path"), StatusCode::NOT_FOUND, "not_found"),
        (
            get("/predict"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Request::delete("/metrics").body(Body::empty()).unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    for (request, status, code) in cases {
        let what = format!("{} {}", request.method(), request.uri());
        let reply = send(&app, request).await;
        assert_eq!(reply.status, status, "{what}: {}", reply.text);
        assert_eq!(reply.error_code(), code, "{what}: {}", reply.text);
        assert_eq!(reply.headers["content-type"], "application/json", "{what}");
    }
}

#[tokio::test]
async fn probes_root_and_metrics() {
    let (app, _) = app(config());
    let root = send(&app, get("/")).await;
    assert_eq!(root.status, StatusCode::OK);
    assert_eq!(root.json()["name"], "model-server");
    assert_eq!(root.json()["model"]["classes"][2], "virginica");
    assert_eq!(send(&app, get("/healthz")).await.json()["status"], "ok");
    assert_eq!(send(&app, get("/readyz")).await.json()["status"], "ready");
    let metrics = send(&app, get("/metrics")).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    assert!(metrics.text.contains("model_info{"), "{}", metrics.text);
}

#[tokio::test]
async fn readyz_fails_while_draining() {
    let telemetry = model_server::telemetry::Telemetry::new().unwrap();
    let drain = model_server::drain::Drain::new();
    let app = model_server::api::router(model(), telemetry, drain.clone(), pool(), &config());
    assert_eq!(send(&app, get("/readyz")).await.status, StatusCode::OK);
    drain.enter(model_server::drain::Phase::Draining);
    let reply = send(&app, get("/readyz")).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.error_code(), "not_ready");
    assert_eq!(reply.headers["retry-after"], "1");
}

#[tokio::test]
async fn fault_header_is_ignored_without_enable_faults() {
    let (app, _) = app(config());
    for fault in ["500", "503", "panic", "garbage"] {
        let reply = send(&app, predict_with_fault(fault, SETOSA)).await;
        assert_eq!(reply.status, StatusCode::OK, "x-fault: {fault}");
    }
}

#[tokio::test]
async fn fault_header_fails_requests_when_enabled() {
    let mut cfg = config();
    cfg.enable_faults = true;
    let (app, _) = app(cfg);
    let cases = [
        ("500", StatusCode::INTERNAL_SERVER_ERROR, "injected_fault"),
        ("503", StatusCode::SERVICE_UNAVAILABLE, "injected_fault"),
        ("503;p=1", StatusCode::SERVICE_UNAVAILABLE, "injected_fault"),
        ("panic", StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        ("sometimes", StatusCode::BAD_REQUEST, "invalid_fault_header"),
    ];
    for (fault, status, code) in cases {
        let reply = send(&app, predict_with_fault(fault, SETOSA)).await;
        assert_eq!(reply.status, status, "x-fault: {fault}: {}", reply.text);
        assert_eq!(reply.error_code(), code, "x-fault: {fault}");
    }
    // p=0 never fires; the request is served normally.
    let reply = send(&app, predict_with_fault("500;p=0", SETOSA)).await;
    assert_eq!(reply.status, StatusCode::OK);
    // Without the header, nothing changes.
    assert_eq!(
        send(&app, post_json("/predict", SETOSA)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn slow_requests_time_out_with_504() {
    let mut cfg = config();
    cfg.enable_faults = true;
    cfg.request_timeout = Duration::from_millis(50);
    let (app, _) = app(cfg);
    let reply = send(&app, predict_with_fault("delay=2000", SETOSA)).await;
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(reply.error_code(), "timeout");
}

#[tokio::test]
async fn requests_beyond_max_in_flight_are_shed_with_503() {
    let mut cfg = config();
    cfg.enable_faults = true;
    cfg.max_in_flight = 1;
    let (app, _) = app(cfg);
    let slow = {
        let app = app.clone();
        tokio::spawn(async move { send(&app, predict_with_fault("delay=300", SETOSA)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let reply = send(&app, post_json("/predict", SETOSA)).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.text
    );
    assert_eq!(reply.error_code(), "overloaded");
    assert_eq!(reply.headers["retry-after"], "1");
    assert_eq!(slow.await.unwrap().status, StatusCode::OK);
    // The permit is back: the next request is served.
    assert_eq!(
        send(&app, post_json("/predict", SETOSA)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn small_predictions_run_inline_and_large_ones_on_the_inference_threads() {
    // One inference thread, held by a job that never finishes until released.
    let pool = model_server::inference::InferencePool::new(1).unwrap();
    let held = pool.hold_thread().await;

    let mut cfg = config();
    cfg.request_timeout = Duration::from_millis(300);
    cfg.inline_work = model().work_per_row() * 4;
    let app = model_server::api::router(
        model(),
        model_server::telemetry::Telemetry::new().unwrap(),
        model_server::drain::Drain::new(),
        pool,
        &cfg,
    );
    // 4 rows are within the inline budget: answered although the pool is stuck.
    let four = format!(
        r#"{{"instances":{}}}"#,
        serde_json::json!(vec![[5.1, 3.5, 1.4, 0.2]; 4])
    );
    assert_eq!(
        send(&app, post_json("/predict", four)).await.status,
        StatusCode::OK
    );
    // 5 rows go to the stuck pool: the request timeout still answers, 504.
    let five = format!(
        r#"{{"instances":{}}}"#,
        serde_json::json!(vec![[5.1, 3.5, 1.4, 0.2]; 5])
    );
    let reply = send(&app, post_json("/predict", five)).await;
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT, "{}", reply.text);
    assert_eq!(reply.error_code(), "timeout");
    held.release().await.unwrap();
}
