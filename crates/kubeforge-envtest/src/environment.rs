//! The public face of a control plane: [`EnvironmentBuilder`] collects what to start with,
//! [`Environment`] hands out kubeconfigs and, with the `client` feature, clients. The work
//! is done by `control_plane` (processes), `kubeconfig` (admin access), `crds` (CRD
//! installation) and `webhooks` (webhook configurations pointed at the test's own server),
//! the last two through `api`, the same with or without `client`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
#[cfg(feature = "client")]
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

#[cfg(feature = "client")]
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
#[cfg(feature = "client")]
use kube::config::Kubeconfig;

use crate::Error;
use crate::assets::{self, Assets};
use crate::certs::Pki;
use crate::control_plane::{self, ControlPlane};
use crate::crds;
use crate::kubeconfig::AdminKubeconfig;
use crate::manifests::{self, Object};
#[cfg(feature = "client")]
use crate::namespaces;
use crate::shared::{self, SharedPlane};
use crate::webhooks::{self, WebhookInstall, WebhookServer};

/// Process ids of the two control-plane processes.
///
/// Tests use them to prove teardown: after the [`Environment`] is dropped (or a test
/// panics) neither process may still exist. A pid is 0 while its process is not running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessIds {
    /// etcd's pid.
    pub etcd: u32,
    /// kube-apiserver's pid.
    pub kube_apiserver: u32,
}

/// Configures and starts an [`Environment`].
///
/// Everything is collected before anything starts, so a bad CRD manifest fails before any
/// process is spawned.
#[derive(Debug, Default, Clone)]
#[must_use]
pub struct EnvironmentBuilder {
    crd_dirs: Vec<PathBuf>,
    #[cfg(feature = "client")]
    crds: Vec<CustomResourceDefinition>,
    assets: Option<Assets>,
    data_dir_parent: Option<PathBuf>,
    /// `Some` once any webhook option was given: only then is a webhook server set up.
    webhooks: Option<WebhookInstall>,
}

impl EnvironmentBuilder {
    /// Installs every CustomResourceDefinition found in `.yaml`/`.yml`/`.json` files directly
    /// in `dir` (multi-document files allowed, other kinds ignored), in file-name order.
    ///
    /// This is how a test gets exactly the CRDs `kubeforge manifests` generated, e.g. from
    /// `config/crd/bases`. A missing directory is an error, so a mistyped path fails loudly
    /// instead of testing without CRDs.
    pub fn crd_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.crd_dirs.push(dir.into());
        self
    }

    /// Installs these CRDs (e.g. from `MyKind::crd()`), after those from [`Self::crd_dir`],
    /// for tests that want the CRDs the code defines rather than files on disk.
    #[cfg(feature = "client")]
    pub fn crds(mut self, crds: impl IntoIterator<Item = CustomResourceDefinition>) -> Self {
        self.crds.extend(crds);
        self
    }

    /// Uses these binaries instead of looking them up with [`assets::find`], for callers
    /// that already located them (`kubeforge run`) or test a particular build.
    pub fn assets(mut self, assets: Assets) -> Self {
        self.assets = Some(assets);
        self
    }

    /// Creates the data directory (etcd data, certificates, logs, kubeconfig) inside
    /// `parent` instead of the system temp dir, e.g. to keep etcd off a small tmpfs.
    pub fn data_dir_in(mut self, parent: impl Into<PathBuf>) -> Self {
        self.data_dir_parent = Some(parent.into());
        self
    }

    /// Installs these admission webhook configurations and conversion settings, pointed at
    /// a webhook server the test runs (see [`Environment::webhook_server`]). Called more than
    /// once, everything given is installed.
    ///
    /// With any webhook option, start also makes a webhook CA, a serving certificate and a
    /// port, and every CRD the environment installs whose conversion strategy is `Webhook`
    /// converts through that server.
    pub fn webhooks(mut self, install: WebhookInstall) -> Self {
        self.webhooks
            .get_or_insert_with(WebhookInstall::default)
            .merge(install);
        self
    }

    /// Installs the webhook configurations in `dir` (e.g. `config/webhook`); short for
    /// `.webhooks(WebhookInstall::from_dir(dir))`.
    pub fn webhook_dir(self, dir: impl Into<PathBuf>) -> Self {
        self.webhooks(WebhookInstall::from_dir(dir))
    }

    /// Makes these CRDs (by name) convert through the test's webhook server; short for
    /// `.webhooks(WebhookInstall::new().conversion_for(crds))`. See
    /// [`WebhookInstall::conversion_for`].
    pub fn conversion_webhook_for<S: Into<String>>(
        self,
        crds: impl IntoIterator<Item = S>,
    ) -> Self {
        self.webhooks(WebhookInstall::new().conversion_for(crds))
    }

    /// Starts etcd and kube-apiserver, waits until they serve, installs the CRDs and waits
    /// until they are established and servable, then installs the webhook configurations
    /// and waits until they exist, so the environment is usable at once.
    ///
    /// Webhooks with `failurePolicy: Fail` reject matching requests until the test's webhook
    /// server runs, so start it before creating such objects.
    ///
    /// Binaries not given with [`Self::assets`] come from [`assets::find`]; when the store it
    /// looks in is empty, the official envtest archive is downloaded into it first (once per
    /// process, never a Go build: see [`assets::ensure`] for that).
    ///
    /// A start that fails because of a lost race for a free port, or a machine too busy to
    /// start in time, is retried a few times; any other failure is returned at once with
    /// the failing process's last log lines. Nothing is left running or on disk on error.
    pub async fn start(mut self) -> Result<Environment, Error> {
        let began = Instant::now();
        let assets = match self.assets.take() {
            Some(a) => a,
            None => assets::find_or_download().await?,
        };
        // Parse everything first: a bad manifest is not worth starting processes for.
        let mut crds = self.read_crds()?;
        let parent = self.data_dir_parent.as_deref();
        let (webhook_configs, conversion_crds) = match self.webhooks {
            Some(install) => {
                let (mut configs, conversion) = install.load()?;
                let server = WebhookServer::create(parent)?;
                server.rewrite_crds(&mut crds, &conversion, true)?;
                server.rewrite_configurations(&mut configs);
                (Some((server, configs)), conversion)
            }
            None => (None, Vec::new()),
        };

        let launched = control_plane::retry_start(|| launch(&assets, parent)).await?;
        let mut env = Environment::new(
            #[cfg(feature = "client")]
            launched.client,
            Arc::new(launched.admin),
            Plane::Private(Box::new(launched.plane)),
        );
        crds::install(&env.admin.api, &crds).await?;
        if let Some((server, configs)) = webhook_configs {
            webhooks::install(&env.admin.api, &configs).await?;
            log_webhooks(&server, &configs);
            env.webhook = Some(Arc::new(server));
            env.conversion_crds = conversion_crds;
        }
        tracing::info!(
            elapsed_ms = began.elapsed().as_millis() as u64,
            url = %env.server_url(),
            crds = crds.len(),
            "envtest control plane ready"
        );
        Ok(env)
    }

    /// Connects to this test process's shared control plane, starting it if this is the
    /// first call, installs this builder's CRDs and webhook configurations on it, and
    /// returns a handle for one test. A test binary pays for one start, not one per test.
    ///
    /// With the `client` feature, the handle has its own client (built in the calling test's
    /// runtime) and its own namespace (`Environment::namespace`); [`Environment::stop`]
    /// empties and deletes that namespace and leaves the control plane running for the
    /// other tests. The plane is stopped and its data dir removed when the test process
    /// exits.
    ///
    /// Cluster-scoped objects are shared by every test of the process: CRDs, webhook
    /// configurations, ClusterRoles, namespaces other than the handle's own. CRDs and
    /// webhook configurations are applied with server-side apply, so tests giving the same
    /// ones (the usual case: the project's own) do not conflict; tests giving different
    /// definitions of one CRD get whichever was applied last. There is one webhook server
    /// (certificate and port) per process, so only one server per process can serve the
    /// webhooks. The first call's [`Self::assets`] and [`Self::data_dir_in`] decide how the
    /// plane starts; later calls' are ignored.
    ///
    /// A test that restarts the API server ([`Environment::restart_api_server`] fails on a
    /// shared plane), depends on cluster-scoped state no other test may touch, or runs
    /// leader election against other managers needs a private plane: [`Self::start`].
    pub async fn start_shared(self) -> Result<Environment, Error> {
        let began = Instant::now();
        // Parse everything first, as `start` does.
        let mut crds = self.read_crds()?;
        let webhooks = self.webhooks.map(WebhookInstall::load).transpose()?;

        let plane = shared::get(self.assets, self.data_dir_parent).await?;
        let mut env = Environment::new(
            #[cfg(feature = "client")]
            kube::Client::try_from(plane.admin.config.clone())
                .map_err(|e| Error::kube("building the admin client", e))?,
            plane.admin.clone(),
            Plane::Shared(plane),
        );
        let configs = match webhooks {
            Some((mut configs, conversion)) => {
                let server = plane.webhook_server()?;
                // This builder's names must match its CRDs, as with a private plane.
                server.rewrite_crds(&mut crds, &conversion, true)?;
                env.conversion_crds = plane.add_conversion_crds(&conversion);
                server.rewrite_configurations(&mut configs);
                env.webhook = Some(server);
                Some(configs)
            }
            None => None,
        };
        // A CRD another handle made convert keeps converting when this one applies it.
        if let Some(server) = plane.existing_webhook_server() {
            let all = plane.add_conversion_crds(&[]);
            server.rewrite_crds(&mut crds, &all, false)?;
        }
        crds::install(&env.admin.api, &crds).await?;
        if let (Some(configs), Some(server)) = (&configs, &env.webhook) {
            webhooks::install(&env.admin.api, configs).await?;
            log_webhooks(server, configs);
        }
        tracing::debug!(
            elapsed_ms = began.elapsed().as_millis() as u64,
            url = %env.server_url(),
            crds = crds.len(),
            "envtest shared control plane handle ready"
        );
        Ok(env)
    }

    /// The CRDs of [`Self::crd_dir`]'s directories, then those given in code.
    fn read_crds(&self) -> Result<Vec<Object>, Error> {
        let mut crds = Vec::new();
        for dir in &self.crd_dirs {
            crds.extend(manifests::read_crd_dir(dir)?);
        }
        #[cfg(feature = "client")]
        for crd in &self.crds {
            let doc = serde_json::to_value(crd).map_err(|e| {
                Error::Object(format!(
                    "encoding a CustomResourceDefinition given in code: {e}"
                ))
            })?;
            crds.push(Object::crd(doc).map_err(|e| {
                Error::Object(format!("a CustomResourceDefinition given in code: {e}"))
            })?);
        }
        Ok(crds)
    }
}

fn log_webhooks(server: &WebhookServer, configs: &manifests::WebhookConfigurations) {
    tracing::info!(
        port = server.port(),
        cert_dir = %server.cert_dir().display(),
        mutating = configs.mutating.len(),
        validating = configs.validating.len(),
        "envtest webhooks installed"
    );
}

/// What one start attempt made: the processes, the admin kubeconfig and, with `client`, a
/// kube client (bound to the runtime the attempt ran on).
pub(crate) struct Launched {
    pub(crate) plane: ControlPlane,
    pub(crate) admin: AdminKubeconfig,
    #[cfg(feature = "client")]
    pub(crate) client: kube::Client,
}

/// One start attempt: processes, then the admin kubeconfig and clients, then readiness.
/// A failure drops the control plane, which tears down whatever was started.
pub(crate) async fn launch(assets: &Assets, parent: Option<&Path>) -> Result<Launched, Error> {
    let pki = Pki::generate()?;
    let mut plane = ControlPlane::launch(assets, parent, |dir| pki.write_files(dir)).await?;
    let admin = AdminKubeconfig::write(plane.data_dir(), plane.server_url(), &pki).await?;
    #[cfg(feature = "client")]
    let client = kube::Client::try_from(admin.config.clone())
        .map_err(|e| Error::kube("building the admin client", e))?;
    plane.wait_until_ready(&admin.api).await?;
    Ok(Launched {
        plane,
        admin,
        #[cfg(feature = "client")]
        client,
    })
}

/// Whose processes an [`Environment`] talks to.
enum Plane {
    /// Its own: stopped when the environment is.
    Private(Box<ControlPlane>),
    /// The test process's shared one: it outlives the environment.
    Shared(&'static SharedPlane),
}

/// A running local control plane: a real etcd and kube-apiserver, so tests see real
/// validation, defaulting, RBAC and watch semantics instead of a mock's.
///
/// From [`EnvironmentBuilder::start`], the control plane is the environment's own: dropping
/// it stops the processes and deletes its data. Each such environment has its own ports,
/// certificates and data directory, so any number can run side by side.
///
/// From [`EnvironmentBuilder::start_shared`], it is a handle on the test process's one
/// shared control plane, with (feature `client`) its own client and namespace; stopping it
/// deletes the namespace and leaves the plane running.
pub struct Environment {
    #[cfg(feature = "client")]
    client: kube::Client,
    admin: Arc<AdminKubeconfig>,
    plane: Plane,
    /// Dropped after `plane`, so the API server is gone before its webhook certificates.
    webhook: Option<Arc<WebhookServer>>,
    /// CRDs the test asked to convert through the webhook server, for later installs.
    conversion_crds: Vec<String>,
    /// The test's namespace, created on the first [`Environment::namespace`] call.
    #[cfg(feature = "client")]
    namespace: tokio::sync::OnceCell<String>,
    /// Every namespace made by this handle, deleted by [`Environment::stop`] on a shared plane.
    #[cfg(feature = "client")]
    namespaces: Mutex<Vec<String>>,
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("server", &self.server_url())
            .field("kubeconfig_path", &self.kubeconfig_path())
            .field("pids", &self.pids())
            .field("shared", &self.is_shared())
            .field(
                "webhook_port",
                &self.webhook.as_deref().map(WebhookServer::port),
            )
            .finish_non_exhaustive()
    }
}

impl Environment {
    fn new(
        #[cfg(feature = "client")] client: kube::Client,
        admin: Arc<AdminKubeconfig>,
        plane: Plane,
    ) -> Self {
        Environment {
            #[cfg(feature = "client")]
            client,
            admin,
            plane,
            webhook: None,
            conversion_crds: Vec::new(),
            #[cfg(feature = "client")]
            namespace: tokio::sync::OnceCell::new(),
            #[cfg(feature = "client")]
            namespaces: Mutex::new(Vec::new()),
        }
    }

    /// A builder, for CRDs, binary locations or where the data directory goes.
    pub fn builder() -> EnvironmentBuilder {
        EnvironmentBuilder::default()
    }

    /// Starts a control plane with no CRDs and binaries from [`assets::find`]; the
    /// shortcut for tests of built-in kinds.
    pub async fn start() -> Result<Environment, Error> {
        Self::builder().start().await
    }

    /// A handle on this test process's shared control plane, with no CRDs of its own; the
    /// shortcut for [`EnvironmentBuilder::start_shared`].
    pub async fn shared() -> Result<Environment, Error> {
        Self::builder().start_shared().await
    }

    /// Whether this is a handle on the shared control plane
    /// ([`EnvironmentBuilder::start_shared`]) rather than a private one.
    pub fn is_shared(&self) -> bool {
        matches!(self.plane, Plane::Shared(_))
    }

    /// The test's own namespace, `test-<n>-<test name>-<random>`: created on the first call,
    /// the same name on later ones. On a shared plane, this is what keeps tests apart;
    /// [`Self::stop`] deletes it with everything in it.
    ///
    /// Clients still default to the `default` namespace (as the kubeconfig file says), so
    /// name this one explicitly (`Api::namespaced(client, env.namespace().await?)`).
    #[cfg(feature = "client")]
    pub async fn namespace(&self) -> Result<&str, Error> {
        self.namespace
            .get_or_try_init(|| self.new_namespace())
            .await
            .map(String::as_str)
    }

    /// Creates one more namespace unique to this test, for tests that need several (e.g.
    /// across-namespace references); deleted by [`Self::stop`] like [`Self::namespace`].
    #[cfg(feature = "client")]
    pub async fn new_namespace(&self) -> Result<String, Error> {
        let name = namespaces::unique_name();
        namespaces::create(&self.client, &name).await?;
        self.namespaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(name.clone());
        Ok(name)
    }

    /// A client authenticated as `admin` (group `system:masters`: bypasses RBAC), for test
    /// setup and assertions. To test what the operator itself may do, use
    /// [`Self::service_account_client`].
    #[cfg(feature = "client")]
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The admin client configuration, to build clients with other settings (timeouts,
    /// impersonation, a different default namespace).
    #[cfg(feature = "client")]
    pub fn config(&self) -> kube::Config {
        self.admin.config.clone()
    }

    /// A self-contained kubeconfig (certificates embedded) for the admin user, so kubectl
    /// or a separately started operator can reach this control plane. Deleted with the
    /// environment.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.admin.path
    }

    /// The same kubeconfig, parsed, for code that wants to pass it on without reading the
    /// file.
    #[cfg(feature = "client")]
    pub fn kubeconfig(&self) -> Kubeconfig {
        self.admin.kubeconfig.clone()
    }

    /// The API server URL, `https://127.0.0.1:<port>`; it stays the same across
    /// [`Self::restart_api_server`].
    pub fn server_url(&self) -> &str {
        match &self.plane {
            Plane::Private(plane) => plane.server_url(),
            Plane::Shared(shared) => &shared.server,
        }
    }

    /// Process ids of etcd and kube-apiserver, so tests can check nothing outlives the
    /// environment.
    pub fn pids(&self) -> ProcessIds {
        match &self.plane {
            Plane::Private(plane) => plane.pids(),
            Plane::Shared(shared) => shared.pids,
        }
    }

    /// The temporary directory holding etcd's data, certificates, logs and the kubeconfig;
    /// the logs are where to look when a test fails inside the API server.
    pub fn data_dir(&self) -> &Path {
        match &self.plane {
            Plane::Private(plane) => plane.data_dir(),
            Plane::Shared(shared) => &shared.data_dir,
        }
    }

    /// Stops kube-apiserver and starts it again with the same flags: same port, certificates
    /// and etcd, so every object survives and existing clients and kubeconfigs keep working.
    /// Returns once the new process serves again.
    ///
    /// This is how a test proves that a controller rides out an API server restart (an
    /// upgrade, a crash): its watches break, and must resume without losing events.
    ///
    /// Only for a private plane ([`EnvironmentBuilder::start`]): on a shared one, the
    /// restart would break every other test's watches, so it is refused.
    pub async fn restart_api_server(&mut self) -> Result<(), Error> {
        match &mut self.plane {
            Plane::Private(plane) => plane.restart_api_server(&self.admin.api).await,
            Plane::Shared(_) => Err(Error::Start(
                "restart_api_server needs a private control plane, and this one is shared; start this test's with Environment::builder()...start()".into(),
            )),
        }
    }

    /// Installs (or updates, by server-side apply) the CRDs in `dir` and waits until they
    /// are served; returns how many there were. For a control plane that outlives a CRD
    /// change, as in `kubeforge run --watch`.
    ///
    /// With webhooks configured, conversion is pointed at the webhook server as at start.
    pub async fn install_crd_dir(&self, dir: &Path) -> Result<usize, Error> {
        let mut crds = manifests::read_crd_dir(dir)?;
        if let Some(server) = &self.webhook {
            server.rewrite_crds(&mut crds, &self.conversion_crds, false)?;
        }
        crds::install(&self.admin.api, &crds).await?;
        Ok(crds.len())
    }

    /// Where the test must serve its webhooks: `127.0.0.1:<port>` with the certificate in
    /// `cert_dir()`, trusted by the API server through each webhook's `caBundle`. `None`
    /// unless the builder was given a webhook option ([`EnvironmentBuilder::webhooks`],
    /// [`EnvironmentBuilder::webhook_dir`], [`EnvironmentBuilder::conversion_webhook_for`]).
    ///
    /// On a shared plane there is one webhook server per test process: every handle that
    /// asked for webhooks gets the same one, and one server must serve them all.
    pub fn webhook_server(&self) -> Option<&WebhookServer> {
        self.webhook.as_deref()
    }

    /// Stops the control plane without blocking the async runtime (dropping blocks the
    /// current thread for as long as shutdown takes, typically well under a second).
    ///
    /// On a shared plane, deletes this handle's namespaces and everything in them instead
    /// (envtest runs no namespace controller, so this does its work), and leaves the plane
    /// running; a failure is logged. Dropping a shared handle without `stop` (a panicking
    /// test) leaves its namespace until the process exits.
    pub async fn stop(self) {
        if let Plane::Shared(_) = self.plane {
            #[cfg(feature = "client")]
            self.delete_namespaces().await;
            return;
        }
        if let Err(e) = tokio::task::spawn_blocking(move || drop(self)).await {
            tracing::warn!(error = %e, "envtest shutdown task failed");
        }
    }

    /// Deletes the namespaces this handle made; a failure is logged.
    #[cfg(feature = "client")]
    async fn delete_namespaces(&self) {
        let namespaces = std::mem::take(
            &mut *self
                .namespaces
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for namespace in namespaces {
            if let Err(e) = namespaces::delete(&self.client, &namespace).await {
                tracing::warn!(%namespace, error = %e, "could not delete the test's namespace");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Environments are shared across tests (statics, `Arc`) and moved into tasks.
    #[test]
    fn environment_is_send_and_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<Environment>();
        check::<Error>();
    }
}
