//! HTTPS for the servers kubeforge runs (the manager's `/metrics` and the
//! webhook server), in one place so both load, check and renew their
//! certificate the same way:
//!
//! - [`ServingCert`]: the certificate a server presents, replaceable while
//!   it serves, from PEM bytes checked the same way whatever their source
//!   (the self-managed webhook certificates in `webhook::certs` set it from
//!   a Secret);
//! - [`CertWatcher`]: the certificate and key from files, checked when
//!   loaded and read again when they change (controller-runtime's
//!   certwatcher), because cert-manager renews a mounted Secret in place;
//! - [`server_config_from_files`] and [`self_signed_server_config`]: the
//!   rustls configuration, HTTP/1.1 only unless HTTP/2 is allowed;
//! - [`handshake`] and [`TlsListener`]: TLS handshakes with a deadline, off
//!   the accept loop, so one slow client never holds up the others.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WantsServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How often certificate files are checked for a renewal unless configured
/// otherwise (controller-runtime's certwatcher polls every 10 seconds too).
pub(crate) const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(10);

/// A client that has not finished its handshake by then is dropped, so a
/// stalled client cannot pile up connections.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait after a failed accept (usually: out of file
/// descriptors) instead of spinning on the error.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Why a server's TLS configuration could not be built.
///
/// Reported at start-up (the metrics server's inside
/// [`ManagerError::MetricsTls`](crate::manager::ManagerError::MetricsTls),
/// the webhook server's as
/// [`WebhookError::Certificate`](crate::webhook::WebhookError::Certificate))
/// so a bad certificate mount fails the pod at once instead of every request.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate or key file could not be read or parsed.
    #[error("cannot read the {what} {}: {message}", path.display())]
    File {
        /// "certificate" or "private key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A certificate or key held in memory (e.g. read from a Secret) could
    /// not be parsed.
    #[error("cannot use the {what} from {origin}: {message}")]
    Pem {
        /// "certificate" or "private key".
        what: &'static str,
        /// Where it came from, e.g. "Secret ns/name".
        origin: String,
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

/// A certificate and key as last loaded, and the certificate made from them.
#[derive(Debug)]
struct Loaded {
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    certified: Arc<CertifiedKey>,
}

/// Where a certificate and key came from, to name it in errors.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Origin<'a> {
    /// A pair of files (a mounted Secret).
    Files {
        /// The certificate file.
        cert: &'a Path,
        /// The key file.
        key: &'a Path,
    },
    /// Bytes read from somewhere else, e.g. "Secret ns/name".
    Named(&'a str),
}

impl Origin<'_> {
    fn error(self, what: &'static str, message: String) -> TlsError {
        match self {
            Origin::Files { cert, key } => {
                let path = if what == "certificate" { cert } else { key };
                file_error(what, path, message)
            }
            Origin::Named(origin) => TlsError::Pem {
                what,
                origin: origin.to_owned(),
                message,
            },
        }
    }
}

/// The certificate a server presents, replaceable while it serves: one
/// holder for every source (files, a Secret read through the API), so
/// parsing, checking and swapping are the same for all of them. Until a
/// first pair is set it has none, and handshakes fail.
#[derive(Debug)]
pub(crate) struct ServingCert {
    /// The server it belongs to ("metrics", "webhook"), for the logs.
    component: &'static str,
    current: RwLock<Option<Loaded>>,
}

impl ServingCert {
    /// No certificate yet (see [`ServingCert::update`]).
    pub(crate) fn empty(component: &'static str) -> Self {
        ServingCert {
            component,
            current: RwLock::new(None),
        }
    }

    /// The server this certificate is for.
    pub(crate) fn component(&self) -> &'static str {
        self.component
    }

    /// Whether a certificate has been set: what readiness waits for.
    pub(crate) fn is_loaded(&self) -> bool {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Serves `cert_pem`/`key_pem` from now on; `Ok(true)` if they differ
    /// from what was served. A pair that does not parse, or whose key does
    /// not match the certificate, is refused and the previous one kept.
    pub(crate) fn update(
        &self,
        cert_pem: Vec<u8>,
        key_pem: Vec<u8>,
        origin: Origin<'_>,
    ) -> Result<bool, TlsError> {
        {
            let current = self.current.read().unwrap_or_else(|e| e.into_inner());
            if let Some(current) = &*current
                && current.cert_pem == cert_pem
                && current.key_pem == key_pem
            {
                return Ok(false);
            }
        }
        let loaded = parse(cert_pem, key_pem, origin)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(loaded);
        Ok(true)
    }
}

impl ResolvesServerCert for ServingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        current.as_ref().map(|loaded| loaded.certified.clone())
    }
}

/// The current certificate from a pair of files, served to every handshake.
#[derive(Debug)]
pub(crate) struct CertWatcher {
    cert: PathBuf,
    key: PathBuf,
    serving: Arc<ServingCert>,
}

impl CertWatcher {
    /// Reads and checks the pair: a key that does not match the
    /// certificate is refused, and an unreadable file is named.
    pub(crate) fn load(
        component: &'static str,
        cert: PathBuf,
        key: PathBuf,
    ) -> Result<Self, TlsError> {
        let watcher = CertWatcher {
            cert,
            key,
            serving: Arc::new(ServingCert::empty(component)),
        };
        watcher.refresh()?;
        Ok(watcher)
    }

    /// Reads the files again; `Ok(true)` if they changed and the new pair is
    /// now served. Contents are compared rather than modification times:
    /// a Secret volume update swaps a symlink (the files' own timestamps can
    /// stay put), and a rewrite within one timestamp tick must not be
    /// missed. A pair that does not load (e.g. the certificate written, the
    /// key not yet) keeps the previous one.
    pub(crate) fn refresh(&self) -> Result<bool, TlsError> {
        let cert_pem = read_file(&self.cert, "certificate")?;
        let key_pem = read_file(&self.key, "private key")?;
        let origin = Origin::Files {
            cert: &self.cert,
            key: &self.key,
        };
        self.serving.update(cert_pem, key_pem, origin)
    }

    /// Checks the files every `interval` from a background task, which ends
    /// once the watcher (and so the server configuration holding it) is
    /// dropped. Call from within a Tokio runtime.
    pub(crate) fn watch(self: &Arc<Self>, interval: Duration) {
        let watched: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(watcher) = watched.upgrade() else {
                    return;
                };
                watcher.check();
            }
        });
    }

    /// One [`refresh`](Self::refresh), logged under the component's name.
    fn check(&self) {
        let component = self.serving.component();
        match self.refresh() {
            Ok(true) => tracing::info!(
                component,
                cert = %self.cert.display(),
                "reloaded the {component} serving certificate"
            ),
            Ok(false) => {}
            Err(error) => tracing::warn!(
                component,
                %error,
                "keeping the previous {component} serving certificate"
            ),
        }
    }
}

impl ResolvesServerCert for CertWatcher {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.serving.resolve(hello)
    }
}

fn read_file(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| file_error(what, path, e.to_string()))
}

fn file_error(what: &'static str, path: &Path, message: String) -> TlsError {
    TlsError::File {
        what,
        path: path.to_path_buf(),
        message,
    }
}

/// Checks a PEM certificate chain and private key: both parse, and the key
/// is the certificate's.
fn parse(cert_pem: Vec<u8>, key_pem: Vec<u8>, origin: Origin<'_>) -> Result<Loaded, TlsError> {
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| origin.error("certificate", e.to_string()))?;
    if chain.is_empty() {
        return Err(origin.error("certificate", "no PEM CERTIFICATE block".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| origin.error("private key", e.to_string()))?;
    let provider = rustls::crypto::ring::default_provider();
    let certified = CertifiedKey::from_der(chain, key, &provider)?;
    Ok(Loaded {
        cert_pem,
        key_pem,
        certified: Arc::new(certified),
    })
}

/// A server configuration serving the certificate chain in `cert` with the
/// key in `key` (for a Kubernetes TLS Secret, `tls.crt` and `tls.key`),
/// checked every `reload_interval` for a renewal; `component` names the
/// server in the logs. Call from within a Tokio runtime.
pub(crate) fn server_config_from_files(
    component: &'static str,
    cert: PathBuf,
    key: PathBuf,
    reload_interval: Duration,
    http2: bool,
) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = Arc::new(CertWatcher::load(component, cert, key)?);
    let config = server_config(certs.clone(), http2)?;
    certs.watch(reload_interval);
    Ok(config)
}

/// TLS 1.2 or newer, certificates from `certs`, ALPN as [`with_alpn`].
pub(crate) fn server_config(
    certs: Arc<dyn ResolvesServerCert>,
    http2: bool,
) -> Result<Arc<ServerConfig>, TlsError> {
    Ok(with_alpn(builder()?.with_cert_resolver(certs), http2))
}

/// A fresh self-signed certificate for `localhost`, `127.0.0.1` and `::1`,
/// HTTP/1.1 only: what the metrics server uses without a mounted one, as
/// controller-runtime does. Scrapers in a cluster reach the pod by IP and
/// skip verification of such a certificate (the scaffolded ServiceMonitor
/// says so); mount a real one with --metrics-cert-path to verify it.
pub(crate) fn self_signed_server_config()
-> Result<(Arc<ServerConfig>, CertificateDer<'static>), TlsError> {
    let names = ["localhost", "127.0.0.1", "::1"].map(str::to_owned);
    let rcgen::CertifiedKey { cert, signing_key } = rcgen::generate_simple_self_signed(names)?;
    let der = cert.der().clone();
    let config =
        builder()?.with_single_cert(vec![der.clone()], PrivateKeyDer::from(signing_key))?;
    Ok((with_alpn(config, false), der))
}

/// The protocol settings every server shares, before its certificate.
fn builder() -> Result<rustls::ConfigBuilder<ServerConfig, WantsServerCert>, TlsError> {
    Ok(
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth(),
    )
}

/// ALPN offers only HTTP/1.1 unless `http2` (Kubebuilder's
/// --enable-http2=false default, because of the HTTP/2 rapid-reset attacks,
/// CVE-2023-44487).
fn with_alpn(mut config: ServerConfig, http2: bool) -> Arc<ServerConfig> {
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Arc::new(config)
}

/// The TLS handshake on an accepted connection, given
/// [`HANDSHAKE_TIMEOUT`] to finish; `None` (logged at debug level, under
/// `component`'s name) if it fails or stalls.
pub(crate) async fn handshake(
    component: &'static str,
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Option<TlsStream<TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(error)) => {
            tracing::debug!(%error, %peer, "{component} server: TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "{component} server: TLS handshake timed out");
            None
        }
    }
}

/// Logs a failed accept and waits a little before the next one, so an
/// exhausted file-descriptor table does not make the accept loop spin.
pub(crate) async fn accept_failed(component: &'static str, error: std::io::Error) {
    tracing::warn!(%error, "{component} server: accept failed");
    tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
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
    /// Serves `config` on `listener` (bound to `local`); `component` names
    /// the server in the logs.
    pub(crate) fn new(
        component: &'static str,
        listener: TcpListener,
        local: SocketAddr,
        config: Arc<ServerConfig>,
    ) -> Self {
        let (sender, ready) = mpsc::channel(16);
        let acceptor = TlsAcceptor::from(config);
        let acceptor_task = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        accept_failed(component, error).await;
                        continue;
                    }
                };
                if sender.is_closed() {
                    return;
                }
                let (acceptor, sender) = (acceptor.clone(), sender.clone());
                tokio::spawn(async move {
                    if let Some(tls) = handshake(component, &acceptor, tcp, peer).await {
                        let _ = sender.send((tls, peer)).await;
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
        let listener = TlsListener::new("test", listener, addr, config);
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        (addr, stop, server)
    }

    /// A client that trusts exactly `roots` and offers `alpn`.
    fn connector(roots: &[CertificateDer<'static>], alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
        let mut store = rustls::RootCertStore::empty();
        for root in roots {
            store.add(root.clone()).unwrap();
        }
        let mut client = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
        client.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
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
        let mut tls = connector(&[certificate], &[])
            .connect(name, tcp)
            .await
            .unwrap();
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
    /// in `dir`, both files stamped `age_secs` after the epoch (so a test can
    /// make two writes look alike to a timestamp check).
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

    fn load(dir: &Path) -> Result<CertWatcher, TlsError> {
        CertWatcher::load("test", dir.join("tls.crt"), dir.join("tls.key"))
    }

    /// The certificate a server at `addr` presents, trusting `roots`, and
    /// the protocol negotiated when offering `alpn`.
    async fn served(
        addr: SocketAddr,
        roots: &[CertificateDer<'static>],
        alpn: &[&[u8]],
    ) -> (CertificateDer<'static>, Option<Vec<u8>>) {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
        let tls = connector(roots, alpn).connect(name, tcp).await.unwrap();
        let connection = tls.get_ref().1;
        (
            connection.peer_certificates().unwrap()[0].clone(),
            connection.alpn_protocol().map(<[u8]>::to_vec),
        )
    }

    #[tokio::test]
    async fn renewed_certificate_files_are_served_without_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let first = write_pair(dir.path(), 1_000);
        let files = Arc::new(load(dir.path()).unwrap());
        let config = server_config(files.clone(), false).unwrap();
        let (addr, stop, server) = serve_hello(config).await;

        assert!(!files.refresh().unwrap(), "nothing changed yet");
        let second = write_pair(dir.path(), 2_000);
        let both = [first.clone(), second.clone()];
        assert_eq!(served(addr, &both, &[]).await.0, first);
        assert!(files.refresh().unwrap());
        assert_eq!(served(addr, &both, &[]).await.0, second);

        // A broken renewal keeps the last good certificate.
        std::fs::write(dir.path().join("tls.crt"), "garbage").unwrap();
        assert!(files.refresh().is_err());
        assert_eq!(served(addr, &both, &[]).await.0, second);

        stop.send(()).unwrap();
        server.await.unwrap();
    }

    #[test]
    fn a_renewal_with_the_same_timestamps_is_still_noticed() {
        let dir = tempfile::tempdir().unwrap();
        write_pair(dir.path(), 1_000);
        let files = load(dir.path()).unwrap();
        write_pair(dir.path(), 1_000);
        assert!(files.refresh().unwrap(), "new contents, same timestamps");
        assert!(!files.refresh().unwrap(), "and then nothing changed");
    }

    #[tokio::test]
    async fn the_watcher_reloads_in_the_background_and_warns_under_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let first = write_pair(dir.path(), 1_000);
        let logs = Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = {
            let logs = logs.clone();
            move || LogBuffer(logs.clone())
        };
        let subscriber = tracing_subscriber::fmt()
            .with_writer(writer)
            .with_ansi(false)
            .finish();
        // A current-thread runtime: the watch task logs on this thread.
        let _logging = tracing::subscriber::set_default(subscriber);

        let config = server_config_from_files(
            "webhook",
            dir.path().join("tls.crt"),
            dir.path().join("tls.key"),
            Duration::from_millis(20),
            false,
        )
        .unwrap();
        let (addr, stop, server) = serve_hello(config).await;
        let second = write_pair(dir.path(), 1_000);
        let both = [first.clone(), second.clone()];
        // Whether one line of the logs holds all of `texts`.
        let logged = |texts: &[&str]| {
            String::from_utf8_lossy(&logs.lock().unwrap())
                .lines()
                .any(|line| texts.iter().all(|text| line.contains(text)))
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while served(addr, &both, &[]).await.0 != second {
            assert!(tokio::time::Instant::now() < deadline, "never reloaded");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(logged(&["reloaded the webhook serving certificate"]));

        // A key that does not parse: the warning names the component and the file.
        std::fs::write(dir.path().join("tls.key"), "garbage").unwrap();
        let key = format!(
            "cannot read the private key {}",
            dir.path().join("tls.key").display()
        );
        while !logged(&["keeping the previous webhook serving certificate", &key]) {
            assert!(tokio::time::Instant::now() < deadline, "never warned");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(served(addr, &both, &[]).await.0, second);

        stop.send(()).unwrap();
        server.await.unwrap();
    }

    /// Collects what a test's tracing subscriber writes.
    struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for LogBuffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn http2_is_offered_only_when_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let cert = write_pair(dir.path(), 1_000);
        for (http2, expected) in [(false, &b"http/1.1"[..]), (true, &b"h2"[..])] {
            let config = server_config(Arc::new(load(dir.path()).unwrap()), http2).unwrap();
            let (addr, stop, server) = serve_hello(config).await;
            let (_, alpn) = served(addr, std::slice::from_ref(&cert), &[b"h2", b"http/1.1"]).await;
            assert_eq!(alpn.as_deref(), Some(expected), "http2: {http2}");
            stop.send(()).unwrap();
            server.await.unwrap();
        }
    }

    #[test]
    fn a_key_that_does_not_match_is_refused() {
        let (one, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write_pair(one.path(), 1_000);
        write_pair(other.path(), 1_000);
        std::fs::copy(other.path().join("tls.key"), one.path().join("tls.key")).unwrap();
        let error = load(one.path()).unwrap_err();
        assert!(matches!(error, TlsError::Config(_)), "{error}");
    }

    #[test]
    fn unreadable_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
        let message = || load(dir.path()).unwrap_err().to_string();
        let names = |message: &str, what: &str, path: &Path| {
            message.starts_with(&format!("cannot read the {what} {}: ", path.display()))
        };
        let error = message();
        assert!(names(&error, "certificate", &cert), "{error}");

        // Both files are read before either is parsed (a reload compares the
        // pair's contents), so a missing key is reported first.
        std::fs::write(&cert, "not pem").unwrap();
        let error = message();
        assert!(names(&error, "private key", &key), "{error}");

        write_pair(dir.path(), 1_000);
        std::fs::write(&cert, "not pem").unwrap();
        let error = message();
        assert!(names(&error, "certificate", &cert), "{error}");
        assert!(error.ends_with("no PEM CERTIFICATE block"), "{error}");

        write_pair(dir.path(), 1_000);
        std::fs::write(&key, "not pem").unwrap();
        let error = message();
        assert!(names(&error, "private key", &key), "{error}");
    }
}
