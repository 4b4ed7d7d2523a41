//! A hand-written HTTP/1.1 client over a plain TCP stream: one request per connection,
//! `connection: close`, the response read as text.
//!
//! For callers that need the socket itself rather than a client library: the stack's
//! readiness probe, which reads no more than the status line, and the tests that leave a
//! request in flight or hang up in the middle of one. Not a general client: no TLS, no
//! redirects, no chunked decoding, no timeouts of its own (wrap a call in one).

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connects to `addr` and writes one request: `host` is `addr`, each of `headers` follows
/// it, then `content-length` when there is a body, and `connection: close`. Returns the
/// stream with the response still unread.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<TcpStream> {
    let mut request = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        request.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    request.push_str("connection: close\r\n\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(&bytes).await?;
    Ok(stream)
}

/// The whole response, head and body, as the server closes the connection.
pub async fn read_response(mut stream: TcpStream) -> io::Result<String> {
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response)
}

/// The status code, from the first bytes of the response (one read, the rest left unread).
pub async fn read_status(stream: &mut TcpStream) -> Option<u16> {
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).await.ok()?;
    let line = std::str::from_utf8(&head[..n]).ok()?;
    line.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()
}

/// `GET path`: the whole response.
pub async fn get(addr: SocketAddr, path: &str) -> io::Result<String> {
    read_response(send(addr, "GET", path, &[], b"").await?).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn writes_one_request_and_reads_the_status_or_the_whole_response() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..2 {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                // Up to the end of the head, and the body of the POST.
                let complete = |r: &[u8]| {
                    r.windows(4).any(|w| w == b"\r\n\r\n")
                        && (r.starts_with(b"GET") || r.ends_with(b"{}"))
                };
                while !complete(&request) {
                    let n = conn.read(&mut buf).await.unwrap();
                    assert!(n > 0, "the client closed mid-request");
                    request.extend_from_slice(&buf[..n]);
                }
                conn.write_all(b"HTTP/1.1 418 I'm a teapot\r\ncontent-length: 2\r\n\r\nhi")
                    .await
                    .unwrap();
                seen.push(String::from_utf8(request).unwrap());
            }
            seen
        });

        let mut stream = send(
            addr,
            "POST",
            "/x",
            &[("content-type", "application/json")],
            b"{}",
        )
        .await
        .unwrap();
        assert_eq!(read_status(&mut stream).await, Some(418));
        let response = get(addr, "/y").await.unwrap();
        assert!(response.starts_with("HTTP/1.1 418"), "{response}");
        assert!(response.ends_with("\r\n\r\nhi"), "{response}");

        let seen = server.await.unwrap();
        assert_eq!(
            seen[0],
            format!(
                "POST /x HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
                 content-length: 2\r\nconnection: close\r\n\r\n{{}}"
            )
        );
        assert_eq!(
            seen[1],
            format!("GET /y HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n")
        );
    }
}
