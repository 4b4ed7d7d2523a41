//! Readiness probing and port checks for the stack's children, over plain HTTP/1.1.

use std::net::SocketAddr;
use std::time::Duration;

use crate::raw_http;

/// The status code of `GET path`, or `None` if nothing answered in time.
pub async fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let attempt = async {
        let mut stream = raw_http::send(addr, "GET", path, &[], b"").await.ok()?;
        raw_http::read_status(&mut stream).await
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
}

/// Whether something already listens on (or holds) this port.
pub fn port_is_free(addr: SocketAddr) -> bool {
    std::net::TcpListener::bind(addr).is_ok()
}
