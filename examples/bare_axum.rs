//! The upper bound for `POST /predict`: a bare axum handler on the same runtime
//! settings as `model-server serve` (tokio multi-thread runtime, default worker
//! count, `axum::serve`), answering a fixed JSON body of the same size as a
//! one-row prediction. It reads the request body but parses nothing, runs no
//! model, and records no metrics. Used by `bench/run`.
//!
//! `cargo run --release --example bare_axum -- 127.0.0.1:8100`

use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;

/// Same bytes count as `{"predictions":[{"class":"setosa","class_id":0}],"model":{"name":"iris","version":"<12 hex>"}}`.
const RESPONSE: &str = r#"{"predictions":[{"class":"setosa","class_id":0}],"model":{"name":"iris","version":"000000000000"}}"#;

async fn predict(body: Bytes) -> impl IntoResponse {
    std::hint::black_box(body);
    ([(header::CONTENT_TYPE, "application/json")], RESPONSE)
}

async fn healthz() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
}

fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8100".to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let app = Router::new()
            .route("/predict", post(predict))
            .route("/healthz", get(healthz));
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        eprintln!("bare axum listening on http://{}", listener.local_addr()?);
        axum::serve(listener, app).await
    })
}
