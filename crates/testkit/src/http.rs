//! A minimal HTTP/1.0 GET against a loopback port, for tests and benches that talk to real
//! peers (Prometheus, vmagent, mini-prometheus) without pulling in an HTTP client.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `GET path` on `127.0.0.1:port`: the status code and the raw body, or why not (connect,
/// write, read, no status line, or `timeout` passed).
pub async fn get_bytes(port: u16, path: &str, timeout: Duration) -> Result<(u16, Vec<u8>), String> {
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("connect 127.0.0.1:{port}: {e}"))?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        let code = std::str::from_utf8(buf.get(9..12).unwrap_or_default())
            .ok()
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| {
                format!(
                    "no HTTP status in {:?}",
                    String::from_utf8_lossy(&buf[..buf.len().min(80)])
                )
            })?;
        let body = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or_else(Vec::new, |at| buf[at + 4..].to_vec());
        Ok((code, body))
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| format!("GET 127.0.0.1:{port}{path}: timed out"))?
}

/// [`get_bytes`] with the body as text (invalid UTF-8 replaced).
pub async fn get(port: u16, path: &str, timeout: Duration) -> Result<(u16, String), String> {
    let (code, body) = get_bytes(port, path, timeout).await?;
    Ok((code, String::from_utf8_lossy(&body).into_owned()))
}
