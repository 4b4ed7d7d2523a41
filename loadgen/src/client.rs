//! The requests' usual path: a lean HTTP/1.1 client, one keep-alive connection per
//! goose user, every answer recorded in goose's metrics as goose records its own
//! (same method label, name, time to the response head, status, success and error).
//!
//! goose sends through reqwest, whose layers (redirects, retries, decompression, proxy
//! matching) parse the URL twice more and clone the headers on every request: with
//! callgrind, about half of the load generator's own instructions per request. Here a
//! request is a method, a path parsed once, prebuilt header values and a body that
//! borrows the pre-rendered text. goose's own path (`requests::send_with_goose`)
//! stays for what only it does: the request, error and debug logs, throttling,
//! following redirects to another host, and https.

use std::time::{Duration, Instant};

use bytes::Bytes;
use goose::config::GooseConfiguration;
use goose::prelude::*;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use reqwest::Url;

use crate::traffic::{Method, Planned};

/// Goose's own default, when `--timeout` is not given.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
const USER_AGENT_VALUE: &str = concat!("loadgen/", env!("CARGO_PKG_VERSION"), " (goose)");

/// Where the requests of one base URL go.
pub struct Target {
    /// `host:port` to connect to.
    authority: String,
    host: HeaderValue,
}

impl Target {
    /// `None` for what this client does not do (https): goose sends those.
    pub fn new(base: &Url) -> Option<Self> {
        if base.scheme() != "http" {
            return None;
        }
        let host = base.host_str()?;
        let port = base.port_or_known_default()?;
        let host_header = match base.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        Some(Target {
            authority: format!("{host}:{port}"),
            host: HeaderValue::from_str(&host_header).ok()?,
        })
    }
}

/// The request target (`/predict`) of a joined URL.
pub fn origin_form(url: &Url) -> Option<Uri> {
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    target.parse().ok()
}

/// Whether this user's configuration leaves the requests to this client: goose's
/// request, error and debug logs record what reqwest sent, and throttling and
/// `--sticky-follow` live in goose's request path.
pub fn suits(config: &GooseConfiguration) -> bool {
    let set = |o: &Option<String>| o.as_deref().is_some_and(|s| !s.is_empty());
    !(set(&config.request_log)
        || set(&config.error_log)
        || set(&config.debug_log)
        || config.throttle_requests.is_some_and(|t| t > 0)
        || config.sticky_follow)
}

/// `--timeout` as goose reads it (seconds, fractions allowed).
pub fn timeout(config: &GooseConfiguration) -> Duration {
    config
        .timeout
        .as_deref()
        .and_then(|t| t.parse::<f64>().ok())
        .filter(|s| *s >= 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// A user's connection, kept in its goose session data. A clone starts without one.
pub struct Lane {
    sender: Option<SendRequest<Full<Bytes>>>,
    timeout: Duration,
}

impl Clone for Lane {
    fn clone(&self) -> Self {
        Lane {
            sender: None,
            timeout: self.timeout,
        }
    }
}

impl Lane {
    pub fn new(timeout: Duration) -> Self {
        Lane {
            sender: None,
            timeout,
        }
    }
}

/// What came back: the status and the whole body, or why nothing did.
pub type Answer = Result<(u16, Bytes), String>;

async fn connect(target: &Target) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(&target.authority)
        .await
        .map_err(|e| format!("connect to {}: {e}", target.authority))?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

fn build(req: &Planned<'static>, target: &Target, uri: &Uri) -> Request<Full<Bytes>> {
    let body = req.body.map(|b| Bytes::from_static(b.as_bytes()));
    let mut request = Request::new(Full::new(body.clone().unwrap_or_default()));
    *request.method_mut() = match req.method {
        Method::Get => hyper::Method::GET,
        Method::Post => hyper::Method::POST,
    };
    *request.uri_mut() = uri.clone();
    let headers = request.headers_mut();
    headers.insert(HOST, target.host.clone());
    headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    if body.is_some() {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    if let Some((name, value)) = req.header {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(n, v);
        }
    }
    request
}

/// Sends `req` on the lane's connection (a new one if it has none or it was closed),
/// once more on a new connection if the old one closed before the request went out.
/// Returns the answer and the time to the response head.
async fn exchange(
    lane: &mut Lane,
    target: &Target,
    uri: &Uri,
    req: &Planned<'static>,
) -> (Answer, Duration) {
    let started = Instant::now();
    let mut fresh = false;
    let mut request = build(req, target, uri);
    loop {
        let mut kept = lane.sender.take();
        if let Some(s) = kept.as_mut() {
            if s.ready().await.is_err() {
                kept = None;
            }
        }
        let mut sender = match kept {
            Some(s) => s,
            None => {
                fresh = true;
                match connect(target).await {
                    Ok(s) => s,
                    Err(e) => return (Err(e), started.elapsed()),
                }
            }
        };
        match sender.try_send_request(request).await {
            Ok(response) => {
                let head = started.elapsed();
                let status = response.status().as_u16();
                return match response.into_body().collect().await {
                    Ok(body) => {
                        lane.sender = Some(sender);
                        (Ok((status, body.to_bytes())), head)
                    }
                    Err(e) => (Err(e.to_string()), head),
                };
            }
            Err(mut e) => match e.take_message() {
                // Closed before the request was written: once more, on a new connection.
                Some(unsent) if !fresh => request = unsent,
                _ => return (Err(e.into_error().to_string()), started.elapsed()),
            },
        }
    }
}

/// Sends `req` and records it in goose's metrics; the answer for our own counters.
pub async fn send(
    user: &mut GooseUser,
    target: &Target,
    uri: &Uri,
    req: &Planned<'static>,
) -> Result<Answer, Box<TransactionError>> {
    let lane = match user.get_session_data_mut::<Lane>() {
        Some(lane) => lane,
        None => {
            user.set_session_data(Lane::new(timeout(&user.config)));
            user.get_session_data_mut::<Lane>().expect("just set")
        }
    };
    let limit = lane.timeout;
    let (answer, head) = match tokio::time::timeout(limit, exchange(lane, target, uri, req)).await {
        Ok(done) => done,
        Err(_) => {
            // The connection may be mid-answer: never reuse it.
            lane.sender = None;
            (Err(format!("timed out after {limit:?}")), limit)
        }
    };
    let label = match req.method {
        Method::Get => "GET",
        Method::Post => "POST",
    };
    let (success, status, error) = match &answer {
        Ok((status, _)) if *status == req.expect => (true, Some(*status), None),
        Ok((status, _)) => {
            let code = hyper::StatusCode::from_u16(*status).ok();
            let shown = code.map_or_else(|| status.to_string(), |c| c.to_string());
            (false, Some(*status), Some(format!("{shown}: {}", req.name)))
        }
        Err(e) => (false, None, Some(format!("{e}: {}", req.name))),
    };
    user.record_custom_request_duration(label, req.name, head, success, status, error.as_deref())
        .await?;
    Ok(answer)
}
