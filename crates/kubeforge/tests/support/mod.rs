//! What several test files need: a minimal HTTP/1.1 client, so the tests
//! carry no HTTP client dependency; the Gadget kind; CRD comparisons with
//! controller-gen.

#![allow(dead_code)] // each test file uses only part of it

pub mod crd_compare;
pub mod gadget;

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// `GET path` over `stream` (plain TCP or TLS), with an optional bearer
/// token; the status code and body. The server closes the connection.
pub async fn get_over<S>(
    mut stream: S,
    host: &str,
    path: &str,
    bearer: Option<&str>,
) -> (u16, String)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let authorization = bearer
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{authorization}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    // A TLS server may close without close_notify; what arrived is enough.
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("malformed response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// `GET path` over plain HTTP.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    get_over(stream, &addr.to_string(), path, None).await
}

/// A TLS connection to `127.0.0.1:port` from a client that trusts only the
/// CAs in `roots`: what the API server does when it calls a webhook.
pub async fn connect_trusting(
    port: u16,
    roots: rustls::RootCertStore,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())
}
