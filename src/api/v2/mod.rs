//! The Open Inference Protocol (KServe V2) over REST: the endpoints that
//! `tritonclient`, KServe, MLServer and Seldon clients call.
//!
//! | route | answer |
//! |---|---|
//! | `GET /v2` | server metadata |
//! | `GET /v2/health/live`, `/v2/health/ready` | 200, or 503 while draining |
//! | `GET /v2/models/{name}[/versions/{version}]` | model metadata: inputs, outputs |
//! | `GET /v2/models/{name}[/versions/{version}]/ready` | model readiness |
//! | `POST /v2/models/{name}[/versions/{version}]/infer` | inference |
//!
//! `infer` takes either one FP32/FP64 tensor of shape `[N, F]` (any name; the
//! metadata calls it `input`), or one `[N]` tensor per feature, named after the
//! feature. `data` may be flat (row-major) or nested. Tensors may also come in the
//! binary tensor data extension (`Inference-Header-Content-Length`, little-endian
//! raw data after the JSON header), which tritonclient uses by default. Outputs are
//! `label` (BYTES) and `class_id` (INT64) for a classifier, `value` (FP64) for a
//! regressor, in JSON. Errors are `{"error": "..."}`;
//! an invalid request is 400.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::body::{JsonBody, JsonRequest, Media};
use super::error::ApiError;
use super::{predict, AppState};
use crate::model::{Prediction, Task};
use tensor::{json_len, rows_of, InputTensor};

mod tensor;

/// The header of the binary tensor data extension: the JSON part's length.
pub const INFERENCE_HEADER_CONTENT_LENGTH: &str = "inference-header-content-length";

/// The V2 routes (state-less: `with_state` is applied by the caller).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2", get(server_metadata))
        .route("/v2/health/live", get(live))
        .route("/v2/health/ready", get(ready))
        .route("/v2/models/{name}", get(model_metadata))
        .route(
            "/v2/models/{name}/versions/{version}",
            get(model_metadata_version),
        )
        .route("/v2/models/{name}/ready", get(model_ready))
        .route(
            "/v2/models/{name}/versions/{version}/ready",
            get(model_ready_version),
        )
        .route("/v2/models/{name}/infer", post(infer))
        .route(
            "/v2/models/{name}/versions/{version}/infer",
            post(infer_version),
        )
}

/// An [`ApiError`] rendered in the protocol's shape, `{"error": message}`.
#[derive(Debug)]
pub struct V2Error(pub ApiError);

impl From<ApiError> for V2Error {
    fn from(e: ApiError) -> Self {
        V2Error(e)
    }
}

impl IntoResponse for V2Error {
    fn into_response(self) -> Response {
        // Keep our headers (Retry-After, connection: close) and status, except that
        // the protocol answers every invalid request with 400.
        let message = self.0.to_string();
        let mut response = self.0.into_response();
        if response.status() == StatusCode::UNPROCESSABLE_ENTITY {
            *response.status_mut() = StatusCode::BAD_REQUEST;
        }
        let (parts, _) = response.into_parts();
        let mut response = Json(json!({ "error": message })).into_response();
        *response.status_mut() = parts.status;
        for (name, value) in parts.headers.iter() {
            if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE {
                response.headers_mut().insert(name, value.clone());
            }
        }
        response
    }
}

fn invalid(message: impl Into<String>) -> V2Error {
    V2Error(ApiError::InvalidBody(message.into()))
}

async fn server_metadata() -> Json<Value> {
    Json(json!({
        "name": env!("CARGO_PKG_NAME"),
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": ["binary_tensor_data"],
    }))
}

async fn live() -> Json<Value> {
    Json(json!({"live": true}))
}

async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let ready = state.drain.is_ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({ "ready": ready }))).into_response()
}

/// Checks that the path names the served model (and, if given, its version).
fn check_model(state: &AppState, name: &str, version: Option<&str>) -> Result<(), V2Error> {
    let model = &state.model;
    if name != model.name() {
        return Err(V2Error(ApiError::NotFound {
            path: format!("model {name:?} (this server serves {:?})", model.name()),
        }));
    }
    if let Some(version) = version {
        if version != model.version() {
            return Err(V2Error(ApiError::NotFound {
                path: format!(
                    "version {version:?} of model {name:?} (the served version is {:?})",
                    model.version()
                ),
            }));
        }
    }
    Ok(())
}

fn metadata(state: &AppState) -> Value {
    let model = &state.model;
    json!({
        "name": model.name(),
        "versions": [model.version()],
        "platform": format!("smartcore_{}", model.algorithm().as_str()),
        "inputs": [{
            "name": "input",
            "datatype": "FP32",
            "shape": [-1, model.n_features()],
            "parameters": {"feature_names": model.feature_names()},
        }],
        "outputs": match model.task() {
            Task::Classification => json!([
                {"name": "label", "datatype": "BYTES", "shape": [-1],
                 "parameters": {"classes": model.class_names()}},
                {"name": "class_id", "datatype": "INT64", "shape": [-1]},
            ]),
            Task::Regression => json!([{"name": "value", "datatype": "FP64", "shape": [-1]}]),
        },
    })
}

async fn model_metadata(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, V2Error> {
    check_model(&state, &name, None)?;
    Ok(Json(metadata(&state)))
}

async fn model_metadata_version(
    State(state): State<Arc<AppState>>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Value>, V2Error> {
    check_model(&state, &name, Some(&version))?;
    Ok(Json(metadata(&state)))
}

fn readiness(state: &AppState) -> Response {
    let ready = state.drain.is_ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({"name": state.model.name(), "ready": ready})),
    )
        .into_response()
}

async fn model_ready(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, V2Error> {
    check_model(&state, &name, None)?;
    Ok(readiness(&state))
}

async fn model_ready_version(
    State(state): State<Arc<AppState>>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, V2Error> {
    check_model(&state, &name, Some(&version))?;
    Ok(readiness(&state))
}

/// An inference request (the fields we use; others are ignored as the spec allows).
#[derive(Debug, Deserialize)]
struct InferRequest {
    id: Option<String>,
    inputs: Vec<InputTensor>,
    #[serde(default)]
    outputs: Vec<RequestedOutput>,
    /// The binary tensor data after the JSON object, if the request uses the extension.
    #[serde(skip)]
    binary: Bytes,
}

impl JsonRequest for InferRequest {
    const MEDIA: Media = Media::JsonOrBinary;

    fn json_len(headers: &HeaderMap, body_len: usize) -> Result<usize, ApiError> {
        json_len(headers, body_len)
    }

    fn set_trailer(&mut self, binary: Bytes) {
        self.binary = binary;
    }
}

#[derive(Debug, Deserialize)]
struct RequestedOutput {
    name: String,
}

/// The outputs a model of `task` answers with.
fn outputs_of(task: Task) -> &'static [&'static str] {
    match task {
        Task::Classification => &["label", "class_id"],
        Task::Regression => &["value"],
    }
}

// The body is extracted whatever the path; a wrong model is answered first.
async fn infer(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    body: Result<JsonBody<InferRequest>, ApiError>,
) -> Result<Response, V2Error> {
    check_model(&state, &name, None)?;
    run_infer(state, body?.0).await
}

async fn infer_version(
    State(state): State<Arc<AppState>>,
    Path((name, version)): Path<(String, String)>,
    body: Result<JsonBody<InferRequest>, ApiError>,
) -> Result<Response, V2Error> {
    check_model(&state, &name, Some(&version))?;
    run_infer(state, body?.0).await
}

async fn run_infer(state: Arc<AppState>, request: InferRequest) -> Result<Response, V2Error> {
    let known = outputs_of(state.model.task());
    for output in &request.outputs {
        if !known.contains(&output.name.as_str()) {
            return Err(invalid(format!(
                "unknown output {:?}; this model has {known:?}",
                output.name
            )));
        }
    }
    let rows = rows_of(
        &request.inputs,
        &request.binary,
        &state.features,
        state.max_batch,
    )?;
    let n = rows.len();
    let predictions = predict::predict_rows(&state, rows, None).await?;
    let wanted =
        |name: &str| request.outputs.is_empty() || request.outputs.iter().any(|o| o.name == name);
    let mut outputs = Vec::with_capacity(2);
    if known.contains(&"label") && wanted("label") {
        outputs.push(json!({"name": "label", "datatype": "BYTES", "shape": [n],
            "data": predictions.iter().filter_map(|p| p.class().map(|c| c.0)).collect::<Vec<_>>()}));
    }
    if known.contains(&"class_id") && wanted("class_id") {
        outputs.push(
            json!({"name": "class_id", "datatype": "INT64", "shape": [n],
            "data": predictions.iter().filter_map(|p| p.class().map(|c| c.1)).collect::<Vec<_>>()}),
        );
    }
    if known.contains(&"value") && wanted("value") {
        outputs.push(json!({"name": "value", "datatype": "FP64", "shape": [n],
            "data": predictions.iter().filter_map(Prediction::value).collect::<Vec<_>>()}));
    }
    let mut response = json!({
        "model_name": state.model.name(),
        "model_version": state.model.version(),
        "outputs": outputs,
    });
    if let Some(id) = request.id {
        response["id"] = Value::String(id);
    }
    Ok(Json(response).into_response())
}
