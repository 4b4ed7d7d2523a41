//! The HTTP API: routes, shared state and the middleware that protects `/predict`.
//!
//! | route | purpose |
//! |---|---|
//! | `GET /` | name, version, model and endpoints |
//! | `POST /predict` | one row (`features`) or a batch (`instances`) |
//! | `GET /healthz` | the process is alive |
//! | `GET /readyz` | the model is loaded and the server is not draining |
//! | `GET /metrics` | Prometheus text format |

pub mod body;
pub mod drift;
pub mod error;
pub mod faults;
pub mod limits;
pub mod predict;
pub mod v2;

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::{header, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;

pub use error::ApiError;

use crate::drain::Drain;
use crate::http_metrics::HttpMetricsLayer;
use crate::inference::InferencePool;
use crate::model::Model;
use crate::telemetry::Telemetry;
use body::BodyLimits;
use limits::Admission;
use predict::ModelMetrics;

/// Routes that are not recorded in the HTTP metrics unless asked to.
pub const PROBE_ROUTES: [&str; 5] = [
    "/metrics",
    "/healthz",
    "/readyz",
    "/v2/health/live",
    "/v2/health/ready",
];

/// The knobs of the API (a subset of the `serve` configuration).
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub body_limit: usize,
    pub body_read_timeout: Duration,
    pub max_batch: usize,
    pub max_in_flight: usize,
    pub request_timeout: Duration,
    pub enable_faults: bool,
    pub instrument_probes: bool,
    /// Record the HTTP metrics at all (on unless `--no-http-metrics`).
    pub http_metrics: bool,
    /// Count served inputs into the training bins (0 features: off).
    pub monitored_features: usize,
    /// Predictions up to this much work (rows × the model's work per row) run on the
    /// request's own worker; larger ones on the inference threads. 0: always threads.
    pub inline_work: u64,
}

impl From<&crate::config::ServeConfig> for ApiConfig {
    fn from(c: &crate::config::ServeConfig) -> Self {
        ApiConfig {
            body_limit: c.body_limit,
            body_read_timeout: c.body_read_timeout,
            max_batch: c.max_batch as usize,
            max_in_flight: c.max_in_flight as usize,
            request_timeout: c.request_timeout,
            enable_faults: c.enable_faults,
            instrument_probes: c.instrument_probes,
            http_metrics: !c.no_http_metrics,
            inline_work: c.inline_inference_work,
            monitored_features: if c.no_input_monitoring {
                0
            } else {
                c.max_monitored_features as usize
            },
        }
    }
}

impl Default for ApiConfig {
    /// The defaults of `serve` with no flags.
    fn default() -> Self {
        ApiConfig::from(&crate::config::ServeConfig::defaults())
    }
}

impl FromRef<Arc<AppState>> for BodyLimits {
    fn from_ref(state: &Arc<AppState>) -> Self {
        state.body_limits
    }
}

/// State shared by the handlers.
#[derive(Debug)]
pub struct AppState {
    pub model: Arc<Model>,
    model_metrics: ModelMetrics,
    features: predict::Features,
    input_monitor: Option<drift::InputMonitor>,
    telemetry: Telemetry,
    /// `/readyz` and `/v2/health/ready` answer ready only while it is serving.
    drain: Drain,
    inference: InferencePool,
    admission: Admission,
    body_limits: BodyLimits,
    max_batch: usize,
    request_timeout: Duration,
    enable_faults: bool,
    inline_work: u64,
}

/// Builds the application router with its metrics, limits and optional fault injector.
pub fn router(
    model: Arc<Model>,
    telemetry: Telemetry,
    drain: Drain,
    inference: InferencePool,
    config: &ApiConfig,
) -> Router {
    let meter = telemetry.meter("model-server");
    let state = Arc::new(AppState {
        model_metrics: ModelMetrics::new(&meter, &model),
        features: predict::Features::new(model.feature_names()),
        input_monitor: model
            .reference()
            .filter(|_| config.monitored_features > 0)
            .map(|r| {
                drift::InputMonitor::new(&meter, r, model.class_names(), config.monitored_features)
            }),
        model,
        telemetry,
        drain,
        inference,
        admission: Admission::new(config.max_in_flight),
        body_limits: BodyLimits {
            max_bytes: config.body_limit,
            read_timeout: config.body_read_timeout,
        },
        max_batch: config.max_batch,
        request_timeout: config.request_timeout,
        enable_faults: config.enable_faults,
        inline_work: config.inline_work,
    });

    let metrics_layer = HttpMetricsLayer::new(&meter);
    let metrics_layer = if config.instrument_probes {
        metrics_layer
    } else {
        metrics_layer.exclude(PROBE_ROUTES)
    };

    Router::new()
        .route("/", get(root))
        .route("/predict", post(predict::handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(v2::routes())
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .with_state(state)
        // One `Router::layer` for both: each call boxes every route's service again.
        .layer(
            ServiceBuilder::new()
                .option_layer(config.http_metrics.then_some(metrics_layer))
                .layer(CatchPanicLayer::custom(panic_response)),
        )
}

async fn root(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let model = &state.model;
    let mut about = json!({
        "name": model.name(),
        "version": model.version(),
        "task": model.task().as_str(),
        "algorithm": model.algorithm().as_str(),
        "features": model.feature_names(),
    });
    if model.task() == crate::model::Task::Classification {
        about["classes"] = json!(model.class_names());
    }
    if let Some(training) = model.training() {
        about["training"] = json!(training);
    }
    Json(json!({
        "name": env!("CARGO_PKG_NAME"),
        "version": env!("CARGO_PKG_VERSION"),
        "model": about,
        "endpoints": [
            {"method": "POST", "path": "/predict", "description": "predict one row ({\"features\": [..] or {name: value, ..}}) or a batch ({\"instances\": [..]})"},
            {"method": "GET", "path": "/healthz", "description": "liveness"},
            {"method": "GET", "path": "/readyz", "description": "readiness: model loaded and not draining"},
            {"method": "GET", "path": "/metrics", "description": "Prometheus metrics"},
            {"method": "POST", "path": "/v2/models/{name}/infer", "description": "Open Inference Protocol (KServe V2) inference; also GET /v2, /v2/health/{live,ready}, /v2/models/{name}[/ready]"},
        ],
    }))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<Arc<AppState>>) -> Result<Json<serde_json::Value>, ApiError> {
    if state.drain.is_ready() {
        Ok(Json(json!({"status": "ready"})))
    } else {
        Err(ApiError::NotReady("shutting down"))
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    // Rendering is synchronous and grows with the series count (about 1 ms per
    // thousand series): keep it off the async workers that serve /predict.
    let telemetry = state.telemetry.clone();
    match tokio::task::spawn_blocking(move || telemetry.render()).await {
        Ok(Ok(text)) => (
            [(header::CONTENT_TYPE, crate::telemetry::CONTENT_TYPE)],
            text,
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot render metrics");
            ApiError::Internal.into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "metrics rendering task failed");
            ApiError::Internal.into_response()
        }
    }
}

async fn not_found(uri: Uri) -> ApiError {
    let mut path = uri.path().to_owned();
    if path.len() > 200 {
        let cut = (0..=200)
            .rev()
            .find(|&i| path.is_char_boundary(i))
            .unwrap_or(0);
        path.truncate(cut);
        path.push('…');
    }
    ApiError::NotFound { path }
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed {
        method: crate::http_metrics::method_label(&method).to_owned(),
    }
}

/// The message of a panic payload (`panic!` with a literal or a formatted string).
pub fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)")
}

/// A handler panicked: answer 500. The panic itself, with its message and location,
/// is logged once by the process's panic hook (`serve` installs one).
fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response {
    tracing::warn!("a handler panicked; answered 500");
    ApiError::Internal.into_response()
}
