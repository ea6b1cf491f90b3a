//! The manager: what a generated operator's `main` hands its controllers to.
//!
//! It plays the role of controller-runtime's `manager.Manager` for kube-rs
//! controllers: one shared [`kube::Client`], a Prometheus registry served at
//! `/metrics`, `/healthz` and `/readyz` probes, optional leader election via a
//! `coordination.k8s.io` Lease, and graceful shutdown on SIGTERM/SIGINT. The
//! controllers themselves stay plain `kube::runtime::Controller`s; each gets a
//! [`Context`] with the client, its metrics and a shutdown signal.
//!
//! ```no_run
//! use clap::Parser;
//! use kubeforge::manager::{Context, Manager, ManagerArgs};
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     manager: ManagerArgs,
//! }
//!
//! async fn run_my_app(ctx: Context) -> anyhow::Result<()> {
//!     ctx.shutdown_signal().await; // a real controller runs kube's Controller here
//!     Ok(())
//! }
//!
//! # async fn doc() -> anyhow::Result<()> {
//! let cli = Cli::parse();
//! let mut manager = Manager::new(cli.manager, "myapp.example.com").await?;
//! manager.add_controller("myapp", run_my_app);
//! manager.run().await?;
//! # Ok(())
//! # }
//! ```

mod args;
mod http;
mod metrics;
mod metrics_auth;
mod tls;

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::Client;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use kube_lease_manager::{LeaseManagerBuilder, LeaseManagerError};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{error, info, warn};

pub use anyhow;
pub use clap;
pub use prometheus_client;

pub use args::{LogFormat, ManagerArgs, parse_duration};
pub use metrics::{ControllerMetrics, ReconcileResult};
pub use tls::TlsError;

use http::{Health, Phase};
use metrics::ManagerMetrics;

/// Where Kubernetes mounts the pod's namespace for in-cluster clients.
const SERVICE_ACCOUNT_NAMESPACE_FILE: &str =
    "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// How long the HTTP servers get to finish in-flight requests at shutdown.
const HTTP_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Pause between retries after a Lease API error, so an API outage does not
/// turn into a hot loop.
const LEASE_RETRY_BACKOFF: Duration = Duration::from_secs(1);

/// Everything that can stop a manager from starting or make it exit.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// `--log-level` (or `RUST_LOG`) is not a valid tracing filter.
    #[error("invalid log filter {filter:?}")]
    LogFilter {
        /// The rejected filter.
        filter: String,
        /// Why it was rejected.
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// `--kubeconfig` could not be read or used.
    #[error("cannot load kubeconfig {}", path.display())]
    Kubeconfig {
        /// The path given with `--kubeconfig`.
        path: PathBuf,
        /// Why loading failed.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// Neither a kubeconfig nor an in-cluster configuration was found.
    #[error("cannot find a Kubernetes configuration (KUBECONFIG, ~/.kube/config or in-cluster)")]
    InferConfig(#[source] kube::config::InferConfigError),
    /// The Kubernetes client could not be built from the configuration.
    #[error("cannot build the Kubernetes client")]
    Client(#[source] kube::Error),
    /// A metrics or probe listener could not bind.
    #[error("cannot bind the {what} server to {address}")]
    Bind {
        /// Which server ("metrics" or "health probe").
        what: &'static str,
        /// The address from the flag.
        address: String,
        /// The bind error.
        #[source]
        source: std::io::Error,
    },
    /// Controllers were still running when --graceful-shutdown-timeout ran
    /// out, and were aborted.
    #[error(
        "controllers {controllers:?} did not stop within {timeout:?} of shutdown and were aborted"
    )]
    ShutdownTimeout {
        /// The aborted controllers, sorted.
        controllers: Vec<String>,
        /// --graceful-shutdown-timeout.
        timeout: Duration,
    },
    /// The metrics server's certificate could not be loaded or generated.
    #[error("cannot set up TLS for the metrics server")]
    MetricsTls(#[source] TlsError),
    /// The lease duration / renew grace combination is unusable.
    #[error("invalid leader election settings: {0}")]
    LeaderElectionConfig(String),
    /// The leader-election Lease could not be created or read.
    #[error("leader election with Lease {namespace}/{lease} failed")]
    LeaderElection {
        /// Lease name (the id passed to [`Manager::new`]).
        lease: String,
        /// Lease namespace.
        namespace: String,
        /// The underlying error.
        #[source]
        source: LeaseManagerError,
    },
    /// Another instance took the Lease over, or it could not be renewed in
    /// time. The manager exits so the pod restarts as a follower, exactly as
    /// controller-runtime does, rather than risk two active leaders.
    #[error("lost leadership of Lease {0}")]
    LeadershipLost(String),
    /// Two controllers were added under the same name, which would merge
    /// their metrics and logs.
    #[error("controller {0:?} was added more than once")]
    DuplicateController(String),
    /// A controller returned an error.
    #[error("controller {name:?} failed")]
    Controller {
        /// The controller's name.
        name: String,
        /// The error it returned.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A controller task panicked.
    #[error("controller {0:?} panicked")]
    ControllerPanicked(String),
}

type BoxedController =
    Box<dyn FnOnce(Context) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>> + Send>;

/// What every controller receives: the shared client, its own metrics and
/// the manager's shutdown signal. Cheap to clone.
#[derive(Clone)]
pub struct Context {
    name: Arc<str>,
    client: Client,
    shutdown: watch::Receiver<bool>,
    metrics: ControllerMetrics,
}

impl Context {
    /// The name the controller was added under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The manager's Kubernetes client (clones share one connection pool).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// This controller's reconcile metrics.
    pub fn metrics(&self) -> ControllerMetrics {
        self.metrics.clone()
    }

    /// Resolves once the manager is shutting down (or leadership was lost).
    ///
    /// Pass it to `Controller::graceful_shutdown_on` so in-flight
    /// reconciliations finish before the controller stream ends.
    pub fn shutdown_signal(&self) -> impl Future<Output = ()> + Send + Sync + 'static {
        let mut shutdown = self.shutdown.clone();
        async move {
            // An error means the manager is gone, which is a shutdown too.
            let _ = shutdown.wait_for(|stopping| *stopping).await;
        }
    }

    /// Resolves at shutdown only if the controller owning `store`
    /// (`Controller::store()`) has not finished its first list by then.
    ///
    /// kube-runtime starts reconciling only once that list is in, and its
    /// graceful shutdown stops the watches that would deliver it, so a
    /// controller told to stop in its first moments waits forever (here:
    /// until --graceful-shutdown-timeout, then the manager fails). End the
    /// controller's stream with it; nothing was reconciled yet, so nothing is
    /// cut short:
    ///
    /// ```ignore
    /// let controller = Controller::new(api, watcher::Config::default());
    /// let not_started = ctx.shutdown_before_ready(controller.store());
    /// controller
    ///     .graceful_shutdown_on(ctx.shutdown_signal())
    ///     .run(reconcile, error_policy, state)
    ///     .take_until(not_started)
    /// ```
    pub fn shutdown_before_ready<K>(
        &self,
        store: kube::runtime::reflector::Store<K>,
    ) -> impl Future<Output = ()> + Send + Sync + 'static
    where
        K: kube::runtime::reflector::Lookup + Clone + Send + Sync + 'static,
        K::DynamicType: Eq + std::hash::Hash + Clone + Send + Sync,
    {
        use futures::FutureExt as _;
        let shutdown = self.shutdown_signal();
        async move {
            shutdown.await;
            // Checked in the same poll that ends the stream, so no reconcile
            // can start in between.
            if store.wait_until_ready().now_or_never().is_none() {
                return;
            }
            std::future::pending::<()>().await;
        }
    }

    /// Whether shutdown has begun; for loops that poll instead of awaiting
    /// [`Context::shutdown_signal`].
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow() || self.shutdown.has_changed().is_err()
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("name", &self.name)
            .field("shutting_down", &self.is_shutting_down())
            .finish_non_exhaustive()
    }
}

/// Runs controllers with metrics, probes, leader election and graceful
/// shutdown. See the [module docs](self).
pub struct Manager {
    args: ManagerArgs,
    id: String,
    client: Client,
    registry: Registry,
    metrics: ManagerMetrics,
    controllers: Vec<(String, BoxedController)>,
    duplicate: Option<String>,
    bound: bool,
    metrics_listener: Option<(TcpListener, SocketAddr)>,
    /// Set when /metrics is served over HTTPS (--metrics-secure).
    metrics_tls: Option<Arc<rustls::ServerConfig>>,
    probe_listener: Option<(TcpListener, SocketAddr)>,
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
        let client = build_client(args.kubeconfig.as_deref()).await?;
        Self::with_client(args, id, client)
    }

    /// Like [`Manager::new`] but with a ready-made client (tests, or clients
    /// with custom middleware); `args.kubeconfig` is ignored.
    pub fn with_client(
        args: ManagerArgs,
        id: impl Into<String>,
        client: Client,
    ) -> Result<Self, ManagerError> {
        init_tracing(&args)?;
        let mut registry = Registry::default();
        let metrics = ManagerMetrics::register(&mut registry);
        Ok(Manager {
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
        })
    }

    /// The leader-election id (Lease name).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The parsed flags.
    pub fn args(&self) -> &ManagerArgs {
        &self.args
    }

    /// The shared Kubernetes client, e.g. for setup work before `run`.
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

    /// Binds the metrics and probe listeners now instead of in `run`, so the
    /// caller can learn the real addresses (e.g. with port 0 in tests).
    /// Calling it again does nothing.
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
        self.bound = true;
        Ok(())
    }

    /// The certificate from --metrics-cert-path, else a self-signed one.
    fn metrics_tls_config(&self) -> Result<Arc<rustls::ServerConfig>, ManagerError> {
        match &self.args.metrics_cert_path {
            Some(dir) => tls::server_config_from_files(
                dir,
                &self.args.metrics_cert_name,
                &self.args.metrics_cert_key,
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

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully. A second
    /// signal exits the process immediately (like controller-runtime).
    pub async fn run(self) -> Result<(), ManagerError> {
        self.run_until(async {
            os_shutdown_signal().await;
            info!("shutdown signal received; a second signal forces exit");
            tokio::spawn(async {
                os_shutdown_signal().await;
                error!("second shutdown signal received, exiting immediately");
                std::process::exit(1);
            });
        })
        .await
    }

    /// Runs until `shutdown` resolves, a controller fails, or leadership is
    /// lost; then stops the controllers (bounded by
    /// `--graceful-shutdown-timeout`), releases the Lease and stops the HTTP
    /// servers.
    pub async fn run_until<S>(mut self, shutdown: S) -> Result<(), ManagerError>
    where
        S: Future<Output = ()>,
    {
        if let Some(name) = self.duplicate.take() {
            return Err(ManagerError::DuplicateController(name));
        }
        let lease_timing = if self.args.leader_elect {
            Some(lease_timing(&self.args)?)
        } else {
            None
        };
        self.bind().await?;

        let health = Arc::new(Health::new());
        let (http_stop, http_stop_rx) = watch::channel(false);
        let registry = Arc::new(std::mem::take(&mut self.registry));
        let mut servers = Vec::new();
        if let Some((listener, addr)) = self.probe_listener.take() {
            info!(%addr, "serving health probes");
            servers.push(http::spawn_server(
                "health probe",
                listener,
                http::probe_router(health.clone()),
                wait_until_true(http_stop_rx.clone()),
            ));
        }
        if let Some((listener, addr)) = self.metrics_listener.take() {
            let stop = wait_until_true(http_stop_rx.clone());
            servers.push(match self.metrics_tls.take() {
                Some(config) => {
                    info!(%addr, "serving metrics over HTTPS to authorized callers");
                    let router = http::metrics_router(registry, Some(self.client.clone()));
                    let listener = tls::TlsListener::new(listener, addr, config);
                    http::spawn_server("metrics", listener, router, stop)
                }
                None => {
                    warn!(%addr, "serving metrics over plain HTTP without authentication");
                    http::spawn_server(
                        "metrics",
                        listener,
                        http::metrics_router(registry, None),
                        stop,
                    )
                }
            });
        }
        health.set(Phase::Running);

        let mut running = RunningControllers::new();
        let pending = std::mem::take(&mut self.controllers);
        let mut shutdown = pin!(shutdown);

        let result = match lease_timing {
            None => {
                running.start(pending, &self.client, &self.metrics);
                let outcome = supervise(&mut shutdown, &mut running).await;
                health.set(Phase::ShuttingDown);
                let stopped = running.stop(self.args.graceful_shutdown_timeout).await;
                outcome.and(stopped)
            }
            Some((duration, grace)) => {
                let election = LeaderElection {
                    lease: self.id.clone(),
                    namespace: self
                        .args
                        .leader_election_namespace
                        .clone()
                        .unwrap_or_else(default_leader_election_namespace),
                    duration,
                    grace,
                    client: self.client.clone(),
                    metrics: self.metrics.clone(),
                    shutdown_timeout: self.args.graceful_shutdown_timeout,
                };
                election
                    .run(&mut shutdown, &mut running, pending, &health)
                    .await
            }
        };

        let _ = http_stop.send(true);
        for server in servers {
            if tokio::time::timeout(HTTP_SHUTDOWN_TIMEOUT, server)
                .await
                .is_err()
            {
                warn!("HTTP server did not stop in time");
            }
        }
        match &result {
            Ok(()) => info!("manager stopped"),
            Err(error) => error!(error = %error_chain(error), "manager stopped with an error"),
        }
        result
    }
}

/// Leader-election settings resolved from the flags; owned so the
/// manager's (non-`Sync`) controller list is not borrowed across awaits.
struct LeaderElection {
    lease: String,
    namespace: String,
    duration: u64,
    grace: u64,
    client: Client,
    metrics: ManagerMetrics,
    shutdown_timeout: Duration,
}

impl LeaderElection {
    async fn run<S: Future<Output = ()>>(
        &self,
        shutdown: &mut Pin<&mut S>,
        running: &mut RunningControllers,
        pending: Vec<(String, BoxedController)>,
        health: &Health,
    ) -> Result<(), ManagerError> {
        let (duration, grace) = (self.duration, self.grace);
        let namespace = &self.namespace;
        let identity = leader_identity();
        let lease_error = |source| ManagerError::LeaderElection {
            lease: self.lease.clone(),
            namespace: namespace.clone(),
            source,
        };
        info!(lease = %self.lease, %namespace, %identity, "attempting to acquire leader lease");
        let lease = tokio::select! {
            built = LeaseManagerBuilder::new(self.client.clone(), &self.lease)
                .with_namespace(namespace)
                .with_identity(&identity)
                .with_duration(duration)
                .with_grace(grace)
                .build() => built.map_err(lease_error)?,
            () = shutdown.as_mut() => {
                health.set(Phase::ShuttingDown);
                return Ok(());
            }
        };
        self.metrics.set_leader(&self.lease, false);

        let mut pending = Some(pending);
        let mut leading = false;
        // Start of the current run of renewal errors while leading: past the
        // renew grace the lease may have expired, so we must assume it's lost.
        let mut failing_since: Option<(Instant, Instant)> = None;
        let outcome = loop {
            tokio::select! {
                biased;
                () = shutdown.as_mut() => break Ok(()),
                exit = running.next_exit(), if !running.is_empty() => {
                    if let Err(error) = exit {
                        break Err(error);
                    }
                }
                changed = lease.changed() => match changed {
                    Ok(true) => {
                        info!(lease = %self.lease, %identity, "acquired leadership; starting controllers");
                        leading = true;
                        failing_since = None;
                        self.metrics.set_leader(&self.lease, true);
                        if let Some(controllers) = pending.take() {
                            running.start(controllers, &self.client, &self.metrics);
                        }
                    }
                    Ok(false) => {
                        if leading {
                            break Err(ManagerError::LeadershipLost(self.lease.clone()));
                        }
                    }
                    Err(error) => {
                        warn!(lease = %self.lease, error = %error_chain(&error), "leader election error");
                        if leading {
                            let now = Instant::now();
                            let first = match failing_since {
                                // Errors further apart than a renew interval mean
                                // renewals succeeded in between: a new episode.
                                Some((first, last))
                                    if now.duration_since(last) < Duration::from_secs(duration) => first,
                                _ => now,
                            };
                            failing_since = Some((first, now));
                            if now.duration_since(first) >= Duration::from_secs(grace) {
                                break Err(ManagerError::LeadershipLost(self.lease.clone()));
                            }
                        }
                        tokio::time::sleep(LEASE_RETRY_BACKOFF).await;
                    }
                },
            }
        };

        health.set(Phase::ShuttingDown);
        let lost = matches!(outcome, Err(ManagerError::LeadershipLost(_)));
        if lost {
            error!(lease = %self.lease, "leadership lost; stopping controllers");
        }
        // Keep renewing while controllers drain so the lease cannot expire
        // under them and let a second leader start early.
        let stopped = {
            let stop = running.stop(self.shutdown_timeout);
            let mut stop = pin!(stop);
            loop {
                tokio::select! {
                    stopped = &mut stop => break stopped,
                    changed = lease.changed(), if leading && !lost => {
                        match changed {
                            Ok(now_leading) => leading = now_leading,
                            Err(_) => tokio::time::sleep(LEASE_RETRY_BACKOFF).await,
                        }
                    }
                }
            }
        };
        if !lost {
            match lease.release().await {
                Ok(()) => info!(lease = %self.lease, "released leader lease"),
                Err(error) => {
                    warn!(lease = %self.lease, error = %error_chain(&error), "cannot release leader lease")
                }
            }
        }
        self.metrics.set_leader(&self.lease, false);
        outcome.and(stopped)
    }
}

/// Waits for shutdown or a failing controller while not leader-elected.
async fn supervise<S: Future<Output = ()>>(
    shutdown: &mut Pin<&mut S>,
    running: &mut RunningControllers,
) -> Result<(), ManagerError> {
    loop {
        tokio::select! {
            biased;
            () = shutdown.as_mut() => return Ok(()),
            exit = running.next_exit(), if !running.is_empty() => exit?,
        }
    }
}

/// The spawned controller tasks plus the sender of their shutdown signal.
struct RunningControllers {
    tasks: JoinSet<anyhow::Result<()>>,
    names: HashMap<tokio::task::Id, String>,
    shutdown: watch::Sender<bool>,
}

impl RunningControllers {
    fn new() -> Self {
        RunningControllers {
            tasks: JoinSet::new(),
            names: HashMap::new(),
            shutdown: watch::channel(false).0,
        }
    }

    fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    fn start(
        &mut self,
        controllers: Vec<(String, BoxedController)>,
        client: &Client,
        metrics: &ManagerMetrics,
    ) {
        for (name, run) in controllers {
            let ctx = Context {
                name: Arc::from(name.as_str()),
                client: client.clone(),
                shutdown: self.shutdown.subscribe(),
                metrics: metrics.for_controller(&name),
            };
            info!(controller = %name, "starting controller");
            let handle = self.tasks.spawn(run(ctx));
            self.names.insert(handle.id(), name);
        }
    }

    /// The next controller to finish: `Ok` if it returned `Ok`, else the
    /// error that should bring the manager down.
    async fn next_exit(&mut self) -> Result<(), ManagerError> {
        let Some(joined) = self.tasks.join_next_with_id().await else {
            return std::future::pending().await;
        };
        self.exit_result(joined)
    }

    fn exit_result(
        &mut self,
        joined: Result<(tokio::task::Id, anyhow::Result<()>), tokio::task::JoinError>,
    ) -> Result<(), ManagerError> {
        match joined {
            Ok((id, Ok(()))) => {
                let name = self.names.remove(&id).unwrap_or_default();
                info!(controller = %name, "controller finished");
                Ok(())
            }
            Ok((id, Err(source))) => {
                let name = self.names.remove(&id).unwrap_or_default();
                error!(controller = %name, error = %format_args!("{source:#}"), "controller failed");
                Err(ManagerError::Controller {
                    name,
                    source: source.into(),
                })
            }
            Err(join_error) => {
                let name = self.names.remove(&join_error.id()).unwrap_or_default();
                if join_error.is_cancelled() {
                    warn!(controller = %name, "controller aborted");
                    Ok(())
                } else {
                    error!(controller = %name, "controller panicked");
                    Err(ManagerError::ControllerPanicked(name))
                }
            }
        }
    }

    /// Signals every controller and waits up to `timeout` for them, then
    /// aborts the stragglers. Returns the first controller error.
    async fn stop(&mut self, timeout: Duration) -> Result<(), ManagerError> {
        self.shutdown.send_replace(true);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut first_error = None;
        while !self.tasks.is_empty() {
            match tokio::time::timeout_at(deadline, self.tasks.join_next_with_id()).await {
                Ok(Some(joined)) => {
                    if let Err(error) = self.exit_result(joined) {
                        first_error.get_or_insert(error);
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    let mut names: Vec<String> = self.names.values().cloned().collect();
                    names.sort();
                    warn!(controllers = ?names, ?timeout, "controllers did not stop in time; aborting them");
                    self.tasks.shutdown().await;
                    self.names.clear();
                    // As controller-runtime: a shutdown that had to cut work
                    // short is a failure, so the exit status says so.
                    first_error.get_or_insert(ManagerError::ShutdownTimeout {
                        controllers: names,
                        timeout,
                    });
                    break;
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Validates the lease timing flags and converts them to whole seconds, the
/// unit of `Lease.spec.leaseDurationSeconds`.
fn lease_timing(args: &ManagerArgs) -> Result<(u64, u64), ManagerError> {
    let duration = args.lease_duration.as_secs();
    if duration < 2 {
        return Err(ManagerError::LeaderElectionConfig(format!(
            "--lease-duration must be at least 2s, got {:?}",
            args.lease_duration
        )));
    }
    let grace = match args.lease_renew_grace {
        Some(grace) => grace.as_secs(),
        None => (duration / 3).max(1),
    };
    if grace == 0 || grace >= duration {
        return Err(ManagerError::LeaderElectionConfig(format!(
            "--lease-renew-grace must be at least 1s and shorter than --lease-duration \
             ({duration}s), got {grace}s"
        )));
    }
    Ok((duration, grace))
}

/// The namespace of the pod we run in, so the Lease lives next to the
/// operator by default (what controller-runtime does in-cluster).
fn default_leader_election_namespace() -> String {
    if let Ok(namespace) = std::env::var("POD_NAMESPACE")
        && !namespace.trim().is_empty()
    {
        return namespace.trim().to_owned();
    }
    if let Ok(namespace) = std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE_FILE)
        && !namespace.trim().is_empty()
    {
        return namespace.trim().to_owned();
    }
    "default".to_owned()
}

/// `<pod name>_<random>`, like controller-runtime's `<hostname>_<uuid>`: the
/// pod name shows up in the Lease for humans, the suffix keeps a restarted
/// container from inheriting its predecessor's lock.
fn leader_identity() -> String {
    let host = ["POD_NAME", "HOSTNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "kubeforge".to_owned());
    // RandomState is seeded randomly per process; mixing in the time keeps two
    // managers of one process (tests) distinct too.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    if let Ok(since_epoch) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(since_epoch.as_nanos());
    }
    format!("{host}_{:016x}", hasher.finish())
}

async fn build_client(kubeconfig: Option<&std::path::Path>) -> Result<Client, ManagerError> {
    let config = match kubeconfig {
        Some(path) => {
            let kubeconfig_error = |source| ManagerError::Kubeconfig {
                path: path.to_owned(),
                source,
            };
            let kubeconfig = Kubeconfig::read_from(path).map_err(kubeconfig_error)?;
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(kubeconfig_error)?
        }
        None => Config::infer().await.map_err(ManagerError::InferConfig)?,
    };
    Client::try_from(config).map_err(ManagerError::Client)
}

/// Installs the global tracing subscriber. Only the first call in a process
/// wins; later ones (a second manager in tests) are silently ignored, but the
/// filter is still validated so a typo never goes unnoticed.
fn init_tracing(args: &ManagerArgs) -> Result<(), ManagerError> {
    use tracing_subscriber::EnvFilter;

    let filter = match &args.log_level {
        Some(level) => EnvFilter::try_new(level).map_err(|source| ManagerError::LogFilter {
            filter: level.clone(),
            source,
        })?,
        None => match std::env::var("RUST_LOG") {
            Ok(level) if !level.trim().is_empty() => {
                EnvFilter::try_new(&level).map_err(|source| ManagerError::LogFilter {
                    filter: level.clone(),
                    source,
                })?
            }
            _ => EnvFilter::new("info"),
        },
    };
    // stderr, like controller-runtime's zap logger; stdout stays free for
    // anything the operator itself prints.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _already_set = match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    Ok(())
}

/// SIGTERM (what the kubelet sends) or SIGINT (Ctrl-C).
async fn os_shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            warn!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(error) => {
                warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

async fn wait_until_true(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// "outer: inner: innermost", because log lines show only `Display`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_timing_defaults_to_a_third() {
        let args = ManagerArgs {
            leader_elect: true,
            ..ManagerArgs::default()
        };
        assert_eq!(lease_timing(&args).unwrap(), (15, 5));
        let short = ManagerArgs {
            lease_duration: Duration::from_secs(2),
            ..args.clone()
        };
        assert_eq!(lease_timing(&short).unwrap(), (2, 1));
    }

    #[test]
    fn lease_timing_rejects_unusable_values() {
        let args = ManagerArgs::default();
        let too_short = ManagerArgs {
            lease_duration: Duration::from_secs(1),
            ..args.clone()
        };
        assert!(lease_timing(&too_short).is_err());
        let grace_too_long = ManagerArgs {
            lease_renew_grace: Some(Duration::from_secs(15)),
            ..args.clone()
        };
        assert!(lease_timing(&grace_too_long).is_err());
        let zero_grace = ManagerArgs {
            lease_renew_grace: Some(Duration::from_millis(500)),
            ..args
        };
        assert!(lease_timing(&zero_grace).is_err());
    }

    #[test]
    fn identities_are_unique() {
        assert_ne!(leader_identity(), leader_identity());
    }

    #[test]
    fn error_chain_includes_sources() {
        let error = ManagerError::Bind {
            what: "metrics",
            address: "1.2.3.4:5".into(),
            source: std::io::Error::other("address in use"),
        };
        assert_eq!(
            error_chain(&error),
            "cannot bind the metrics server to 1.2.3.4:5: address in use"
        );
    }
}
