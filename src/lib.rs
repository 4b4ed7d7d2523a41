//! model-server: a smartcore classifier or regressor served over HTTP with first-class
//! Prometheus metrics. With no model file it serves an Iris classifier it trains at start-up.
//!
//! The crate is split by concern:
//! - [`model`]: training, the versioned artifact format, and prediction.
//! - [`api`]: the HTTP routes, request/response types and the JSON error type.
//! - [`http_metrics`]: a reusable tower layer recording RED metrics for any axum app.
//! - [`inference`]: the threads predictions run on, off the async workers.
//! - [`telemetry`]: the OpenTelemetry meter provider wired to a Prometheus registry.
//! - [`config`]: command-line and environment configuration of `serve`.
//! - [`server`]: model loading, binding and graceful shutdown.
//! - [`drain`]: where the server is in its shutdown, shared by the server, the readiness
//!   probes and the connections.
//! - [`stack`]: `model-server stack`, the whole monitoring loop as child processes.
//! - [`raw_http`]: a hand-written HTTP/1.1 client over a TCP stream, for probes and tests.

pub mod api;
pub mod config;
pub mod drain;
pub mod http_metrics;
pub mod inference;
pub mod model;
pub mod raw_http;
pub mod server;
pub mod stack;
pub mod telemetry;
