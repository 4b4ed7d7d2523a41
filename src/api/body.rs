//! The JSON body of a request: the [`JsonBody`] extractor, which checks the media type,
//! reads the body within its size and time limits, and parses it; what went wrong is an
//! [`ApiError`].
//!
//! The body is read before a request is admitted to the model (see
//! [`super::limits`]), under its own limits:
//! - a `content-length` above the limit is refused with 413 before anything is read,
//!   so an `Expect: 100-continue` client never gets `100 Continue` for it;
//! - a body that does not arrive within the read timeout is answered 408;
//! - a client that goes away mid-body is recorded as 499, not as a bad request;
//! - only `application/json` (any parameters, such as `charset`) is accepted, unless
//!   the route says otherwise ([`Media`]), and only a JSON object at the top level.
//!
//! JSON errors are split by cause: text that is not JSON at all (including nesting
//! beyond serde_json's depth limit) is 400 `malformed_json`; well-formed JSON of the
//! wrong shape is 422. A number too large for any float (`1e999`) is not an error of
//! the parse: read as a [`JsonFloat`] it is infinite, and the finiteness check of the
//! values refuses it.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{header, HeaderMap};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::error::Category;
use serde_json::value::RawValue;

use super::error::ApiError;

/// How much body, and for how long, a request may send.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub read_timeout: Duration,
}

/// The `content-type`s a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// `application/json`, with or without parameters; nothing else, and not none.
    Json,
    /// As [`Media::Json`], but also `application/octet-stream` (the binary tensor data
    /// extension) or no `content-type` at all, as the Open Inference Protocol's clients
    /// send.
    JsonOrBinary,
}

/// A request body type: a JSON object, and how its route frames it.
pub trait JsonRequest: DeserializeOwned + Send {
    /// The `content-type`s the route takes.
    const MEDIA: Media = Media::Json;

    /// How many bytes at the start of the body are the JSON object; the whole body
    /// unless the route's protocol frames more after it.
    fn json_len(_headers: &HeaderMap, body_len: usize) -> Result<usize, ApiError> {
        Ok(body_len)
    }

    /// Receives the bytes after the JSON object (empty unless [`Self::json_len`] left some).
    fn set_trailer(&mut self, _trailer: Bytes) {}
}

/// Extracts a [`JsonRequest`]: media type, size and time limits ([`BodyLimits`] from the
/// router's state), then the parse. Rejected with the [`ApiError`] that says why.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: JsonRequest,
    BodyLimits: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let limits = BodyLimits::from_ref(state);
        let (parts, body) = request.into_parts();
        check_media(T::MEDIA, &parts.headers)?;
        let bytes = read_bytes(&parts.headers, body, limits).await?;
        let json_len = T::json_len(&parts.headers, bytes.len())?;
        let JsonObject(mut value) = parse_json::<JsonObject<T>>(&bytes[..json_len])?;
        if json_len < bytes.len() {
            value.set_trailer(bytes.slice(json_len..));
        }
        Ok(JsonBody(value))
    }
}

/// Reads the whole body within the limits, whatever its media type.
async fn read_bytes(
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

/// The request's `content-type` is one the route takes.
fn check_media(media: Media, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return match media {
            Media::Json => Err(ApiError::UnsupportedMediaType(
                "the content-type header is missing".to_owned(),
            )),
            Media::JsonOrBinary => Ok(()),
        };
    };
    let essence = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    let binary =
        media == Media::JsonOrBinary && value.as_bytes().starts_with(b"application/octet-stream");
    if binary || essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "got content-type {:?}",
            String::from_utf8_lossy(value.as_bytes())
        )))
    }
}

/// Parses JSON text, classifying the error as described in the module docs.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        // Perhaps a number no float holds, which serde_json refuses as it refuses broken
        // syntax: read again with every JsonFloat taken from its text. If that succeeds,
        // it was such a number, now infinite; if not, the first error stands.
        Err(error) if error.classify() == Category::Syntax => {
            JsonFloat::from_text(|| serde_json::from_slice(bytes))
                .map_err(|_| classify(error, bytes))
        }
        Err(error) => Err(classify(error, bytes)),
    }
}

fn classify(error: serde_json::Error, bytes: &[u8]) -> ApiError {
    match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::MalformedJson(error.to_string())
        }
        // serde stops at the first value it rejects: the rest of the text may not even
        // be JSON. Only text that is JSON throughout is a shape problem.
        Category::Data => match serde_json::from_slice::<IgnoredAny>(bytes) {
            Ok(_) => ApiError::InvalidBody(error.to_string()),
            Err(syntax) => ApiError::MalformedJson(syntax.to_string()),
        },
    }
}

/// A `T` that must be written as a JSON object: derived `Deserialize` impls of
/// structs also accept arrays (`[features, instances]`), which no client means.
#[derive(Debug)]
struct JsonObject<T>(T);

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

/// A JSON number as an `f64`, where a number too large for an `f64` (`1e999`, or 400
/// digits) is ±infinity rather than a parse error, so the values' finiteness check
/// refuses it as it refuses `1e39` (finite, but not as the model's `f32`), naming its row
/// and column. serde_json refuses such a number itself, with an error of the same
/// category as broken syntax.
///
/// Read as serde_json reads an `f64`, except within [`JsonFloat::from_text`], where it is
/// read from the number's text with Rust's float parser (which rounds out-of-range
/// values to infinity). That costs a few hundred instructions per number, so only a
/// body that failed to parse is read again that way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JsonFloat(pub f64);

thread_local! {
    /// Set while [`JsonFloat::from_text`] runs its parse on this thread.
    static FROM_TEXT: Cell<bool> = const { Cell::new(false) };
}

impl JsonFloat {
    /// The value of a JSON value's text, if it is a number.
    pub fn parse(text: &str) -> Option<f64> {
        match text.as_bytes().first() {
            // JSON's number grammar is a subset of what `f64::from_str` takes.
            Some(b'-' | b'0'..=b'9') => text.parse().ok(),
            _ => None,
        }
    }

    /// Runs a (synchronous) parse with every `JsonFloat` read from its text.
    fn from_text<T>(parse: impl FnOnce() -> T) -> T {
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                FROM_TEXT.set(false);
            }
        }
        FROM_TEXT.set(true);
        let _reset = Reset;
        parse()
    }
}

impl<'de> Deserialize<'de> for JsonFloat {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if !FROM_TEXT.get() {
            return f64::deserialize(deserializer).map(JsonFloat);
        }
        // Only a body that already failed to parse gets here, and only if this parse
        // succeeds is its result used: a failure's message is never shown.
        let raw = <&RawValue>::deserialize(deserializer)?;
        JsonFloat::parse(raw.get())
            .map(JsonFloat)
            .ok_or_else(|| de::Error::custom("not a number"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Shape {
        #[allow(dead_code)]
        a: Vec<JsonFloat>,
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
        assert_eq!(code(br#"{"a": [null]}"#), "invalid_body");
        assert_eq!(code(br#"{"a": [[1]]}"#), "invalid_body");
        assert_eq!(code(br#"{"b": []}"#), "invalid_body");
        assert_eq!(code(br#"{"a": [1, 2}"#), "malformed_json");
    }

    #[test]
    fn numbers_no_float_holds_read_as_infinite() {
        let a = |text: &str| {
            let shape: JsonObject<Shape> = parse_json(text.as_bytes()).unwrap();
            shape.0.a.iter().map(|f| f.0).collect::<Vec<_>>()
        };
        // serde_json refuses these itself: the parse above would fail without JsonFloat.
        assert!(serde_json::from_str::<f64>("1e999").is_err());
        assert_eq!(
            a(r#"{"a": [1e999, -1e999]}"#),
            [f64::INFINITY, f64::NEG_INFINITY]
        );
        let digits = format!(r#"{{"a": [1{}]}}"#, "0".repeat(400));
        assert_eq!(a(&digits), [f64::INFINITY]);
        // Everything else reads as serde_json reads it.
        assert_eq!(
            a(r#"{"a": [0, -0.5, 1e-400, 6.02e23, 5.1]}"#),
            [0.0, -0.5, 0.0, 6.02e23, 5.1]
        );
        // Errors are the first parse's, as serde_json words them.
        let message = parse_json::<JsonObject<Shape>>(br#"{"a": [1, "x"]}"#)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(r#"invalid type: string "x", expected f64"#),
            "{message}"
        );
        let error = parse_json::<JsonObject<Shape>>(br#"{"a": [1e999, }"#).unwrap_err();
        assert_eq!(error.code(), "malformed_json");
        assert!(error.to_string().contains("number out of range"), "{error}");
        // A number no float holds where no JsonFloat is read stays a JSON error.
        assert_eq!(code(br#"{"a": 1e999}"#), "malformed_json");
        // The mode ends with the parse.
        assert!(!FROM_TEXT.get());
    }

    #[test]
    fn only_the_routes_media_types_are_accepted() {
        let with = |media: Media, v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, v.parse().unwrap());
            check_media(media, &h)
        };
        for media in [Media::Json, Media::JsonOrBinary] {
            assert!(with(media, "application/json").is_ok());
            assert!(with(media, "Application/JSON; charset=utf-8").is_ok());
            assert!(with(media, "application/vnd+json").is_err());
            assert!(with(media, "application/vnd.api+json").is_err());
            assert!(with(media, "text/plain").is_err());
        }
        assert!(check_media(Media::Json, &HeaderMap::new()).is_err());
        assert!(with(Media::Json, "application/octet-stream").is_err());
        assert!(check_media(Media::JsonOrBinary, &HeaderMap::new()).is_ok());
        assert!(with(Media::JsonOrBinary, "application/octet-stream").is_ok());
    }
}
