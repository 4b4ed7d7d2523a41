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

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::{body, predict, AppState};
use crate::model::{Prediction, Rows, Task};

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
    let ready = state.readiness.is_ready();
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
    let ready = state.readiness.is_ready();
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
}

#[derive(Debug, Deserialize)]
struct InputTensor {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    #[serde(default)]
    parameters: serde_json::Map<String, Value>,
    data: Option<Value>,
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

async fn infer(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, V2Error> {
    check_model(&state, &name, None)?;
    run_infer(state, headers, body).await
}

async fn infer_version(
    State(state): State<Arc<AppState>>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, V2Error> {
    check_model(&state, &name, Some(&version))?;
    run_infer(state, headers, body).await
}

async fn run_infer(
    state: Arc<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, V2Error> {
    // The protocol's clients often send no content-type; JSON is all we take.
    if headers.contains_key(header::CONTENT_TYPE) {
        let binary = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/octet-stream"));
        if !binary {
            body::check_content_type(&headers)?;
        }
    }
    let bytes = body::read_bytes(&headers, body, state.body_limits).await?;
    let (json_part, binary_part) = split_binary(&headers, &bytes)?;
    let request: InferRequest = body::parse_json::<body::JsonObject<InferRequest>>(json_part)?.0;
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
        binary_part,
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

/// Splits a body in the binary tensor data extension into its JSON and binary parts.
fn split_binary<'a>(
    headers: &HeaderMap,
    bytes: &'a Bytes,
) -> Result<(&'a [u8], &'a [u8]), V2Error> {
    let Some(value) = headers.get(INFERENCE_HEADER_CONTENT_LENGTH) else {
        return Ok((bytes, &[]));
    };
    let len: usize = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| invalid("Inference-Header-Content-Length is not a number"))?;
    if len > bytes.len() {
        return Err(invalid(format!(
            "Inference-Header-Content-Length is {len} but the body has {} bytes",
            bytes.len()
        )));
    }
    Ok(bytes.split_at(len))
}

/// The values of one tensor as f64, from JSON `data` or from its binary slice.
fn values_of(tensor: &InputTensor, binary: &mut &[u8]) -> Result<Vec<f64>, V2Error> {
    let width = match tensor.datatype.as_str() {
        "FP32" => 4,
        "FP64" => 8,
        other => {
            return Err(invalid(format!(
                "input {:?} has datatype {other}; send FP32 or FP64",
                tensor.name
            )))
        }
    };
    if let Some(size) = tensor.parameters.get("binary_data_size") {
        let size =
            size.as_u64()
                .ok_or_else(|| invalid("binary_data_size is not a number"))? as usize;
        if size > binary.len() || !size.is_multiple_of(width) {
            return Err(invalid(format!(
                "input {:?}: binary_data_size {size} does not fit the {} bytes left or the {} datatype",
                tensor.name,
                binary.len(),
                tensor.datatype
            )));
        }
        let (mine, rest) = binary.split_at(size);
        *binary = rest;
        return Ok(if width == 4 {
            mine.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
                .collect()
        } else {
            mine.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect()
        });
    }
    let data = tensor
        .data
        .as_ref()
        .ok_or_else(|| invalid(format!("input {:?} has no data", tensor.name)))?;
    let mut out = Vec::new();
    flatten(data, &mut out, &tensor.name, 0)?;
    Ok(out)
}

fn flatten(value: &Value, out: &mut Vec<f64>, name: &str, depth: usize) -> Result<(), V2Error> {
    match value {
        Value::Number(n) => {
            out.push(
                n.as_f64()
                    .ok_or_else(|| invalid(format!("input {name:?}: {n} is not a number")))?,
            );
            Ok(())
        }
        Value::Array(items) if depth < 8 => items
            .iter()
            .try_for_each(|v| flatten(v, out, name, depth + 1)),
        other => Err(invalid(format!(
            "input {name:?}: data must be numbers (flat or nested arrays), found {other}"
        ))),
    }
}

/// Turns the input tensors into rows of the model's features.
fn rows_of(
    inputs: &[InputTensor],
    mut binary: &[u8],
    features: &predict::Features,
    max_batch: usize,
) -> Result<Rows, V2Error> {
    let n_features = features.len();
    let check_len = |tensor: &InputTensor, values: &[f64]| -> Result<usize, V2Error> {
        let expected = tensor
            .shape
            .iter()
            .try_fold(1usize, |acc, &d| {
                usize::try_from(d).ok().and_then(|d| acc.checked_mul(d))
            })
            .ok_or_else(|| {
                invalid(format!(
                    "input {:?} has an invalid shape {:?}",
                    tensor.name, tensor.shape
                ))
            })?;
        if expected != values.len() {
            return Err(invalid(format!(
                "input {:?} has shape {:?} ({expected} values) but {} values",
                tensor.name,
                tensor.shape,
                values.len()
            )));
        }
        Ok(expected)
    };
    let (n, columns): (usize, Vec<Vec<f64>>) = match inputs {
        [] => return Err(invalid("the request has no inputs")),
        [matrix] if matrix.shape.len() == 2 => {
            let values = values_of(matrix, &mut binary)?;
            check_len(matrix, &values)?;
            if matrix.shape[1] as usize != n_features {
                return Err(invalid(format!(
                    "input {:?} has {} columns, the model expects {n_features} features ({})",
                    matrix.name,
                    matrix.shape[1],
                    features.names().join(", ")
                )));
            }
            let n = matrix.shape[0] as usize;
            let rows = (0..n_features)
                .map(|f| (0..n).map(|r| values[r * n_features + f]).collect())
                .collect();
            (n, rows)
        }
        per_feature => {
            let mut columns: Vec<Option<Vec<f64>>> = vec![None; n_features];
            let mut n = None;
            for tensor in per_feature {
                if tensor.shape.len() != 1 {
                    return Err(invalid(format!(
                        "input {:?} has shape {:?}: send one [N, {n_features}] tensor, or one [N] tensor per feature",
                        tensor.name, tensor.shape
                    )));
                }
                let i = features.index(&tensor.name).ok_or_else(|| {
                    invalid(format!(
                        "unknown input {:?}; the features are {}",
                        tensor.name,
                        features.names().join(", ")
                    ))
                })?;
                let values = values_of(tensor, &mut binary)?;
                let len = check_len(tensor, &values)?;
                if *n.get_or_insert(len) != len {
                    return Err(invalid(format!(
                        "input {:?} has {len} values, the others {}",
                        tensor.name,
                        n.unwrap_or(0)
                    )));
                }
                if columns[i].replace(values).is_some() {
                    return Err(invalid(format!("input {:?} is given twice", tensor.name)));
                }
            }
            let columns = columns
                .into_iter()
                .enumerate()
                .map(|(i, c)| {
                    c.ok_or_else(|| invalid(format!("missing input {:?}", features.names()[i])))
                })
                .collect::<Result<Vec<_>, _>>()?;
            (n.unwrap_or(0), columns)
        }
    };
    if n == 0 {
        return Err(V2Error(ApiError::EmptyBatch));
    }
    if n > max_batch {
        return Err(V2Error(ApiError::BatchTooLarge {
            max: max_batch,
            got: n,
        }));
    }
    let mut rows = Rows::with_capacity(n_features, n);
    for r in 0..n {
        rows.push(columns.iter().map(|column| column[r]))
            .map_err(|e| V2Error(e.into()))?;
    }
    Ok(rows)
}
