//! A tower [`Layer`] that records RED metrics for any axum app.
//!
//! Add it with `Router::layer` so it sees axum's [`MatchedPath`]:
//! ```no_run
//! # use axum::{Router, routing::get};
//! # use model_server::{http_metrics::HttpMetricsLayer, telemetry::Telemetry};
//! let telemetry = Telemetry::new().unwrap();
//! let app: Router = Router::new()
//!     .route("/hello", get(|| async { "hi" }))
//!     .layer(HttpMetricsLayer::new(&telemetry.meter("my-app")).exclude(["/metrics"]));
//! ```
//! It exports (names as Prometheus shows them):
//! - `requests_total{method,route,status}`
//! - `requests_duration_seconds{method,route,status}` (histogram, 100 µs to 10 s)
//! - `request_in_progress{method,route}`
//!
//! `route` is the matched route template, or `unmatched` when no route matched, so
//! arbitrary paths cannot grow the series count; non-standard methods are `other`.
//! A request whose future is dropped before it produced a response (the client went
//! away) is recorded with status `499`, and the in-progress gauge always comes back
//! down: the bookkeeping lives in a drop guard.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use axum::extract::MatchedPath;
use axum::http::{Method, Request, Response};
use opentelemetry::metrics::{Counter, Histogram, Meter, UpDownCounter};
use opentelemetry::KeyValue;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// Route label for requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";
/// Status label for requests abandoned before a response was produced
/// (nginx's "client closed request").
pub const CLIENT_CLOSED_STATUS: u16 = 499;

/// Histogram boundaries of `requests_duration_seconds`, in seconds.
pub const DURATION_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The three HTTP instruments.
#[derive(Debug)]
pub struct HttpMetrics {
    requests: Counter<u64>,
    duration: Histogram<f64>,
    in_progress: UpDownCounter<i64>,
}

impl HttpMetrics {
    pub fn new(meter: &Meter) -> Self {
        HttpMetrics {
            requests: meter
                .u64_counter("requests")
                .with_description("Total HTTP requests")
                .build(),
            duration: meter
                .f64_histogram("requests_duration")
                .with_unit("s")
                .with_description("HTTP request duration, in seconds")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            in_progress: meter
                .i64_up_down_counter("request_in_progress")
                .with_description("Total HTTP requests in progress")
                .build(),
        }
    }
}

/// The `method` label: the standard methods by name, anything else `other`.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Layer producing [`HttpMetricsService`].
#[derive(Clone, Debug)]
pub struct HttpMetricsLayer {
    metrics: Arc<HttpMetrics>,
    excluded: Arc<[String]>,
}

impl HttpMetricsLayer {
    pub fn new(meter: &Meter) -> Self {
        HttpMetricsLayer {
            metrics: Arc::new(HttpMetrics::new(meter)),
            excluded: Arc::from(Vec::new()),
        }
    }

    /// Routes (templates, as registered) that are not recorded at all,
    /// typically `/metrics` and health probes.
    pub fn exclude<I, R>(mut self, routes: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<String>,
    {
        self.excluded = routes.into_iter().map(Into::into).collect();
        self
    }
}

impl<S> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetricsService {
            inner,
            layer: self.clone(),
        }
    }
}

/// Service recording the HTTP metrics around its inner service.
#[derive(Clone, Debug)]
pub struct HttpMetricsService<S> {
    inner: S,
    layer: HttpMetricsLayer,
}

impl<S, B, RB> Service<Request<B>> for HttpMetricsService<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str)
            .unwrap_or(UNMATCHED_ROUTE);
        let guard = if self.layer.excluded.iter().any(|r| r == route) {
            None
        } else {
            Some(InFlight::start(
                self.layer.metrics.clone(),
                method_label(req.method()),
                Arc::from(route),
            ))
        };
        ResponseFuture {
            inner: self.inner.call(req),
            guard,
        }
    }
}

pin_project! {
    /// Future of [`HttpMetricsService`]: finishes the in-flight record with the
    /// response status, or with 499 if dropped first.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        guard: Option<InFlight>,
    }
}

impl<F, RB, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Some(mut guard) = this.guard.take() {
            // An error from the inner service becomes a 500 further out.
            guard.status = match &result {
                Ok(response) => response.status().as_u16(),
                Err(_) => 500,
            };
        }
        Poll::Ready(result)
    }
}

/// One request in flight. Created when the request enters, it increments the
/// gauge; when dropped (response produced, or the future abandoned) it
/// decrements the gauge and records the counter and the duration.
#[derive(Debug)]
struct InFlight {
    metrics: Arc<HttpMetrics>,
    method: &'static str,
    route: Arc<str>,
    started: Instant,
    status: u16,
}

impl InFlight {
    fn start(metrics: Arc<HttpMetrics>, method: &'static str, route: Arc<str>) -> Self {
        metrics.in_progress.add(
            1,
            &[
                KeyValue::new("method", method),
                KeyValue::new("route", route.clone()),
            ],
        );
        InFlight {
            metrics,
            method,
            route,
            started: Instant::now(),
            status: CLIENT_CLOSED_STATUS,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let elapsed = self.started.elapsed().as_secs_f64();
        let method = KeyValue::new("method", self.method);
        let route = KeyValue::new("route", self.route.clone());
        let status = KeyValue::new("status", i64::from(self.status));
        let attrs = [method, route, status];
        self.metrics.requests.add(1, &attrs);
        self.metrics.duration.record(elapsed, &attrs);
        self.metrics.in_progress.add(-1, &attrs[..2]);
    }
}
