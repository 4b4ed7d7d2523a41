//! The input tensors of a V2 `infer` request, turned into the model's rows: where the
//! binary tensor data extension's JSON part ends, each tensor's values read from JSON
//! `data` (flat or nested) or from its binary slice, and the tensors checked against
//! the model's features.

use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::{invalid, V2Error, INFERENCE_HEADER_CONTENT_LENGTH};
use crate::api::body::JsonFloat;
use crate::api::error::ApiError;
use crate::api::predict;
use crate::model::Rows;

/// One input tensor of an inference request.
#[derive(Debug, Deserialize)]
pub(super) struct InputTensor {
    pub(super) name: String,
    shape: Vec<i64>,
    datatype: String,
    #[serde(default)]
    parameters: serde_json::Map<String, Value>,
    /// Kept as written: its numbers are read as [`JsonFloat`]s once its layout is known.
    data: Option<Box<RawValue>>,
}

/// How many bytes of the body are JSON: all of them, or, in the binary tensor data
/// extension, as many as `Inference-Header-Content-Length` says (binary data follows).
pub(super) fn json_len(headers: &HeaderMap, body_len: usize) -> Result<usize, ApiError> {
    let Some(value) = headers.get(INFERENCE_HEADER_CONTENT_LENGTH) else {
        return Ok(body_len);
    };
    let invalid = |message: String| ApiError::InvalidBody(message);
    let len: usize = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| invalid("Inference-Header-Content-Length is not a number".to_owned()))?;
    if len > body_len {
        return Err(invalid(format!(
            "Inference-Header-Content-Length is {len} but the body has {body_len} bytes"
        )));
    }
    Ok(len)
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

/// Appends the numbers of `data`, a number or nested arrays of them (at most 8 deep), in
/// row-major order. Each level is parsed from its own text, as a number's type is only
/// known from its first byte.
fn flatten(data: &RawValue, out: &mut Vec<f64>, name: &str, depth: usize) -> Result<(), V2Error> {
    let text = data.get();
    if let Some(value) = JsonFloat::parse(text) {
        out.push(value);
        return Ok(());
    }
    let items = match text.as_bytes().first() {
        Some(b'[') if depth < 8 => serde_json::from_str::<Vec<&RawValue>>(text).ok(),
        _ => None,
    };
    let Some(items) = items else {
        return Err(invalid(format!(
            "input {name:?}: data must be numbers (flat or nested arrays), found {}",
            short(text)
        )));
    };
    items
        .into_iter()
        .try_for_each(|item| flatten(item, out, name, depth + 1))
}

/// At most 60 characters of a JSON text, for an error message.
fn short(text: &str) -> &str {
    text.char_indices()
        .nth(60)
        .map_or(text, |(cut, _)| &text[..cut])
}

/// Turns the input tensors into rows of the model's features.
pub(super) fn rows_of(
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
    let (n, values) = match inputs {
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
            (matrix.shape[0] as usize, Values::RowMajor(values))
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
            (n.unwrap_or(0), Values::Columns(columns))
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
        match &values {
            Values::RowMajor(values) => {
                rows.push(values[r * n_features..(r + 1) * n_features].iter().copied())
            }
            Values::Columns(columns) => rows.push(columns.iter().map(|column| column[r])),
        }
        .map_err(|e| V2Error(e.into()))?;
    }
    Ok(rows)
}

/// The values of the request's tensors as they came: one `[N, F]` tensor row after
/// row, or one `[N]` tensor per feature in the model's feature order.
enum Values {
    RowMajor(Vec<f64>),
    Columns(Vec<Vec<f64>>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(inputs: &str) -> Result<Rows, V2Error> {
        let inputs: Vec<InputTensor> = crate::api::body::parse_json(inputs.as_bytes()).unwrap();
        let features = predict::Features::new(&["a", "b"].map(String::from));
        rows_of(&inputs, &[], &features, 8)
    }

    #[test]
    fn data_is_read_flat_or_nested_and_numbers_no_float_holds_are_refused_by_position() {
        let flat =
            r#"[{"name": "input", "shape": [2, 2], "datatype": "FP64", "data": [1, 2, 3, 4]}]"#;
        let nested =
            r#"[{"name": "input", "shape": [2, 2], "datatype": "FP64", "data": [[1, 2], [3, 4]]}]"#;
        assert_eq!(rows(flat).unwrap(), rows(nested).unwrap());
        let huge = r#"[{"name": "input", "shape": [2, 2], "datatype": "FP64", "data": [[1, 2], [3, -1e999]]}]"#;
        let err = rows(huge).unwrap_err().0;
        assert!(
            matches!(err, ApiError::NonFiniteFeature { row: 1, column: 1 }),
            "{err}"
        );
        let text = r#"[{"name": "input", "shape": [1, 2], "datatype": "FP64", "data": [1, "x"]}]"#;
        let err = rows(text).unwrap_err().0;
        assert!(err.to_string().contains(r#"found "x""#), "{err}");
    }
}
