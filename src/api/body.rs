//! Reading a JSON request body: media type, size, time, and what went wrong.
//!
//! The body is read before a request is admitted to the model (see
//! [`super::limits`]), under its own limits:
//! - a `content-length` above the limit is refused with 413 before anything is read,
//!   so an `Expect: 100-continue` client never gets `100 Continue` for it;
//! - a body that does not arrive within the read timeout is answered 408;
//! - a client that goes away mid-body is recorded as 499, not as a bad request;
//! - only `application/json` (any parameters, such as `charset`) is accepted, and
//!   only a JSON object at the top level.
//!
//! JSON errors are split by cause: text that is not JSON at all (including nesting
//! beyond serde_json's depth limit) is 400 `malformed_json`; well-formed JSON of the
//! wrong shape is 422.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::error::ApiError;

/// How much body, and for how long, a request may send.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub read_timeout: Duration,
}

/// Reads the body and parses it as a JSON object of type `T`.
pub async fn read_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limits: BodyLimits,
) -> Result<T, ApiError> {
    check_content_type(headers)?;
    let bytes = read_bytes(headers, body, limits).await?;
    parse_json::<JsonObject<T>>(&bytes).map(|JsonObject(value)| value)
}

/// Reads the whole body within the limits, whatever its media type.
pub async fn read_bytes(
    headers: &HeaderMap,
    body: Body,
    limits: BodyLimits,
) -> Result<Bytes, ApiError> {
    let too_large = ApiError::PayloadTooLarge {
        limit: limits.max_bytes,
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limits.max_bytes as u64) {
        return Err(too_large);
    }
    let collected = tokio::time::timeout(
        limits.read_timeout,
        Limited::new(body, limits.max_bytes).collect(),
    )
    .await
    .map_err(|_| ApiError::BodyTimeout(limits.read_timeout))?;
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(too_large),
        Err(_) => Err(ApiError::ClientClosed),
    }
}

/// `application/json`, with or without parameters; nothing else.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(ApiError::UnsupportedMediaType(
            "the content-type header is missing".to_owned(),
        ));
    };
    let essence = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "got content-type {:?}",
            String::from_utf8_lossy(value.as_bytes())
        )))
    }
}

/// Parses JSON text, classifying the error as described in the module docs.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| classify(e, bytes))
}

fn classify(error: serde_json::Error, bytes: &[u8]) -> ApiError {
    use serde_json::error::Category;
    let text = error.to_string();
    match error.classify() {
        // A syntactically valid number such as 1e999 that no float can hold is a
        // problem with a value, not with the syntax.
        Category::Syntax if text.contains("number out of range") => {
            ApiError::NumberOutOfRange(text)
        }
        Category::Syntax | Category::Eof | Category::Io => ApiError::MalformedJson(text),
        // serde stops at the first value it rejects: the rest of the text may not even
        // be JSON. Only text that is JSON throughout is a shape problem.
        Category::Data => match serde_json::from_slice::<IgnoredAny>(bytes) {
            Ok(_) => ApiError::InvalidBody(text),
            Err(syntax) => ApiError::MalformedJson(syntax.to_string()),
        },
    }
}

/// A `T` that must be written as a JSON object: derived `Deserialize` impls of
/// structs also accept arrays (`[features, instances]`), which no client means.
#[derive(Debug)]
pub struct JsonObject<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for JsonObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = JsonObject<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(JsonObject)
            }
        }

        deserializer.deserialize_map(ObjectVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Shape {
        #[allow(dead_code)]
        a: Vec<f64>,
    }

    fn code(bytes: &[u8]) -> &'static str {
        parse_json::<JsonObject<Shape>>(bytes).unwrap_err().code()
    }

    #[test]
    fn objects_parse_and_everything_else_is_classified() {
        assert!(parse_json::<JsonObject<Shape>>(br#"{"a": [1, 2]}"#).is_ok());
        assert_eq!(code(b"{"), "malformed_json");
        assert_eq!(code(b"not json"), "malformed_json");
        assert_eq!(code(br#"{"a": [1]} trailing"#), "malformed_json");
        assert_eq!(code(&[b'['; 65_000]), "malformed_json");
        assert_eq!(code(br#"[[1, 2]]"#), "invalid_body");
        assert_eq!(code(br#"[null, [[6.7, 3.0, 5.2, 2.3]]]"#), "invalid_body");
        assert_eq!(code(br#"{"a": "x"}"#), "invalid_body");
        assert_eq!(code(br#"{"b": []}"#), "invalid_body");
        assert_eq!(code(br#"{"a": [1e999]}"#), "non_finite_feature");
    }

    #[test]
    fn only_application_json_is_accepted() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, v.parse().unwrap());
            check_content_type(&h)
        };
        assert!(with("application/json").is_ok());
        assert!(with("Application/JSON; charset=utf-8").is_ok());
        assert!(with("application/vnd+json").is_err());
        assert!(with("application/vnd.api+json").is_err());
        assert!(with("text/plain").is_err());
        assert!(check_content_type(&HeaderMap::new()).is_err());
    }
}
