//! The requests' usual path: a minimal HTTP/1.1 client, one keep-alive connection per
//! goose user, every answer recorded in goose's metrics as goose records its own
//! (same method label, name, time to the response head, status, success and error).
//!
//! goose sends through reqwest, whose layers (redirects, retries, decompression, proxy
//! matching) parse the URL twice more and clone the headers on every request, and under
//! it hyper hands each request to a connection task over a channel. Here a request is
//! written into a reused buffer (request line, host, user agent, content type and
//! length, the pre-rendered body) and sent with one write; the answer is read into
//! another reused buffer, its head parsed by `httparse` (hyper's parser) and its body
//! framed by content-length, chunked encoding or the end of the connection. goose's
//! own path (`requests::send_with_goose`) stays for what only it does: the request,
//! error and debug logs, throttling, following redirects to another host, and https.
//!
//! Instructions of the load generator per request (callgrind, bounded runs of 8,000
//! requests against model-server): ~81,000 through goose and reqwest, ~28,000 through
//! hyper's own client connection, ~15,000 with this client; ~11,400 once the answer
//! check, the request timer and the allocator were made cheaper too. The rest is about
//! half goose's bookkeeping; the kernel's share of the CPU time per request is ~70 %.

use std::io::{self, Write};
use std::pin::Pin;
use std::time::{Duration, Instant};

use goose::config::GooseConfiguration;
use goose::prelude::*;
use reqwest::Url;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use crate::predictions::prediction_count;
use crate::traffic::{Method, Planned};

/// Goose's own default, when `--timeout` is not given.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
const USER_AGENT: &str = concat!("loadgen/", env!("CARGO_PKG_VERSION"), " (goose)");
/// Response head lines read at most.
const MAX_HEADERS: usize = 32;

/// Where the requests of one base URL go.
pub struct Target {
    /// `host:port` to connect to.
    authority: String,
    /// The `host` header line.
    host_line: String,
}

impl Target {
    /// `None` for what this client does not do (https): goose sends those.
    pub fn new(base: &Url) -> Option<Self> {
        if base.scheme() != "http" {
            return None;
        }
        let host = base.host_str()?;
        let port = base.port_or_known_default()?;
        let host_line = match base.port() {
            Some(p) => format!("host: {host}:{p}\r\n"),
            None => format!("host: {host}\r\n"),
        };
        Some(Target {
            authority: format!("{host}:{port}"),
            host_line,
        })
    }
}

/// The request target (`/predict`) of a joined URL; `None` if it cannot go on a
/// request line as it is.
pub fn origin_form(url: &Url) -> Option<String> {
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    target
        .bytes()
        .all(|b| b.is_ascii_graphic())
        .then_some(target)
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

/// A user's connection and buffers, and its request timer, kept in its goose session
/// data. A clone starts without a connection.
pub struct Lane {
    conn: Conn,
    /// Fires `timeout` (to `timeout` / 64 later) after the current request started;
    /// moved on only when it would fire too early, not for every request: arming a
    /// timer per request was a twentieth of the requests' own work.
    alarm: Option<Pin<Box<Sleep>>>,
    timeout: Duration,
}

struct Conn {
    stream: Option<TcpStream>,
    out: Vec<u8>,
    buf: Vec<u8>,
}

impl Clone for Lane {
    fn clone(&self) -> Self {
        Lane::new(self.timeout)
    }
}

impl Lane {
    pub fn new(timeout: Duration) -> Self {
        Lane {
            conn: Conn {
                stream: None,
                out: Vec::with_capacity(1024),
                buf: Vec::with_capacity(16 * 1024),
            },
            alarm: None,
            timeout,
        }
    }
}

/// The lane's timer, set to fire no earlier than `timeout` after `started`.
fn arm(
    alarm: &mut Option<Pin<Box<Sleep>>>,
    started: Instant,
    timeout: Duration,
) -> Pin<&mut Sleep> {
    let due = tokio::time::Instant::from_std(started + timeout);
    let late = due + timeout / 64;
    let alarm = alarm.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(late)));
    if alarm.deadline() < due {
        alarm.as_mut().reset(late);
    }
    alarm.as_mut()
}

/// An answer: its status and, for a 200, how many predictions its body holds.
pub struct Reply {
    pub status: u16,
    pub predictions: Option<usize>,
}

impl Reply {
    pub fn new(status: u16, body: &[u8]) -> Self {
        Reply {
            status,
            predictions: if status == 200 {
                prediction_count(body)
            } else {
                None
            },
        }
    }
}

/// What came back, or why nothing did.
pub type Answer = Result<Reply, String>;

fn write_request(out: &mut Vec<u8>, req: &Planned<'static>, target: &Target, path: &str) {
    out.clear();
    out.extend_from_slice(match req.method {
        Method::Get => b"GET ",
        Method::Post => b"POST ",
    });
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    out.extend_from_slice(target.host_line.as_bytes());
    out.extend_from_slice(b"user-agent: ");
    out.extend_from_slice(USER_AGENT.as_bytes());
    out.extend_from_slice(b"\r\n");
    if let Some((name, value)) = req.header {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(body) = req.body {
        out.extend_from_slice(b"content-type: application/json\r\ncontent-length: ");
        let _ = write!(out, "{}", body.len());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(body.as_bytes());
    } else {
        out.extend_from_slice(b"\r\n");
    }
}

/// Reads more of the answer into `buf`; an error at the end of the stream.
async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(buf.capacity().max(4096));
    }
    if stream.read_buf(buf).await? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// How the body of an answer ends.
enum Framing {
    Length(usize),
    Chunked,
    Close,
}

/// The head of the answer at the start of `buf`: status, framing, whether the
/// connection stays open, and the head's length; `None` until the head is complete.
fn parse_head(buf: &[u8]) -> io::Result<Option<(u16, Framing, bool, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Response::new(&mut headers);
    let len = match head.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(invalid(&format!("bad response head: {e}"))),
    };
    let status = head.code.unwrap_or_default();
    let mut keep = head.version == Some(1);
    let mut framing = Framing::Close;
    for h in head.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| invalid("bad content-length"))?;
            framing = Framing::Length(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if h.value.eq_ignore_ascii_case(b"chunked") {
                framing = Framing::Chunked;
            }
        } else if h.name.eq_ignore_ascii_case("connection") {
            keep = !h.value.eq_ignore_ascii_case(b"close");
        }
    }
    // 1xx, 204 and 304 have no body.
    if (100..200).contains(&status) || status == 204 || status == 304 {
        framing = Framing::Length(0);
    }
    if matches!(framing, Framing::Close) {
        keep = false;
    }
    Ok(Some((status, framing, keep, len)))
}

/// The position of the next CRLF in `buf` from `from`.
fn line_end(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| from + i)
}

/// Reads a chunked body that starts at `pos` in `buf`.
async fn read_chunked(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    mut pos: usize,
) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let end = loop {
            match line_end(buf, pos) {
                Some(end) => break end,
                None => fill(stream, buf).await?,
            }
        };
        let size_text =
            std::str::from_utf8(&buf[pos..end]).map_err(|_| invalid("bad chunk size"))?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size"))?;
        pos = end + 2;
        if size == 0 {
            // Trailer lines up to an empty one.
            loop {
                let end = loop {
                    match line_end(buf, pos) {
                        Some(end) => break end,
                        None => fill(stream, buf).await?,
                    }
                };
                let empty = end == pos;
                pos = end + 2;
                if empty {
                    return Ok(body);
                }
            }
        }
        while buf.len() < pos + size + 2 {
            fill(stream, buf).await?;
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        pos += size + 2;
    }
}

/// Writes the request in `lane.out` and reads the whole answer. An error says
/// whether the request may be sent again on a new connection: the connection was
/// found closed before any of the answer came.
async fn round_trip(
    lane: &mut Conn,
    stream: &mut TcpStream,
    started: Instant,
) -> Result<(Reply, bool, Duration), (io::Error, bool)> {
    let buf = &mut lane.buf;
    buf.clear();
    if let Err(e) = stream.write_all(&lane.out).await {
        return Err((e, true));
    }
    let (status, framing, keep, head_len) = loop {
        if let Err(e) = fill(stream, buf).await {
            let retry = buf.is_empty()
                && matches!(
                    e.kind(),
                    io::ErrorKind::UnexpectedEof
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::BrokenPipe
                );
            return Err((e, retry));
        }
        if let Some(head) = parse_head(buf).map_err(|e| (e, false))? {
            break head;
        }
    };
    let head_time = started.elapsed();
    let reply = match framing {
        Framing::Length(n) => {
            while buf.len() < head_len + n {
                fill(stream, buf).await.map_err(|e| (e, false))?;
            }
            Reply::new(status, &buf[head_len..head_len + n])
        }
        Framing::Chunked => {
            let body = read_chunked(stream, buf, head_len)
                .await
                .map_err(|e| (e, false))?;
            Reply::new(status, &body)
        }
        Framing::Close => {
            loop {
                match fill(stream, buf).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err((e, false)),
                }
            }
            Reply::new(status, &buf[head_len..])
        }
    };
    Ok((reply, keep, head_time))
}

async fn connect(target: &Target) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(&target.authority).await?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Sends the request in `lane.out` on the lane's connection (a new one if it has
/// none), once more on a new connection if the kept one turned out closed before
/// answering. Returns the answer and the time from `started` to its head, as goose
/// times its own requests.
async fn exchange(lane: &mut Conn, target: &Target, started: Instant) -> (Answer, Duration) {
    let mut fresh = false;
    loop {
        let mut stream = match lane.stream.take() {
            Some(s) => s,
            None => {
                fresh = true;
                match connect(target).await {
                    Ok(s) => s,
                    Err(e) => {
                        let error = format!("connect to {}: {e}", target.authority);
                        return (Err(error), started.elapsed());
                    }
                }
            }
        };
        match round_trip(lane, &mut stream, started).await {
            Ok((reply, keep, head)) => {
                if keep {
                    lane.stream = Some(stream);
                }
                return (Ok(reply), head);
            }
            Err((_, true)) if !fresh => continue,
            Err((e, _)) => return (Err(e.to_string()), started.elapsed()),
        }
    }
}

/// Sends `req` and records it in goose's metrics; the answer for our own counters.
pub async fn send(
    user: &mut GooseUser,
    target: &Target,
    path: &str,
    req: &Planned<'static>,
) -> Result<Answer, Box<TransactionError>> {
    let lane = match user.get_session_data_mut::<Lane>() {
        Some(lane) => lane,
        None => {
            user.set_session_data(Lane::new(timeout(&user.config)));
            user.get_session_data_mut::<Lane>().expect("just set")
        }
    };
    write_request(&mut lane.conn.out, req, target, path);
    let started = Instant::now();
    let alarm = arm(&mut lane.alarm, started, lane.timeout);
    let done = tokio::select! {
        biased;
        done = exchange(&mut lane.conn, target, started) => Some(done),
        () = alarm => None,
    };
    let (answer, head) = done.unwrap_or_else(|| {
        // The connection may be mid-answer: never reuse it.
        lane.conn.stream = None;
        let error = format!("timed out after {:?}", lane.timeout);
        (Err(error), started.elapsed())
    });
    let label = match req.method {
        Method::Get => "GET",
        Method::Post => "POST",
    };
    let (success, status, error) = match &answer {
        Ok(Reply { status, .. }) if *status == req.expect => (true, Some(*status), None),
        Ok(Reply { status, .. }) => {
            let shown = reqwest::StatusCode::from_u16(*status)
                .map_or_else(|_| status.to_string(), |c| c.to_string());
            (false, Some(*status), Some(format!("{shown}: {}", req.name)))
        }
        Err(e) => (false, None, Some(format!("{e}: {}", req.name))),
    };
    user.record_custom_request_duration(label, req.name, head, success, status, error.as_deref())
        .await?;
    Ok(answer)
}
