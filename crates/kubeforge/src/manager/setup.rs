//! [`Manager`] before it runs: building it from the flags, adding
//! controllers and custom metrics, and binding its listeners.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use kube::Client;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tracing::info;

use super::client::load_config;
use super::controllers::BoxedController;
use super::leader_election::pod_namespace;
use super::logging::init_tracing;
use super::metrics::ManagerMetrics;
use super::{Context, ManagerArgs, ManagerError, WebhookCertMode, http};
use crate::tls;
use crate::webhook::{
    BoundWebhookServer, SelfManagedCerts, WebhookConfig, WebhookError, WebhookServer,
};

/// A registration of webhooks with the server the manager builds.
type WebhookRegistration = Box<dyn FnOnce(WebhookServer) -> WebhookServer + Send>;

/// Runs controllers with metrics, probes, leader election and graceful
/// shutdown. See the [module docs](super).
///
/// Everything that can fail on bad flags (log filter, kubeconfig, listeners,
/// certificates, lease timing) fails before any controller starts, so a
/// misconfigured pod crashes at once instead of half-running.
pub struct Manager {
    pub(super) args: ManagerArgs,
    pub(super) id: String,
    pub(super) client: Client,
    pub(super) registry: Registry,
    pub(super) metrics: ManagerMetrics,
    pub(super) controllers: Vec<(String, BoxedController)>,
    /// The first name given to [`Manager::add_controller`] twice; reported
    /// by `run` so `add_controller` can stay chainable and infallible.
    pub(super) duplicate: Option<String>,
    bound: bool,
    pub(super) metrics_listener: Option<(TcpListener, SocketAddr)>,
    /// Set when /metrics is served over HTTPS (--metrics-secure).
    pub(super) metrics_tls: Option<Arc<rustls::ServerConfig>>,
    pub(super) probe_listener: Option<(TcpListener, SocketAddr)>,
    /// What `add_webhooks` registered, applied when the server is built.
    webhooks: Vec<WebhookRegistration>,
    /// The webhook server, once bound (when webhooks are registered and enabled).
    pub(super) webhook_server: Option<BoundWebhookServer>,
    /// What kustomize's `namePrefix` puts before the webhook Service and
    /// configurations' names, for self-managed certificates.
    webhook_name_prefix: String,
    /// Self-managed certificates set up by the caller instead of from flags.
    webhook_certs: Option<SelfManagedCerts>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("id", &self.id)
            .field("args", &self.args)
            .field(
                "controllers",
                &self.controllers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Manager {
    /// Installs logging, builds the Kubernetes client from `args` and sets up
    /// the metrics registry.
    ///
    /// `id` names the leader-election Lease (Kubebuilder uses
    /// `<hash>.<domain>`; any DNS subdomain unique to the operator works).
    pub async fn new(args: ManagerArgs, id: impl Into<String>) -> Result<Self, ManagerError> {
        init_tracing(&args)?;
        let config = load_config(args.kubeconfig.as_deref()).await?;
        Self::with_config(args, id, config)
    }

    /// Like [`Manager::new`] but with a ready-made client configuration
    /// (tests, or configurations built in code); `args.kubeconfig` is
    /// ignored. The client gets the same rate limit and request metrics as
    /// [`Manager::new`]'s.
    pub fn with_config(
        args: ManagerArgs,
        id: impl Into<String>,
        config: kube::Config,
    ) -> Result<Self, ManagerError> {
        init_tracing(&args)?;
        let mut registry = Registry::default();
        let metrics = ManagerMetrics::register(&mut registry);
        let client = args
            .limits
            .counted_client(config, Some(metrics.requests.clone()))?;
        Ok(Self::from_parts(args, id, client, registry, metrics))
    }

    /// Like [`Manager::new`] but with a ready-made client (tests, or clients
    /// with custom middleware); `args.kubeconfig` is ignored, and the
    /// client's requests are not counted in `rest_client_requests_total`
    /// (the counting is middleware of the client [`Manager::new`] builds).
    pub fn with_client(
        args: ManagerArgs,
        id: impl Into<String>,
        client: Client,
    ) -> Result<Self, ManagerError> {
        init_tracing(&args)?;
        let mut registry = Registry::default();
        let metrics = ManagerMetrics::register(&mut registry);
        Ok(Self::from_parts(args, id, client, registry, metrics))
    }

    fn from_parts(
        args: ManagerArgs,
        id: impl Into<String>,
        client: Client,
        registry: Registry,
        metrics: ManagerMetrics,
    ) -> Self {
        Manager {
            args,
            id: id.into(),
            client,
            registry,
            metrics,
            controllers: Vec::new(),
            duplicate: None,
            bound: false,
            metrics_listener: None,
            metrics_tls: None,
            probe_listener: None,
            webhooks: Vec::new(),
            webhook_server: None,
            webhook_name_prefix: String::new(),
            webhook_certs: None,
        }
    }

    /// The leader-election id (Lease name), as given to [`Manager::new`];
    /// useful in logs and for tests that inspect the Lease.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The parsed flags, so `main` can read the ones it shares with the
    /// manager (e.g. `--kubeconfig`) without keeping a copy.
    pub fn args(&self) -> &ManagerArgs {
        &self.args
    }

    /// The shared Kubernetes client, e.g. for setup work before `run`.
    /// Clones share one connection pool, so there is no reason to build
    /// another client.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The registry served at `/metrics`, to register the operator's own
    /// metrics before [`Manager::run`].
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Adds a controller. `run` is called with the controller's [`Context`]
    /// once the manager starts (after winning leader election, if enabled)
    /// and should return when [`Context::shutdown_signal`] fires.
    ///
    /// Returning `Err` makes the whole manager shut down and fail, so the pod
    /// restarts; returning `Ok` early just ends that controller.
    pub fn add_controller<F, Fut>(&mut self, name: impl Into<String>, run: F) -> &mut Self
    where
        F: FnOnce(Context) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let name = name.into();
        if self.duplicate.is_none() && self.controllers.iter().any(|(n, _)| *n == name) {
            self.duplicate = Some(name.clone());
        }
        let boxed: BoxedController = Box::new(move |ctx| Box::pin(run(ctx)));
        self.controllers.push((name, boxed));
        self
    }

    /// Adds webhooks: `register` is handed the manager's webhook server and
    /// returns it with its defaulters, validators or conversions added
    /// (`create webhook` scaffolds one such function per webhook).
    ///
    /// The server listens on `--webhook-port` with the certificate in
    /// `--webhook-cert-path`, on every replica (the API server calls any of
    /// them through the Service), from before leader election until the
    /// controllers have stopped. `--enable-webhooks=false` (ENABLE_WEBHOOKS)
    /// leaves it off.
    pub fn add_webhooks<F>(&mut self, register: F) -> &mut Self
    where
        F: FnOnce(WebhookServer) -> WebhookServer + Send + 'static,
    {
        self.webhooks.push(Box::new(register));
        self
    }

    /// The prefix kustomize's `namePrefix` gives the webhook Service and
    /// configurations (the scaffold's main.rs passes `"<project>-"`). With
    /// `--webhook-cert-mode=self-managed` the certificate names the Service
    /// `<prefix>webhook-service` (unless --webhook-service-name), and the CA
    /// goes into `<prefix>mutating-webhook-configuration` (with defaulting
    /// webhooks), `<prefix>validating-webhook-configuration` (with validating
    /// ones) and the CRD of every registered conversion: the names `kubeforge
    /// manifests` writes. Unused with mounted certificates.
    pub fn webhook_name_prefix(&mut self, prefix: impl Into<String>) -> &mut Self {
        self.webhook_name_prefix = prefix.into();
        self
    }

    /// Uses `certs` for `--webhook-cert-mode=self-managed` instead of what
    /// the flags and [`Manager::webhook_name_prefix`] derive (other names,
    /// validity, a test's IP address).
    pub fn self_managed_webhook_certs(&mut self, certs: SelfManagedCerts) -> &mut Self {
        self.webhook_certs = Some(certs);
        self
    }

    /// The address webhooks are served on, once bound (`None` without
    /// webhooks, or with `--enable-webhooks=false`).
    pub fn webhook_addr(&self) -> Option<SocketAddr> {
        self.webhook_server
            .as_ref()
            .map(BoundWebhookServer::local_addr)
    }

    /// Binds the metrics, probe and webhook listeners now instead of in
    /// `run`, so the caller can learn the real addresses (e.g. with port 0
    /// in tests). Calling it again does nothing.
    pub async fn bind(&mut self) -> Result<(), ManagerError> {
        if self.bound {
            return Ok(());
        }
        self.metrics_listener = http::bind("metrics", &self.args.metrics_bind_address).await?;
        if self.metrics_listener.is_some() && self.args.metrics_secure {
            self.metrics_tls = Some(self.metrics_tls_config()?);
        }
        self.probe_listener =
            http::bind("health probe", &self.args.health_probe_bind_address).await?;
        self.webhook_server = self.bind_webhooks().await?;
        self.bound = true;
        Ok(())
    }

    /// The webhook server with every registration, bound, when there are
    /// webhooks and they are enabled.
    async fn bind_webhooks(&mut self) -> Result<Option<BoundWebhookServer>, ManagerError> {
        let registrations = std::mem::take(&mut self.webhooks);
        if registrations.is_empty() {
            return Ok(None);
        }
        if !self.args.enable_webhooks {
            info!("webhooks disabled (--enable-webhooks=false / ENABLE_WEBHOOKS=false)");
            return Ok(None);
        }
        let config = WebhookConfig::new()
            .port(self.args.webhook_port)
            .cert_dir(&self.args.webhook_cert_path)
            .cert_name(&self.args.webhook_cert_name)
            .key_name(&self.args.webhook_cert_key)
            .enable_http2(self.args.enable_http2);
        let mut server = registrations
            .into_iter()
            .fold(WebhookServer::new(config), |server, register| {
                register(server)
            });
        if self.args.webhook_cert_mode == WebhookCertMode::SelfManaged {
            let certs = match self.webhook_certs.take() {
                Some(certs) => certs,
                None => self.self_managed_certs_from_flags(&server)?,
            };
            info!(
                secret = %format!("{}/{}", certs.namespace(), certs.secret_name()),
                targets = ?certs.targets(),
                "webhook certificates are self-managed"
            );
            server = server.self_managed_certs(certs, self.client.clone());
        }
        server.bind().await.map(Some).map_err(ManagerError::Webhook)
    }

    /// Self-managed certificates for the pod's namespace, the Secret
    /// --webhook-cert-secret, the Service, and the configurations and CRDs
    /// of the webhooks `server` has.
    fn self_managed_certs_from_flags(
        &self,
        server: &WebhookServer,
    ) -> Result<SelfManagedCerts, ManagerError> {
        let namespace = pod_namespace().ok_or_else(|| {
            ManagerError::Webhook(WebhookError::Certificate(
                "--webhook-cert-mode=self-managed needs the pod's namespace: set POD_NAMESPACE (the scaffold's Deployment does)".into(),
            ))
        })?;
        let prefix = &self.webhook_name_prefix;
        let service = self
            .args
            .webhook_service_name
            .clone()
            .unwrap_or_else(|| format!("{prefix}webhook-service"));
        let mut certs = SelfManagedCerts::new(&namespace, &self.args.webhook_cert_secret)
            .service(&service, &namespace);
        if server.has_defaulters() {
            certs = certs.mutating_configuration(format!("{prefix}mutating-webhook-configuration"));
        }
        if server.has_validators() {
            certs =
                certs.validating_configuration(format!("{prefix}validating-webhook-configuration"));
        }
        for crd in server.conversion_crds() {
            certs = certs.conversion_crd(crd);
        }
        Ok(certs)
    }

    /// The certificate from --metrics-cert-path, else a self-signed one.
    fn metrics_tls_config(&self) -> Result<Arc<rustls::ServerConfig>, ManagerError> {
        match &self.args.metrics_cert_path {
            Some(dir) => tls::server_config_from_files(
                "metrics",
                dir.join(&self.args.metrics_cert_name),
                dir.join(&self.args.metrics_cert_key),
                tls::DEFAULT_RELOAD_INTERVAL,
                // HTTP/1.1 only, whatever --enable-http2 says: a scrape is
                // one small request, and HTTP/2 brings rapid-reset attacks.
                false,
            ),
            None => {
                info!("no --metrics-cert-path: serving metrics with a self-signed certificate");
                tls::self_signed_server_config().map(|(config, _)| config)
            }
        }
        .map_err(ManagerError::MetricsTls)
    }

    /// The address `/metrics` is served on, once bound (`None` if disabled).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().map(|(_, addr)| *addr)
    }

    /// The address `/healthz` and `/readyz` are served on, once bound.
    pub fn health_probe_addr(&self) -> Option<SocketAddr> {
        self.probe_listener.as_ref().map(|(_, addr)| *addr)
    }
}
