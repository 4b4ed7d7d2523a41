//! `POST /predict`: the handler, its response, and running the model (inline or on the
//! inference threads) within admission and the request timeout; shared with the V2
//! `infer`. Beside it: `input` (the request body and its validation into rows) and
//! `metrics` (the model's instruments).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::body::JsonBody;
use super::error::ApiError;
use super::{faults, limits, AppState};
use crate::model::{Model, PredictError, Prediction, Rows};

mod input;
mod metrics;

pub use input::{validate, Features, PredictRequest, Row};
pub use metrics::{ModelMetrics, INFERENCE_BUCKETS};

/// Which model answered.
#[derive(Debug, Serialize)]
pub struct ModelRef<'a> {
    pub name: &'a str,
    pub version: &'a str,
}

/// Body of a successful `POST /predict`, one prediction per row in request order.
#[derive(Debug, Serialize)]
pub struct PredictResponse<'a> {
    pub predictions: Vec<Prediction>,
    pub model: ModelRef<'a>,
}

/// Runs the model on validated rows, recording the model metrics.
pub fn run(
    model: &Model,
    metrics: &ModelMetrics,
    rows: &Rows,
) -> Result<Vec<Prediction>, PredictError> {
    let started = Instant::now();
    let predictions = model.predict(rows)?;
    metrics.record(started.elapsed().as_secs_f64(), &predictions);
    Ok(predictions)
}

/// Runs the model and counts the inputs into the drift bins.
fn predict_and_observe(state: &AppState, rows: &Rows) -> Result<Vec<Prediction>, PredictError> {
    let predictions = run(&state.model, &state.model_metrics, rows)?;
    if let Some(monitor) = &state.input_monitor {
        monitor.observe(rows);
    }
    Ok(predictions)
}

/// Admission, then within the request timeout: the injected delay, if any, and the
/// model on the inference pool. Shared by `/predict` and the V2 `infer`.
pub async fn predict_rows(
    state: &Arc<AppState>,
    rows: Rows,
    fault: Option<faults::Fault>,
) -> Result<Vec<Prediction>, ApiError> {
    let _slot = state.admission.admit()?;
    limits::within(state.request_timeout, async {
        if let Some(fault) = fault {
            fault.delay().await;
        }
        let work = (rows.len() as u64).saturating_mul(state.model.work_per_row());
        if work <= state.inline_work {
            // Small and bounded (the model's structure is checked at load): run it
            // here rather than pay for a hop to another thread and back.
            return predict_and_observe(state, &rows).map_err(|error| {
                tracing::error!(%error, "prediction failed");
                ApiError::Internal
            });
        }
        let job_state = state.clone();
        state
            .inference
            .run(move || predict_and_observe(&job_state, &rows))
            .await
            .map_err(|e| e.to_string())
            .and_then(|predicted| predicted.map_err(|e| e.to_string()))
            .map_err(|error| {
                tracing::error!(%error, "prediction failed");
                ApiError::Internal
            })
    })
    .await
}

/// `POST /predict`: fault (if enabled) → body → validation → admission →
/// within the timeout: injected delay, then the model on the inference pool.
pub async fn handler(
    State(state): State<Arc<AppState>>,
    faults::Requested(fault): faults::Requested,
    JsonBody(request): JsonBody<PredictRequest>,
) -> Result<Response, ApiError> {
    let rows = validate(request, &state.features, state.max_batch)?;
    let predictions = predict_rows(&state, rows, fault).await?;
    Ok(Json(PredictResponse {
        predictions,
        model: ModelRef {
            name: state.model.name(),
            version: state.model.version(),
        },
    })
    .into_response())
}
