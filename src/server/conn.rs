//! One client connection: HTTP/1.1 through hyper, with our own header-read and
//! keep-alive timeouts, `connection: close` while draining, and the bookkeeping that
//! lets shutdown tell a connection in a request from an idle one.
//!
//! A connection is *in a request* from the moment hyper hands a parsed request head
//! to the app until the app has produced its response. Otherwise it is *idle*: it
//! may be closed after `keep_alive_timeout` with nothing received, or after
//! `header_read_timeout` once the first byte of a request head has arrived. On
//! drain, every response carries `connection: close`; a connection gets a short
//! linger to send the request it may already have on the wire, and is then closed
//! if it is not in a request. Connections never hold the shutdown grace unless a
//! request is actually running on them.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderValue, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tower::Service;

use super::metrics::{ConnError, ConnMetrics};
use crate::drain::{self, Drain};

/// The timeouts of a connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnSettings {
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    /// On drain, how long an idle connection may still send one last request.
    pub linger: Duration,
}

/// What every connection of a server shares: the counts, and the server's [`Drain`].
/// From [`drain::Phase::Closed`] on, every response asks its client to close, and an idle
/// connection closes after its linger.
#[derive(Debug)]
pub struct Tracker {
    requests: AtomicUsize,
    connections: AtomicUsize,
    peak_connections: AtomicUsize,
    drain: Drain,
}

impl Tracker {
    pub fn new(drain: Drain) -> Self {
        Tracker {
            requests: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            peak_connections: AtomicUsize::new(0),
            drain,
        }
    }

    /// Requests being handled now, over all connections.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Acquire)
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Acquire)
    }

    /// The highest connection count since the last [`Tracker::reset_peak`].
    pub fn peak(&self) -> usize {
        self.peak_connections.load(Ordering::Acquire)
    }

    /// Starts a new peak from the current count.
    pub fn reset_peak(&self) {
        self.peak_connections
            .store(self.connections(), Ordering::Release);
    }
}

/// Counts one open connection for as long as it lives (even when its task is aborted).
struct Open(Arc<Tracker>);

impl Open {
    fn new(tracker: Arc<Tracker>) -> Self {
        let now = tracker.connections.fetch_add(1, Ordering::AcqRel) + 1;
        tracker.peak_connections.fetch_max(now, Ordering::AcqRel);
        Open(tracker)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The state of one connection, written by its stream and its service.
#[derive(Debug)]
struct ConnState {
    epoch: Instant,
    in_request: AtomicU32,
    /// Milliseconds after `epoch` at which the connection last became idle.
    idle_since_ms: AtomicU64,
    /// 1 + milliseconds after `epoch` of the first byte read while idle; 0 for none.
    head_started_ms: AtomicU64,
}

/// Why an idle connection's timer went off.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expiry {
    KeepAlive,
    HeaderRead,
}

impl ConnState {
    fn new() -> Self {
        ConnState {
            epoch: Instant::now(),
            in_request: AtomicU32::new(0),
            idle_since_ms: AtomicU64::new(0),
            head_started_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn at(&self, ms: u64) -> Instant {
        self.epoch + Duration::from_millis(ms)
    }

    fn is_idle(&self) -> bool {
        self.in_request.load(Ordering::Acquire) == 0
    }

    /// When an idle connection must be closed, and why; `None` while in a request.
    fn deadline(&self, settings: &ConnSettings) -> Option<(Instant, Expiry)> {
        if !self.is_idle() {
            return None;
        }
        match self.head_started_ms.load(Ordering::Acquire) {
            0 => Some((
                self.at(self.idle_since_ms.load(Ordering::Acquire)) + settings.keep_alive_timeout,
                Expiry::KeepAlive,
            )),
            started => Some((
                self.at(started - 1) + settings.header_read_timeout,
                Expiry::HeaderRead,
            )),
        }
    }

    fn on_bytes_read(&self) {
        if self.is_idle() && self.head_started_ms.load(Ordering::Relaxed) == 0 {
            self.head_started_ms
                .store(self.now_ms() + 1, Ordering::Release);
        }
    }
}

/// A request being handled: counted on its connection and in the tracker.
struct InRequest {
    state: Arc<ConnState>,
    tracker: Arc<Tracker>,
}

impl InRequest {
    fn start(state: Arc<ConnState>, tracker: Arc<Tracker>) -> Self {
        state.in_request.fetch_add(1, Ordering::AcqRel);
        state.head_started_ms.store(0, Ordering::Release);
        tracker.requests.fetch_add(1, Ordering::AcqRel);
        InRequest { state, tracker }
    }
}

impl Drop for InRequest {
    fn drop(&mut self) {
        self.state
            .idle_since_ms
            .store(self.state.now_ms(), Ordering::Release);
        self.state.in_request.fetch_sub(1, Ordering::AcqRel);
        self.tracker.requests.fetch_sub(1, Ordering::AcqRel);
    }
}

/// After the last response, how long the server keeps reading (and discarding)
/// what the client still sends before it closes the socket.
pub const LINGERING_CLOSE: Duration = Duration::from_secs(1);

/// The TCP stream, noting when the first byte of a request head arrives, and
/// closing lingeringly.
///
/// Closing a socket that still has unread data from the client resets the
/// connection, and a reset can destroy the response the client has not read yet
/// (a 413 or 408 sent before the body was read, for one). So on shutdown the write
/// side is closed first, then incoming bytes are discarded until the client closes
/// or [`LINGERING_CLOSE`] has passed, as nginx's lingering close does.
struct TrackedStream {
    inner: TcpStream,
    state: Arc<ConnState>,
    linger: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl AsyncRead for TrackedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.state.on_bytes_read();
        }
        result
    }
}

impl AsyncWrite for TrackedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.linger.is_none() {
            std::task::ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
            this.linger = Some(Box::pin(tokio::time::sleep(LINGERING_CLOSE)));
        }
        let mut scratch = [0u8; 2048];
        loop {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.inner).poll_read(cx, &mut buf) {
                // The client closed too: nothing left that could reset.
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Pending => break,
            }
        }
        match this.linger.as_mut().map(|sleep| sleep.as_mut().poll(cx)) {
            Some(Poll::Pending) => Poll::Pending,
            _ => Poll::Ready(Ok(())),
        }
    }
}

/// Everything a connection task needs besides its socket.
#[derive(Clone)]
pub struct ConnContext {
    pub app: Router,
    pub settings: ConnSettings,
    pub tracker: Arc<Tracker>,
    pub metrics: Arc<ConnMetrics>,
}

/// Where a connection is in the shutdown sequence.
enum ConnPhase {
    Serving,
    /// Draining: waiting until this instant for an idle connection's last request.
    Lingering(Instant),
    /// hyper was told to finish the request in flight and close.
    Closing,
}

/// Serves one connection until it closes, times out, or is drained.
/// `_permit` holds the connection's slot under the connection limit.
pub async fn serve(stream: TcpStream, ctx: ConnContext, _permit: OwnedSemaphorePermit) {
    let ConnContext {
        app,
        settings,
        tracker,
        metrics,
    } = ctx;
    let _open = Open::new(tracker.clone());
    let _ = stream.set_nodelay(true);
    let state = Arc::new(ConnState::new());
    let io = TokioIo::new(TrackedStream {
        inner: stream,
        state: state.clone(),
        linger: None,
    });
    let service = {
        let state = state.clone();
        let tracker = tracker.clone();
        hyper::service::service_fn(move |request: Request<Incoming>| {
            let in_request = InRequest::start(state.clone(), tracker.clone());
            let response = app.clone().call(request);
            async move {
                let Ok(mut response) = response.await;
                if in_request.tracker.drain.phase() == drain::Phase::Closed {
                    response
                        .headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                drop(in_request);
                Ok::<_, Infallible>(response)
            }
        })
    };
    let connection = hyper::server::conn::http1::Builder::new()
        // Our own timers below replace hyper's header timeout, which would also
        // cut keep-alive connections short.
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(connection);

    let drain = &tracker.drain;
    let closed = drain.reached(drain::Phase::Closed);
    tokio::pin!(closed);
    let mut phase = if drain.phase() == drain::Phase::Closed {
        ConnPhase::Lingering(Instant::now() + settings.linger)
    } else {
        ConnPhase::Serving
    };
    // The timer is not re-armed when a request starts or ends (that would cost a
    // wake-up per request): it looks at the connection at least this often, so a
    // header-read deadline is enforced at most a quarter of the timeout late.
    let recheck = (settings.header_read_timeout / 4)
        .min(settings.keep_alive_timeout)
        .max(Duration::from_millis(10));
    loop {
        let wake = match phase {
            ConnPhase::Serving => {
                let next_look = Instant::now() + recheck;
                state
                    .deadline(&settings)
                    .map_or(next_look, |(at, _)| at.min(next_look))
            }
            ConnPhase::Lingering(until) => until,
            ConnPhase::Closing => Instant::now() + Duration::from_secs(3600),
        };
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    if let Some(kind) = ConnError::classify(&e) {
                        metrics.record(kind);
                    }
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = &mut closed, if matches!(phase, ConnPhase::Serving) => {
                phase = ConnPhase::Lingering(Instant::now() + settings.linger);
            }
            () = tokio::time::sleep_until(wake.into()) => match phase {
                ConnPhase::Serving => match state.deadline(&settings) {
                    Some((at, expiry)) if at <= Instant::now() => {
                        if expiry == Expiry::HeaderRead {
                            metrics.record(ConnError::HeaderTimeout);
                        }
                        return;
                    }
                    _ => {}
                },
                ConnPhase::Lingering(_) => {
                    if state.is_idle() {
                        return;
                    }
                    connection.as_mut().graceful_shutdown();
                    phase = ConnPhase::Closing;
                }
                ConnPhase::Closing => {}
            },
        }
    }
}
