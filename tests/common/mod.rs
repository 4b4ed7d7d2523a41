//! Shared helpers of the integration tests: an app on the embedded model,
//! one-shot requests, and a small Prometheus text parser.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use model_server::api::{self, ApiConfig};
use model_server::drain::Drain;
use model_server::inference::InferencePool;
use model_server::model::train::{train, TrainOptions};
use model_server::model::Model;
use model_server::telemetry::Telemetry;
use tower::ServiceExt;

/// The embedded default model, trained once per test binary.
pub fn model() -> Arc<Model> {
    static MODEL: OnceLock<Arc<Model>> = OnceLock::new();
    MODEL
        .get_or_init(|| Arc::new(train(&TrainOptions::default()).unwrap().into_model()))
        .clone()
}

/// One inference pool per test binary, as a server has one.
pub fn pool() -> InferencePool {
    static POOL: OnceLock<InferencePool> = OnceLock::new();
    POOL.get_or_init(|| InferencePool::new(2).unwrap()).clone()
}

pub fn config() -> ApiConfig {
    ApiConfig::default()
}

/// A fresh app with its own metrics registry.
pub fn app(config: ApiConfig) -> (Router, Telemetry) {
    let telemetry = Telemetry::new().unwrap();
    let router = api::router(model(), telemetry.clone(), Drain::new(), pool(), &config);
    (router, telemetry)
}

/// A response, with the body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text))
    }

    /// Asserts the documented error shape and returns the error code.
    pub fn error_code(&self) -> String {
        let body = self.json();
        let message = body["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "error without message: {body}");
        assert_eq!(body.as_object().unwrap().len(), 2, "extra fields: {body}");
        body["error"].as_str().expect("error code").to_owned()
    }
}

pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

pub fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

pub fn post_json(path: &str, body: impl Into<String>) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.into()))
        .unwrap()
}

pub fn predict_with_fault(fault: &str, body: &str) -> Request<Body> {
    Request::post("/predict")
        .header("content-type", "application/json")
        .header("x-fault", fault)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

pub const SETOSA: &str = r#"{"features":[5.1,3.5,1.4,0.2]}"#;

/// One sample: metric name and sorted labels.
pub type Key = (String, BTreeMap<String, String>);

/// A parsed Prometheus text exposition (format 0.0.4), flat: every sample line,
/// histogram buckets (`_bucket{le=..}`), `_sum` and `_count` included.
///
/// Ours, not a crate's: `prometheus-parse` 0.2 splits label pairs on `,` and `=`
/// without unescaping, and `openmetrics-parser` 0.5 (LGPL-3.0) folds histograms into
/// structs; neither reads these samples more faithfully than this.
#[derive(Debug, Default)]
pub struct Scrape {
    pub samples: BTreeMap<Key, f64>,
}

impl Scrape {
    /// Panics on a line that is not a comment, blank, or `name{labels} value [timestamp]`.
    pub fn parse(text: &str) -> Self {
        let mut samples = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (name, labels, rest) = match line.find(['{', ' ']) {
                Some(i) if line.as_bytes()[i] == b'{' => {
                    let (labels, rest) =
                        parse_labels(&line[i + 1..]).unwrap_or_else(|e| panic!("{e}: {line}"));
                    (&line[..i], labels, rest)
                }
                Some(i) => (&line[..i], BTreeMap::new(), &line[i..]),
                None => panic!("sample without value: {line}"),
            };
            let value = rest.split_whitespace().next().expect("sample value");
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
            };
            samples.insert((name.to_owned(), labels), value);
        }
        Scrape { samples }
    }

    /// The value of the one sample with exactly these labels.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.samples.get(&(name.to_owned(), labels)).copied()
    }

    /// Sum over every sample of `name` whose labels include `subset`.
    pub fn sum(&self, name: &str, subset: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|((n, labels), _)| {
                n == name
                    && subset
                        .iter()
                        .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, v)| v)
            .sum()
    }

    /// How many series of `name` have labels including `subset`.
    pub fn series_with(&self, name: &str, subset: &[(&str, &str)]) -> usize {
        self.samples
            .keys()
            .filter(|(n, labels)| {
                n == name
                    && subset
                        .iter()
                        .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
            })
            .count()
    }

    /// How many series `name` has.
    pub fn series(&self, name: &str) -> usize {
        self.samples.keys().filter(|(n, _)| n == name).count()
    }
}

/// `k="v",k2="v2"}` after the `{`: the labels (values unescaped: `\\`, `\"`, `\n`)
/// and what follows the `}`.
fn parse_labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = s.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let (key, after) = rest.split_once('=').ok_or("label without `=`")?;
        let mut chars = after
            .trim_start()
            .strip_prefix('"')
            .ok_or("label value without quotes")?
            .char_indices();
        let mut value = String::new();
        let end = loop {
            match chars.next().ok_or("unterminated label value")? {
                (i, '"') => break i,
                (_, '\\') => match chars.next().ok_or("unterminated escape")?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.trim().to_owned(), value);
        let after = after.trim_start();
        rest = after[end + 2..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
}

#[test]
fn scrape_reads_escapes_commas_histograms_and_timestamps() {
    let s = Scrape::parse(concat!(
        "# TYPE d histogram\n",
        "d_bucket{route=\"/a,b=c\",le=\"+Inf\"} 3\n",
        "d_sum{route=\"/a,b=c\"} 0.25 1700000000000\n",
        "x{a=\"q\\\"uote\\\\\", b=\"line\\nbreak\",} -Inf\n",
        "up 1\n"
    ));
    assert_eq!(
        s.value("d_bucket", &[("route", "/a,b=c"), ("le", "+Inf")]),
        Some(3.0)
    );
    assert_eq!(s.value("d_sum", &[("route", "/a,b=c")]), Some(0.25));
    assert_eq!(
        s.value("x", &[("a", "q\"uote\\"), ("b", "line\nbreak")]),
        Some(f64::NEG_INFINITY)
    );
    assert_eq!(s.value("up", &[]), Some(1.0));
}

pub fn scrape(telemetry: &Telemetry) -> Scrape {
    Scrape::parse(&telemetry.render().unwrap())
}
