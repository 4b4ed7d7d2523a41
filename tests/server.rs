//! The server over real sockets: client disconnects, graceful drain, and the
//! `model-server` binary's start-up errors and SIGTERM handling.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{model, Scrape};
use model_server::config::ServeConfig;
use model_server::raw_http;
use model_server::server::Server;
use model_server::telemetry::Telemetry;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

const BIN: &str = env!("CARGO_BIN_EXE_model-server");

fn serve_config() -> ServeConfig {
    let mut c = ServeConfig::defaults();
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.enable_faults = true;
    c.shutdown_grace = Duration::from_secs(5);
    c
}

/// Writes `POST /predict` (with `x-fault` when given) on a new connection and returns the
/// stream, the response unread.
async fn start_request(addr: SocketAddr, fault: Option<&str>) -> TcpStream {
    let mut headers = vec![("content-type", "application/json")];
    headers.extend(fault.map(|f| ("x-fault", f)));
    raw_http::send(
        addr,
        "POST",
        "/predict",
        &headers,
        common::SETOSA.as_bytes(),
    )
    .await
    .unwrap()
}

async fn read_response(stream: TcpStream) -> String {
    raw_http::read_response(stream).await.unwrap()
}

async fn http_get(addr: SocketAddr, path: &str) -> String {
    raw_http::get(addr, path).await.unwrap()
}

async fn scrape(addr: SocketAddr) -> Scrape {
    let response = http_get(addr, "/metrics").await;
    let body = response.split_once("\r\n\r\n").unwrap().1;
    Scrape::parse(body)
}

async fn wait_for_in_progress_zero(addr: SocketAddr) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let m = scrape(addr).await;
        if m.sum("request_in_progress", &[]) == 0.0 || Instant::now() > deadline {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A server running in this process until `stop` is sent.
struct Running {
    addr: SocketAddr,
    drain: model_server::drain::Drain,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn start(config: &ServeConfig) -> Running {
    let server = Server::bind(config, model(), Telemetry::new().unwrap())
        .await
        .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    Running {
        addr: server.local_addr().unwrap(),
        drain: server.drain(),
        stop,
        task: tokio::spawn(server.run(async {
            let _ = stopped.await;
        })),
    }
}

#[tokio::test]
async fn client_disconnect_mid_request_is_counted_as_499_and_leaves_no_request_in_progress() {
    let Running {
        addr, stop, task, ..
    } = start(&serve_config()).await;

    let stream = start_request(addr, Some("delay=2000")).await;
    // Wait until the request is inside the handler.
    let deadline = Instant::now() + Duration::from_secs(5);
    while scrape(addr).await.sum("request_in_progress", &[]) != 1.0 {
        assert!(Instant::now() < deadline, "request never went in progress");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(stream);

    let m = wait_for_in_progress_zero(addr).await;
    assert_eq!(
        m.sum("request_in_progress", &[]),
        0.0,
        "gauge stuck after disconnect"
    );
    let abandoned = [("method", "POST"), ("route", "/predict"), ("status", "499")];
    assert_eq!(m.value("requests_total", &abandoned), Some(1.0));
    assert_eq!(
        m.value("requests_duration_seconds_count", &abandoned),
        Some(1.0)
    );
    assert_eq!(m.sum("requests_total", &[]), 1.0);
    // The abandoned request predicted nothing.
    assert_eq!(m.sum("predictions_total", &[]), 0.0);

    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn graceful_shutdown_drains_an_in_flight_request() {
    let Running {
        addr,
        drain,
        stop,
        task,
    } = start(&serve_config()).await;

    let in_flight = start_request(addr, Some("delay=500")).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let signalled = Instant::now();
    stop.send(()).unwrap();

    let response = read_response(in_flight).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"class\":\"setosa\""), "{response}");
    task.await.unwrap();
    assert!(!drain.is_ready());
    assert_eq!(drain.phase(), model_server::drain::Phase::Closed);
    assert!(
        signalled.elapsed() < Duration::from_secs(4),
        "drain took too long"
    );
    // The listener is closed: new connections are refused.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn shutdown_grace_bounds_the_drain() {
    let mut config = serve_config();
    config.shutdown_grace = Duration::from_millis(200);
    let Running {
        addr, stop, task, ..
    } = start(&config).await;
    let _stuck = start_request(addr, Some("delay=30000")).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let signalled = Instant::now();
    stop.send(()).unwrap();
    task.await.unwrap();
    let took = signalled.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[tokio::test]
async fn binding_a_busy_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = serve_config();
    config.listen = taken.local_addr().unwrap();
    let err = match Server::bind(&config, model(), Telemetry::new().unwrap()).await {
        Ok(_) => panic!("bound a busy port"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains(&config.listen.to_string()), "{err}");
    assert!(err.contains("another process is using the port"), "{err}");
}

/// Starts the binary on a free port and returns it with its address, read from its log.
fn spawn_binary(args: &[&str]) -> (std::process::Child, SocketAddr) {
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        let log: serde_json::Value = serde_json::from_str(&line).unwrap();
        if let Some(addr) = log["fields"]["address"].as_str() {
            break addr.parse().unwrap();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_and_exits_zero() {
    let (mut child, addr) = spawn_binary(&["--enable-faults"]);
    let in_flight = start_request(addr, Some("delay=500")).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let rc = unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let response = read_response(in_flight).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn train_writes_an_artifact_that_serve_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lr.json");
    let out = Command::new(BIN)
        .args([
            "train",
            "--algorithm",
            "logistic-regression",
            "--seed",
            "7",
            "--out",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("held-out accuracy"), "{stdout}");
    let text = std::fs::read_to_string(&path).unwrap();
    let artifact: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(artifact["body"]["algorithm"], "logistic-regression");

    let (mut child, addr) = spawn_binary(&["--model", path.to_str().unwrap()]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let root = rt.block_on(http_get(addr, "/"));
    assert!(root.contains("logistic-regression"), "{root}");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
}

#[test]
fn bad_model_files_fail_start_up_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Option<&[u8]>, &str)> = vec![
        ("missing.json", None, "cannot read model file"),
        ("empty.json", Some(b""), "is empty"),
        (
            "truncated.json",
            Some(b"{\"format\": \"model-server.iris-classifier\", \"body\": {"),
            "truncated",
        ),
        ("garbage.json", Some(b"\x00\x01binary"), "not valid JSON"),
        (
            "future.json",
            Some(br#"{"format":"model-server.iris-classifier","format_version":99}"#),
            "format version 99",
        ),
    ];
    for (name, content, expected) in cases {
        let path = dir.path().join(name);
        if let Some(bytes) = content {
            std::fs::write(&path, bytes).unwrap();
        }
        let out = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--model"])
            .arg(&path)
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(path.to_str().unwrap()), "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
}

#[test]
fn invalid_flags_are_rejected_with_usage() {
    let out = Command::new(BIN)
        .args(["--body-limit", "lots"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--body-limit"), "{stderr}");
}
