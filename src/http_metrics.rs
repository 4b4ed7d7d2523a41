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
//!
//! Cost: the request counter and the in-progress gauge are plain atomics per
//! (method, route[, status]), reported to OpenTelemetry by observable-instrument
//! callbacks when metrics are collected; only the duration histogram is recorded
//! through the SDK per request, into a histogram bound once to its (method, route,
//! status) (the SDK's experimental bound instruments), so no attribute set is built,
//! hashed or looked up per request. `Router::layer` wraps each route in its own
//! service, which resolves its route's atomics on its first request and keeps
//! them: a request takes no lock of ours and hashes nothing.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::task::{ready, Context, Poll};
use std::time::Instant;

use axum::extract::MatchedPath;
use axum::http::{Method, Request, Response};
use opentelemetry::metrics::{
    BoundHistogram, Histogram, Meter, ObservableCounter, ObservableUpDownCounter,
};
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

/// Methods with their own label value; everything else is `other`.
const METHODS: [&str; 10] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "other",
];
/// Status codes are counted in a fixed array indexed by `status - 100`.
const STATUSES: usize = 500;

/// Counters of one (method, route): in progress, and completed by status.
#[derive(Debug)]
struct RouteStats {
    method: &'static str,
    route: Arc<str>,
    in_progress: AtomicI64,
    /// Indexed by `status - 100`, as is `duration_by_status`.
    by_status: Box<[AtomicU64]>,
    duration: Histogram<f64>,
    /// The duration histogram bound to (method, route, status), on a status's first request.
    duration_by_status: Box<[OnceLock<BoundHistogram<f64>>]>,
}

impl RouteStats {
    fn new(method: &'static str, route: Arc<str>, duration: Histogram<f64>) -> Self {
        RouteStats {
            method,
            route,
            in_progress: AtomicI64::new(0),
            by_status: (0..STATUSES).map(|_| AtomicU64::new(0)).collect(),
            duration,
            duration_by_status: (0..STATUSES).map(|_| OnceLock::new()).collect(),
        }
    }

    fn attributes(&self, status: u16) -> [KeyValue; 3] {
        [
            KeyValue::new("method", self.method),
            KeyValue::new("route", self.route.clone()),
            KeyValue::new("status", i64::from(status)),
        ]
    }

    /// Records one finished request: its duration, then the counter.
    fn finish(&self, status: u16, seconds: f64) {
        match status.checked_sub(100).map(usize::from) {
            Some(index) if index < STATUSES => {
                self.duration_by_status[index]
                    .get_or_init(|| self.duration.bind(&self.attributes(status)))
                    .record(seconds);
                self.by_status[index].fetch_add(1, Ordering::Relaxed);
            }
            // Outside 100..=599 (the http crate allows up to 999): counted as 599.
            _ => {
                self.duration.record(seconds, &self.attributes(status));
                self.by_status[STATUSES - 1].fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The stats of one route, by method index.
type ByMethod = [Option<Arc<RouteStats>>; METHODS.len()];

/// Every (method, route) seen so far. Routes are templates, so this stays small.
#[derive(Debug)]
struct RouteTable {
    routes: RwLock<HashMap<Box<str>, ByMethod>>,
    duration: Histogram<f64>,
}

impl RouteTable {
    fn new(duration: Histogram<f64>) -> Self {
        RouteTable {
            routes: RwLock::default(),
            duration,
        }
    }

    fn get(&self, method: usize, route: &str) -> Arc<RouteStats> {
        if let Some(stats) = self
            .routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(route)
            .and_then(|m| m[method].clone())
        {
            return stats;
        }
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        let slot = &mut routes.entry(route.into()).or_default()[method];
        slot.get_or_insert_with(|| {
            Arc::new(RouteStats::new(
                METHODS[method],
                Arc::from(route),
                self.duration.clone(),
            ))
        })
        .clone()
    }

    fn for_each(&self, mut f: impl FnMut(&RouteStats)) {
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        for stats in routes.values().flatten().flatten() {
            f(stats);
        }
    }
}

/// The three HTTP instruments.
#[derive(Debug)]
pub struct HttpMetrics {
    table: Arc<RouteTable>,
    // Observable instruments: kept so their callbacks live as long as the layer.
    _requests: ObservableCounter<u64>,
    _in_progress: ObservableUpDownCounter<i64>,
}

impl HttpMetrics {
    pub fn new(meter: &Meter) -> Self {
        let table = Arc::new(RouteTable::new(
            meter
                .f64_histogram("requests_duration")
                .with_unit("s")
                .with_description("HTTP request duration, in seconds")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
        ));
        let requests = {
            let table = table.clone();
            meter
                .u64_observable_counter("requests")
                .with_description("Total HTTP requests")
                .with_callback(move |observer| {
                    table.for_each(|stats| {
                        for (i, count) in stats.by_status.iter().enumerate() {
                            let count = count.load(Ordering::Relaxed);
                            if count > 0 {
                                observer.observe(count, &stats.attributes(i as u16 + 100));
                            }
                        }
                    })
                })
                .build()
        };
        let in_progress = {
            let table = table.clone();
            meter
                .i64_observable_up_down_counter("request_in_progress")
                .with_description("Total HTTP requests in progress")
                .with_callback(move |observer| {
                    table.for_each(|stats| {
                        observer.observe(
                            stats.in_progress.load(Ordering::Relaxed),
                            &[
                                KeyValue::new("method", stats.method),
                                KeyValue::new("route", stats.route.clone()),
                            ],
                        );
                    })
                })
                .build()
        };
        HttpMetrics {
            table,
            _requests: requests,
            _in_progress: in_progress,
        }
    }
}

/// The `method` label: the standard methods by name, anything else `other`.
pub fn method_label(method: &Method) -> &'static str {
    METHODS[method_index(method)]
}

fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::DELETE => 3,
        Method::PATCH => 4,
        Method::HEAD => 5,
        Method::OPTIONS => 6,
        Method::CONNECT => 7,
        Method::TRACE => 8,
        _ => 9,
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

    fn records(&self, route: &str) -> bool {
        !self.excluded.iter().any(|r| r == route)
    }
}

impl<S> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetricsService<S>;

    /// Called once per route (and once for the fallback) when the layer is added
    /// with `Router::layer`: each gets its own cache of the route it serves.
    fn layer(&self, inner: S) -> Self::Service {
        HttpMetricsService {
            inner,
            route: Arc::new(RouteCache {
                layer: self.clone(),
                route: OnceLock::new(),
                by_method: Default::default(),
            }),
        }
    }
}

/// The route one wrapped service serves, resolved on its first request, and its
/// stats by method as they are first needed. Behind `Router::layer` a service
/// always sees the same route, so a request takes no lock and hashes nothing.
#[derive(Debug)]
struct RouteCache {
    layer: HttpMetricsLayer,
    /// The route template seen first, and whether it is recorded.
    route: OnceLock<(Box<str>, bool)>,
    by_method: [OnceLock<Arc<RouteStats>>; METHODS.len()],
}

impl RouteCache {
    fn stats(&self, method: usize, route: &str) -> Option<Arc<RouteStats>> {
        let table = &self.layer.metrics.table;
        let (cached, recorded) = self
            .route
            .get_or_init(|| (route.into(), self.layer.records(route)));
        if **cached != *route {
            // The same service in front of several routes: look it up.
            return self.layer.records(route).then(|| table.get(method, route));
        }
        recorded.then(|| {
            self.by_method[method]
                .get_or_init(|| table.get(method, route))
                .clone()
        })
    }
}

/// Service recording the HTTP metrics around its inner service.
#[derive(Clone, Debug)]
pub struct HttpMetricsService<S> {
    inner: S,
    route: Arc<RouteCache>,
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
        let guard = self
            .route
            .stats(method_index(req.method()), route)
            .map(InFlight::start);
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
    stats: Arc<RouteStats>,
    started: Instant,
    status: u16,
}

impl InFlight {
    fn start(stats: Arc<RouteStats>) -> Self {
        stats.in_progress.fetch_add(1, Ordering::Relaxed);
        InFlight {
            stats,
            started: Instant::now(),
            status: CLIENT_CLOSED_STATUS,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // Count before leaving the gauge, so a collection never sees the request
        // in neither place.
        self.stats
            .finish(self.status, self.started.elapsed().as_secs_f64());
        self.stats.in_progress.fetch_sub(1, Ordering::Relaxed);
    }
}
