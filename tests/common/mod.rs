//! Shared helpers of the integration tests: an app on the embedded model,
//! one-shot requests, and a small Prometheus text parser.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use model_server::api::{self, ApiConfig, Readiness};
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
    let router = api::router(
        model(),
        telemetry.clone(),
        Readiness::new(),
        pool(),
        &config,
    );
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

/// A parsed Prometheus text exposition.
#[derive(Debug, Default)]
pub struct Scrape {
    pub samples: BTreeMap<Key, f64>,
}

impl Scrape {
    pub fn parse(text: &str) -> Self {
        let mut samples = BTreeMap::new();
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("sample line");
            let value: f64 = value.parse().expect("sample value");
            let (name, labels) = match series.split_once('{') {
                None => (series.to_owned(), BTreeMap::new()),
                Some((name, rest)) => (name.to_owned(), parse_labels(rest.trim_end_matches('}'))),
            };
            samples.insert((name, labels), value);
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

fn parse_labels(s: &str) -> BTreeMap<String, String> {
    // Our label values never contain `",`; good enough for these tests.
    s.split("\",")
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once("=\"").expect("label pair");
            (k.to_owned(), v.trim_end_matches('"').to_owned())
        })
        .collect()
}

pub fn scrape(telemetry: &Telemetry) -> Scrape {
    Scrape::parse(&telemetry.render().unwrap())
}
