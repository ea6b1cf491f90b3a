//! The HTTPS server every replica runs for the kinds' webhooks.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use kube::Resource;
use kube::core::conversion::ConversionReview;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::admission::{Reply, handle_default, handle_validate};
use super::certs::SelfManagedCerts;
use super::conversion::{Conversion, ErasedConversion, convert_review};
use super::{Defaulter, Validator, mutate_path, validate_path};
use crate::tls;

/// Kubebuilder's webhook port.
pub const DEFAULT_PORT: u16 = 9443;
/// Where Kubebuilder's manager reads its serving certificate (the
/// `webhook-server-cert` Secret is mounted there).
pub const DEFAULT_CERT_DIR: &str = "/tmp/k8s-webhook-server/serving-certs";
/// The certificate's file name in the cert dir (a TLS Secret's key).
pub const DEFAULT_CERT_NAME: &str = "tls.crt";
/// The private key's file name in the cert dir (a TLS Secret's key).
pub const DEFAULT_KEY_NAME: &str = "tls.key";
/// Where conversion webhooks are served; CRDs' `conversion.webhook` names it.
pub const DEFAULT_CONVERSION_PATH: &str = "/convert";

/// How long requests in flight may take to finish on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// The largest AdmissionReview accepted (controller-runtime's limit: an
/// object is at most ~1.5 MiB in etcd, and a review may carry two).
const ADMISSION_BODY_LIMIT: usize = 7 * 1024 * 1024;
/// The largest ConversionReview accepted: a list is converted in one review.
const CONVERSION_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Why the webhook server could not be set up or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// Webhooks were registered wrongly (e.g. one path twice, a spoke of
    /// another kind).
    #[error("webhook registration: {0}")]
    Registration(String),
    /// A request that is not a review of the expected kind.
    #[error("bad webhook request: {0}")]
    BadRequest(String),
    /// The port could not be bound.
    #[error("cannot listen for webhooks on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The serving certificate could not be loaded.
    #[error("webhook serving certificate: {0}")]
    Certificate(String),
    /// HTTP/2 was asked for in a build without it.
    #[error(
        "HTTP/2 for webhooks needs kubeforge's `webhook-http2` feature; leave it off (the default) to serve HTTP/1.1"
    )]
    Http2NotBuilt,
}

/// Where and how the webhook server listens: Kubebuilder's defaults
/// (port 9443, certificates `tls.crt`/`tls.key` in
/// `/tmp/k8s-webhook-server/serving-certs`, HTTP/1.1 only).
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    host: IpAddr,
    port: u16,
    cert_dir: PathBuf,
    cert_name: String,
    key_name: String,
    cert_reload_interval: Duration,
    enable_http2: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: DEFAULT_PORT,
            cert_dir: PathBuf::from(DEFAULT_CERT_DIR),
            cert_name: DEFAULT_CERT_NAME.to_owned(),
            key_name: DEFAULT_KEY_NAME.to_owned(),
            cert_reload_interval: tls::DEFAULT_RELOAD_INTERVAL,
            enable_http2: false,
        }
    }
}

impl WebhookConfig {
    /// Kubebuilder's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The address to listen on (all interfaces by default).
    #[must_use]
    pub fn host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// The port (9443 by default; 0 picks a free one, see
    /// [`BoundWebhookServer::local_addr`]).
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The directory holding the certificate and key (Kubebuilder's
    /// `--webhook-cert-path`).
    #[must_use]
    pub fn cert_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cert_dir = dir.into();
        self
    }

    /// The certificate's file name in the cert dir (`--webhook-cert-name`).
    #[must_use]
    pub fn cert_name(mut self, name: impl Into<String>) -> Self {
        self.cert_name = name.into();
        self
    }

    /// The key's file name in the cert dir (`--webhook-cert-key`).
    #[must_use]
    pub fn key_name(mut self, name: impl Into<String>) -> Self {
        self.key_name = name.into();
        self
    }

    /// How often the certificate files are checked for a renewal (10s).
    #[must_use]
    pub fn cert_reload_interval(mut self, interval: Duration) -> Self {
        self.cert_reload_interval = interval;
        self
    }

    /// Also serve HTTP/2 to clients that negotiate it (Kubebuilder's
    /// `--enable-http2`). Off by default since the HTTP/2 rapid-reset
    /// attacks (CVE-2023-44487); needs the `webhook-http2` feature.
    #[must_use]
    pub fn enable_http2(mut self, enable: bool) -> Self {
        self.enable_http2 = enable;
        self
    }

    /// The certificate file's path.
    pub fn cert_path(&self) -> PathBuf {
        self.cert_dir.join(&self.cert_name)
    }

    /// The key file's path.
    pub fn key_path(&self) -> PathBuf {
        self.cert_dir.join(&self.key_name)
    }

    /// The address the server listens on.
    pub fn address(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }
}

type HandlerFuture = Pin<Box<dyn Future<Output = Reply> + Send>>;
type Handler = Arc<dyn Fn(Bytes) -> HandlerFuture + Send + Sync>;

/// The webhooks of an operator on one HTTPS server. Register each kind's
/// [`Defaulter`], [`Validator`] and [`Conversion`], then
/// [`serve`](WebhookServer::serve) until shutdown:
///
/// ```no_run
/// # use kubeforge::webhook::*;
/// # async fn run<K, D, V>(defaulter: D, validator: V, conversion: Conversion<K>) -> Result<(), WebhookError>
/// # where K: kube::Resource<DynamicType = ()> + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
/// #       D: Defaulter<K>, V: Validator<K> {
/// WebhookServer::new(WebhookConfig::new())
///     .defaulter::<K, _>(defaulter)
///     .validator::<K, _>(validator)
///     .conversion(conversion)
///     .serve(async { let _ = tokio::signal::ctrl_c().await; })
///     .await
/// # }
/// ```
///
/// Every replica serves webhooks, leader or not: the API server calls any
/// of them through the Service.
pub struct WebhookServer {
    config: WebhookConfig,
    /// Certificates made and kept by the server itself, instead of files.
    self_managed: Option<(SelfManagedCerts, kube::Client)>,
    routes: Vec<(String, &'static str, Handler)>,
    conversions: Vec<Arc<dyn ErasedConversion>>,
    conversion_path: String,
    errors: Vec<String>,
}

impl std::fmt::Debug for WebhookServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookServer")
            .field("config", &self.config)
            .field("paths", &self.paths())
            .finish()
    }
}

impl WebhookServer {
    /// A server with no webhooks yet.
    pub fn new(config: WebhookConfig) -> Self {
        WebhookServer {
            config,
            self_managed: None,
            routes: Vec::new(),
            conversions: Vec::new(),
            conversion_path: DEFAULT_CONVERSION_PATH.to_owned(),
            errors: Vec::new(),
        }
    }

    /// Serves `defaulter` for kind `K` at Kubebuilder's path,
    /// `/mutate-<group>-<version>-<kind>` ([`mutate_path`]).
    #[must_use]
    pub fn defaulter<K, D>(self, defaulter: D) -> Self
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Serialize + Send + Sync + 'static,
        D: Defaulter<K>,
    {
        self.defaulter_at::<K, D>(mutate_path::<K>(), defaulter)
    }

    /// Serves `defaulter` for kind `K` at `path`.
    #[must_use]
    pub fn defaulter_at<K, D>(self, path: impl Into<String>, defaulter: D) -> Self
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Serialize + Send + Sync + 'static,
        D: Defaulter<K>,
    {
        let defaulter = Arc::new(defaulter);
        let handler: Handler = Arc::new(move |body: Bytes| {
            let defaulter = defaulter.clone();
            Box::pin(async move { handle_default::<K, D>(&*defaulter, &body).await })
        });
        self.route(path.into(), "defaulting", handler)
    }

    /// Serves `validator` for kind `K` at Kubebuilder's path,
    /// `/validate-<group>-<version>-<kind>` ([`validate_path`]).
    #[must_use]
    pub fn validator<K, V>(self, validator: V) -> Self
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Send + Sync + 'static,
        V: Validator<K>,
    {
        self.validator_at::<K, V>(validate_path::<K>(), validator)
    }

    /// Serves `validator` for kind `K` at `path`.
    #[must_use]
    pub fn validator_at<K, V>(self, path: impl Into<String>, validator: V) -> Self
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Send + Sync + 'static,
        V: Validator<K>,
    {
        let validator = Arc::new(validator);
        let handler: Handler = Arc::new(move |body: Bytes| {
            let validator = validator.clone();
            Box::pin(async move { handle_validate::<K, V>(&*validator, &body).await })
        });
        self.route(path.into(), "validating", handler)
    }

    /// Serves `conversion` at the conversion path (`/convert`), which every
    /// kind's conversion shares: each object goes to its kind's.
    #[must_use]
    pub fn conversion<Hub>(mut self, conversion: Conversion<Hub>) -> Self
    where
        Hub: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        if let Err(error) = conversion.check() {
            self.errors.push(error.to_string());
        }
        let (group, kind) = (Hub::group(&()), Hub::kind(&()));
        if self
            .conversions
            .iter()
            .any(|c| c.group() == group && c.kind() == kind)
        {
            self.errors.push(format!(
                "a conversion for {group} {kind} is registered twice"
            ));
        }
        self.conversions.push(Arc::new(conversion));
        self
    }

    /// Serves certificates the server makes and renews itself, kept in a
    /// Secret every replica shares, with their CA written into the webhook
    /// configurations and CRDs `certs` names (see [`SelfManagedCerts`]),
    /// instead of the files in the cert dir. Until the first certificate is
    /// in, TLS handshakes fail (and a manager reports not ready).
    #[must_use]
    pub fn self_managed_certs(mut self, certs: SelfManagedCerts, client: kube::Client) -> Self {
        self.self_managed = Some((certs, client));
        self
    }

    /// Whether a defaulting webhook is registered (so the operator has a
    /// MutatingWebhookConfiguration).
    pub fn has_defaulters(&self) -> bool {
        self.routes.iter().any(|(_, what, _)| *what == "defaulting")
    }

    /// Whether a validating webhook is registered (so the operator has a
    /// ValidatingWebhookConfiguration).
    pub fn has_validators(&self) -> bool {
        self.routes.iter().any(|(_, what, _)| *what == "validating")
    }

    /// The CRDs whose conversions are registered, by name
    /// (`<plural>.<group>`): those whose conversion stanza names this server.
    pub fn conversion_crds(&self) -> Vec<String> {
        self.conversions.iter().map(|c| c.crd_name()).collect()
    }

    /// Serves conversions at `path` instead of `/convert`.
    #[must_use]
    pub fn conversion_path(mut self, path: impl Into<String>) -> Self {
        self.conversion_path = path.into();
        self
    }

    fn route(mut self, path: String, what: &'static str, handler: Handler) -> Self {
        if !path.starts_with('/') {
            self.errors.push(format!(
                "the {what} webhook path {path:?} must start with '/'"
            ));
        } else if let Some((_, other, _)) = self.routes.iter().find(|(p, _, _)| *p == path) {
            self.errors.push(format!(
                "{path} is registered twice (a {other} and a {what} webhook); give one another path"
            ));
        }
        self.routes.push((path, what, handler));
        self
    }

    /// The paths served, in registration order, conversion last.
    pub fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self.routes.iter().map(|(p, _, _)| p.clone()).collect();
        if !self.conversions.is_empty() {
            paths.push(self.conversion_path.clone());
        }
        paths
    }

    /// The webhooks as an axum [`Router`] (plain HTTP), for tests and for
    /// serving them some other way; [`serve`](WebhookServer::serve) uses
    /// the same router over HTTPS.
    pub fn router(&self) -> Result<Router, WebhookError> {
        let mut errors = self.errors.clone();
        if !self.conversions.is_empty()
            && self
                .routes
                .iter()
                .any(|(p, _, _)| *p == self.conversion_path)
        {
            errors.push(format!(
                "{} is both a conversion and an admission webhook path",
                self.conversion_path
            ));
        }
        if !errors.is_empty() {
            return Err(WebhookError::Registration(errors.join("; ")));
        }
        let mut router = Router::new();
        for (path, _, handler) in &self.routes {
            let handler = handler.clone();
            router = router.route(
                path,
                post(move |body: Bytes| async move { reply(handler(body).await) })
                    .layer(DefaultBodyLimit::max(ADMISSION_BODY_LIMIT)),
            );
        }
        if !self.conversions.is_empty() {
            let conversions = self.conversions.clone();
            router = router.route(
                &self.conversion_path,
                post(move |body: Bytes| async move { convert(&conversions, &body) })
                    .layer(DefaultBodyLimit::max(CONVERSION_BODY_LIMIT)),
            );
        }
        Ok(router)
    }

    /// Checks the registrations, binds the port and loads the certificate,
    /// so a caller knows the server is listening (and where) before it
    /// serves. The certificate files are watched from then on.
    pub async fn bind(self) -> Result<BoundWebhookServer, WebhookError> {
        if self.config.enable_http2 && !cfg!(feature = "webhook-http2") {
            return Err(WebhookError::Http2NotBuilt);
        }
        let router = self.router()?;
        let paths = self.paths();
        let config = &self.config;
        let (tls, self_managed) = match self.self_managed {
            None => {
                let tls = tls::server_config_from_files(
                    "webhook",
                    config.cert_path(),
                    config.key_path(),
                    config.cert_reload_interval,
                    config.enable_http2,
                )
                .map_err(|e| WebhookError::Certificate(certificate_hint(&e, &config.cert_dir)))?;
                (tls, None)
            }
            Some((certs, client)) => {
                let serving = Arc::new(tls::ServingCert::empty("webhook"));
                let tls = tls::server_config(serving.clone(), config.enable_http2)
                    .map_err(|e| WebhookError::Certificate(e.to_string()))?;
                (
                    tls,
                    Some(SelfManaged {
                        certs,
                        client,
                        serving,
                    }),
                )
            }
        };
        let address = config.address();
        let bind_error = |source| WebhookError::Bind { address, source };
        let listener = TcpListener::bind(address).await.map_err(bind_error)?;
        let local = listener.local_addr().map_err(bind_error)?;
        tracing::info!(address = %local, ?paths, "serving webhooks");
        Ok(BoundWebhookServer {
            listener,
            local,
            router,
            acceptor: TlsAcceptor::from(tls),
            self_managed,
        })
    }

    /// Serves the webhooks over HTTPS until `shutdown` completes, then lets
    /// requests in flight finish.
    pub async fn serve<F>(self, shutdown: F) -> Result<(), WebhookError>
    where
        F: Future<Output = ()> + Send,
    {
        self.bind().await?.serve(shutdown).await
    }
}

/// Points at the usual cause when the certificate is missing.
fn certificate_hint(error: &tls::TlsError, dir: &Path) -> String {
    if !dir.exists() {
        format!(
            "{error} ({} does not exist: mount the webhook-server-cert Secret there, or configure another cert dir)",
            dir.display()
        )
    } else {
        error.to_string()
    }
}

/// A [`WebhookServer`] listening on its port, not yet serving.
pub struct BoundWebhookServer {
    listener: TcpListener,
    local: SocketAddr,
    router: Router,
    /// Its configuration holds the certificate watcher, and so keeps the
    /// reload task alive while the server is.
    acceptor: TlsAcceptor,
    /// Set with self-managed certificates: their loop runs while serving.
    self_managed: Option<SelfManaged>,
}

/// Self-managed certificates and the slot they fill.
struct SelfManaged {
    certs: SelfManagedCerts,
    client: kube::Client,
    serving: Arc<tls::ServingCert>,
}

impl std::fmt::Debug for BoundWebhookServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundWebhookServer")
            .field("local", &self.local)
            .finish()
    }
}

impl BoundWebhookServer {
    /// The address the server listens on (with the port picked, if 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Whether the server has a certificate to present: always with
    /// certificate files (they were loaded by `bind`), and with
    /// self-managed certificates once the first is read from the Secret.
    /// What a manager's readiness waits for.
    pub(crate) fn certificate_ready(&self) -> impl Fn() -> bool + Send + Sync + 'static {
        let serving = self.self_managed.as_ref().map(|s| s.serving.clone());
        move || serving.as_ref().is_none_or(|s| s.is_loaded())
    }

    /// Serves until `shutdown` completes; requests in flight then get up to
    /// 10 seconds to finish.
    pub async fn serve<F>(self, shutdown: F) -> Result<(), WebhookError>
    where
        F: Future<Output = ()> + Send,
    {
        let BoundWebhookServer {
            listener,
            router,
            acceptor,
            self_managed,
            ..
        } = self;
        // Every replica keeps its certificate (and the caBundles) current
        // for as long as it serves.
        let (certs_stop, certs_stopped) = tokio::sync::oneshot::channel::<()>();
        let certs_task = self_managed.map(
            |SelfManaged {
                 certs,
                 client,
                 serving,
             }| {
                tokio::spawn(certs.run(client, serving, async {
                    let _ = certs_stopped.await;
                }))
            },
        );
        let graceful = GracefulShutdown::new();
        let mut http1 = hyper::server::conn::http1::Builder::new();
        // With a timer, hyper drops clients that send headers too slowly.
        http1.timer(TokioTimer::new());
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (tcp, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tls::accept_failed("webhook", error).await;
                        continue;
                    }
                },
            };
            let (acceptor, router, http1) = (acceptor.clone(), router.clone(), http1.clone());
            let watcher = graceful.watcher();
            // The handshake runs in the connection's own task, so one slow
            // client never holds up the others.
            tokio::spawn(async move {
                let Some(tls) = tls::handshake("webhook", &acceptor, tcp, peer).await else {
                    return;
                };
                let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
                let service = TowerToHyperService::new(router);
                let io = TokioIo::new(tls);
                let result = if h2 {
                    serve_http2(watcher, io, service).await
                } else {
                    watcher.watch(http1.serve_connection(io, service)).await
                };
                if let Err(error) = result {
                    tracing::debug!(%error, %peer, "webhook server: connection ended with an error");
                }
            });
        }
        drop(listener);
        // Stopped mid-request if need be: a round left half done is redone
        // by whichever replica runs next.
        let _ = certs_stop.send(());
        if let Some(task) = certs_task {
            task.abort();
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                "webhook server: requests still in flight after the shutdown grace period"
            );
        }
        Ok(())
    }
}

type Io = TokioIo<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>;
type Service = TowerToHyperService<Router>;

/// HTTP/2 for a client that negotiated it; only offered (ALPN) when enabled.
#[cfg(feature = "webhook-http2")]
async fn serve_http2(
    watcher: hyper_util::server::graceful::Watcher,
    io: Io,
    service: Service,
) -> Result<(), hyper::Error> {
    let builder = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
    watcher.watch(builder.serve_connection(io, service)).await
}

/// Without the feature, "h2" is never offered, so no client negotiates it.
#[cfg(not(feature = "webhook-http2"))]
async fn serve_http2(
    _watcher: hyper_util::server::graceful::Watcher,
    _io: Io,
    _service: Service,
) -> Result<(), hyper::Error> {
    Ok(())
}

fn reply(reply: Reply) -> Response {
    match reply {
        Reply::Review(review) => json(&review),
        Reply::BadRequest(message) => {
            tracing::warn!(%message, "webhook: bad request");
            (StatusCode::BAD_REQUEST, message).into_response()
        }
    }
}

fn json(value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn convert(conversions: &[Arc<dyn ErasedConversion>], body: &[u8]) -> Response {
    let review: ConversionReview = match serde_json::from_slice(body) {
        Ok(review) => review,
        Err(e) => {
            return reply(Reply::BadRequest(format!(
                "the request body is not a ConversionReview: {e}"
            )));
        }
    };
    let conversions: Vec<&dyn ErasedConversion> = conversions.iter().map(|c| &**c).collect();
    match convert_review(&conversions, review) {
        Ok(review) => json(&review),
        Err(error) => reply(Reply::BadRequest(error.to_string())),
    }
}
