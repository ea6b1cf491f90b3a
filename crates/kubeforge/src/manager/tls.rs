//! TLS for the metrics endpoint: the server certificate (from files, or
//! self-signed at start as controller-runtime does) and a listener that hands
//! axum connections which have finished their TLS handshake.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A client that has not finished its handshake by then is dropped, so a
/// stalled scraper cannot pile up connections.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the metrics server's TLS configuration could not be built.
///
/// Reported at start-up (inside [`ManagerError::MetricsTls`](super::ManagerError::MetricsTls))
/// so a bad certificate mount fails the pod at once instead of every scrape.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate or key file could not be read or parsed.
    #[error("cannot read {what} from {}: {message}", path.display())]
    File {
        /// "certificate" or "private key".
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The self-signed certificate could not be generated.
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls rejected the certificate and key (e.g. they do not match).
    #[error("unusable certificate and key: {0}")]
    Config(#[from] rustls::Error),
}

/// How often mounted certificate files are checked for a renewal.
const CERT_POLL_INTERVAL: Duration = Duration::from_secs(10);

/// A server configuration for the certificate chain and key in `dir` (`cert`
/// and `key` are file names in it: `tls.crt` and `tls.key` for a Kubernetes
/// TLS Secret). The files are read again whenever they change, as
/// controller-runtime's certwatcher does, because cert-manager renews a
/// mounted Secret in place; a renewal that does not parse is logged and the
/// previous certificate kept. Call from within a Tokio runtime: the check
/// runs as a task that ends when the configuration is dropped.
pub(crate) fn server_config_from_files(
    dir: &Path,
    cert: &str,
    key: &str,
) -> Result<Arc<ServerConfig>, TlsError> {
    let files = Arc::new(CertFiles::load(dir.join(cert), dir.join(key))?);
    let config = server_config(Arc::new(rustls::crypto::ring::default_provider()))?
        .with_cert_resolver(files.clone());
    let watched = Arc::downgrade(&files);
    drop(files);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(CERT_POLL_INTERVAL).await;
            let Some(files) = watched.upgrade() else {
                return;
            };
            match files.refresh() {
                Ok(true) => {
                    tracing::info!(cert = %files.cert.display(), "reloaded the metrics certificate")
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "keeping the previous metrics certificate"),
            }
        }
    });
    Ok(with_alpn(config))
}

/// When a file last changed, as far as a reload needs to know.
type Stamp = Option<(std::time::SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}

/// The current certificate from a pair of files, served to every handshake.
#[derive(Debug)]
pub(crate) struct CertFiles {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<(Stamp, Stamp, Arc<CertifiedKey>)>,
}

impl CertFiles {
    fn load(cert: PathBuf, key: PathBuf) -> Result<Self, TlsError> {
        let (cert_stamp, key_stamp) = (stamp(&cert), stamp(&key));
        let certified = read_certified_key(&cert, &key)?;
        Ok(CertFiles {
            cert,
            key,
            current: RwLock::new((cert_stamp, key_stamp, certified)),
        })
    }

    /// Reads the files again if either changed; `Ok(true)` if the served
    /// certificate was replaced.
    pub(crate) fn refresh(&self) -> Result<bool, TlsError> {
        let stamps = (stamp(&self.cert), stamp(&self.key));
        {
            let current = self.current.read().unwrap_or_else(|e| e.into_inner());
            if (current.0, current.1) == stamps {
                return Ok(false);
            }
        }
        let certified = read_certified_key(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = (stamps.0, stamps.1, certified);
        Ok(true)
    }
}

impl ResolvesServerCert for CertFiles {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        Some(current.2.clone())
    }
}

fn read_certified_key(cert_path: &Path, key_path: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let file_error = |what, path: &Path, message: String| TlsError::File {
        what,
        path: path.to_path_buf(),
        message,
    };
    let chain = CertificateDer::pem_file_iter(cert_path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| file_error("certificate", cert_path, e.to_string()))?;
    if chain.is_empty() {
        return Err(file_error(
            "certificate",
            cert_path,
            "no PEM CERTIFICATE block".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_path)
        .map_err(|e| file_error("private key", key_path, e.to_string()))?;
    let provider = rustls::crypto::ring::default_provider();
    Ok(Arc::new(CertifiedKey::from_der(chain, key, &provider)?))
}

/// A fresh self-signed certificate for `localhost`, `127.0.0.1` and `::1`.
/// Scrapers in a cluster reach the pod by IP and skip verification of such
/// a certificate (the scaffolded ServiceMonitor says so); mount a real one
/// with --metrics-cert-path to verify it.
pub(crate) fn self_signed_server_config()
-> Result<(Arc<ServerConfig>, CertificateDer<'static>), TlsError> {
    let names = ["localhost", "127.0.0.1", "::1"].map(str::to_owned);
    let rcgen::CertifiedKey { cert, signing_key } = rcgen::generate_simple_self_signed(names)?;
    let der = cert.der().clone();
    let config = server_config(Arc::new(rustls::crypto::ring::default_provider()))?
        .with_single_cert(vec![der.clone()], PrivateKeyDer::from(signing_key))?;
    Ok((with_alpn(config), der))
}

/// The protocol settings every metrics server shares, before its certificate.
fn server_config(
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<rustls::ConfigBuilder<ServerConfig, rustls::server::WantsServerCert>, TlsError> {
    Ok(ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth())
}

/// HTTP/1.1 only, like Kubebuilder's default --enable-http2=false (HTTP/2
/// rapid-reset attacks); a scrape is one small request anyway.
fn with_alpn(mut config: ServerConfig) -> Arc<ServerConfig> {
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Accepts TCP connections and performs TLS handshakes concurrently in a
/// background task, so one slow client never holds up the others; axum
/// receives only finished handshakes. Dropping it stops the task.
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub(crate) fn new(listener: TcpListener, local: SocketAddr, config: Arc<ServerConfig>) -> Self {
        let (sender, ready) = mpsc::channel(16);
        let acceptor = TlsAcceptor::from(config);
        let acceptor_task = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Usually out of file descriptors: wait instead of spinning.
                        tracing::warn!(%error, "metrics server: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if sender.is_closed() {
                    return;
                }
                let (acceptor, sender) = (acceptor.clone(), sender.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = sender.send((tls, peer)).await;
                        }
                        Ok(Err(error)) => {
                            tracing::debug!(%error, %peer, "metrics server: TLS handshake failed");
                        }
                        Err(_) => tracing::debug!(%peer, "metrics server: TLS handshake timed out"),
                    }
                });
            }
        });
        TlsListener {
            ready,
            local,
            acceptor_task,
        }
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The acceptor task only ends when this listener is dropped or
            // the runtime shuts down; either way no connection will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// A server answering "hello" on `/` over TLS with `config`; send on the
    /// returned channel to stop it.
    async fn serve_hello(
        config: Arc<ServerConfig>,
    ) -> (
        SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = axum::Router::new().route("/", get(|| async { "hello" }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = crate::manager::http::spawn_server(
            "test",
            TlsListener::new(listener, addr, config),
            router,
            async {
                let _ = stopped.await;
            },
        );
        (addr, stop, server)
    }

    /// A client that trusts exactly `roots`.
    fn connector(roots: &[CertificateDer<'static>]) -> tokio_rustls::TlsConnector {
        let mut store = rustls::RootCertStore::empty();
        for root in roots {
            store.add(root.clone()).unwrap();
        }
        let client = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(client))
    }

    #[tokio::test]
    async fn self_signed_certificate_serves_https_on_localhost() {
        let (config, certificate) = self_signed_server_config().unwrap();
        let (addr, stop, server) = serve_hello(config).await;

        // A stalled client that never handshakes must not block the next one.
        let _stalled = TcpStream::connect(addr).await.unwrap();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector(&[certificate]).connect(name, tcp).await.unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), None);
        tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = Vec::new();
        let _ = tls.read_to_end(&mut response).await;
        let response = String::from_utf8_lossy(&response);
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with("hello"), "{response}");

        stop.send(()).unwrap();
        server.await.unwrap();
    }

    /// A self-signed certificate for 127.0.0.1 written as `tls.crt`/`tls.key`
    /// in `dir`, stamped `age_secs` after the epoch so two writes never look
    /// alike to the reload check.
    fn write_pair(dir: &Path, age_secs: u64) -> CertificateDer<'static> {
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let when = std::time::UNIX_EPOCH + Duration::from_secs(age_secs);
        for (name, pem) in [
            ("tls.crt", cert.pem()),
            ("tls.key", signing_key.serialize_pem()),
        ] {
            std::fs::write(dir.join(name), pem).unwrap();
            let file = std::fs::File::options()
                .write(true)
                .open(dir.join(name))
                .unwrap();
            file.set_modified(when).unwrap();
        }
        cert.der().clone()
    }

    /// The certificate a server at `addr` presents, trusting `roots`.
    async fn served_certificate(
        addr: SocketAddr,
        roots: &[CertificateDer<'static>],
    ) -> CertificateDer<'static> {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
        let tls = connector(roots).connect(name, tcp).await.unwrap();
        tls.get_ref().1.peer_certificates().unwrap()[0].clone()
    }

    #[tokio::test]
    async fn renewed_certificate_files_are_served_without_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let first = write_pair(dir.path(), 1_000);
        let files = Arc::new(
            CertFiles::load(dir.path().join("tls.crt"), dir.path().join("tls.key")).unwrap(),
        );
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = with_alpn(
            server_config(provider)
                .unwrap()
                .with_cert_resolver(files.clone()),
        );
        let (addr, stop, server) = serve_hello(config).await;

        assert!(!files.refresh().unwrap(), "nothing changed yet");
        let second = write_pair(dir.path(), 2_000);
        let both = [first.clone(), second.clone()];
        assert_eq!(served_certificate(addr, &both).await, first);
        assert!(files.refresh().unwrap());
        assert_eq!(served_certificate(addr, &both).await, second);

        // A broken renewal keeps the last good certificate.
        std::fs::write(dir.path().join("tls.crt"), "garbage").unwrap();
        assert!(files.refresh().is_err());
        assert_eq!(served_certificate(addr, &both).await, second);

        stop.send(()).unwrap();
        server.await.unwrap();
    }

    #[test]
    fn a_key_that_does_not_match_is_refused() {
        let (one, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write_pair(one.path(), 1_000);
        write_pair(other.path(), 1_000);
        std::fs::copy(other.path().join("tls.key"), one.path().join("tls.key")).unwrap();
        let error =
            CertFiles::load(one.path().join("tls.crt"), one.path().join("tls.key")).unwrap_err();
        assert!(matches!(error, TlsError::Config(_)), "{error}");
    }

    #[test]
    fn unreadable_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let error = server_config_from_files(dir.path(), "tls.crt", "tls.key").unwrap_err();
        assert!(
            error
                .to_string()
                .contains(&dir.path().join("tls.crt").display().to_string()),
            "{error}"
        );
        std::fs::write(dir.path().join("tls.crt"), "not pem").unwrap();
        let error = server_config_from_files(dir.path(), "tls.crt", "tls.key").unwrap_err();
        assert!(
            error.to_string().contains("no PEM CERTIFICATE block"),
            "{error}"
        );
    }
}
