//! The public face of a control plane: [`EnvironmentBuilder`] collects what to start with,
//! [`Environment`] hands out clients and kubeconfigs. The work is done by
//! `control_plane` (processes), `kubeconfig` (admin access), `crds` (CRD installation) and
//! `webhooks` (webhook configurations pointed at the test's own server).

use std::path::{Path, PathBuf};
use std::time::Instant;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::config::Kubeconfig;

use crate::Error;
use crate::assets::{self, Assets};
use crate::certs::Pki;
use crate::control_plane::{self, ControlPlane};
use crate::crds;
use crate::kubeconfig::AdminKubeconfig;
use crate::manifests;
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
    /// A start that fails because of a lost race for a free port, or a machine too busy to
    /// start in time, is retried a few times; any other failure is returned at once with
    /// the failing process's last log lines. Nothing is left running or on disk on error.
    pub async fn start(self) -> Result<Environment, Error> {
        let began = Instant::now();
        let assets = match self.assets {
            Some(a) => a,
            None => assets::find()?,
        };
        // Parse everything first: a bad manifest is not worth starting processes for.
        let mut crds = Vec::new();
        for dir in &self.crd_dirs {
            crds.extend(manifests::read_crd_dir(dir)?);
        }
        crds.extend(self.crds);
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

        let mut env = control_plane::retry_start(|| launch(&assets, parent)).await?;
        crds::install(&env.client, &crds).await?;
        if let Some((server, configs)) = webhook_configs {
            webhooks::install(&env.client, &configs).await?;
            tracing::info!(
                port = server.port(),
                cert_dir = %server.cert_dir().display(),
                mutating = configs.mutating.len(),
                validating = configs.validating.len(),
                "envtest webhooks installed"
            );
            env.webhook = Some(server);
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
}

/// One start attempt: processes, then the admin kubeconfig and clients, then readiness.
/// A failure drops the control plane, which tears down whatever was started.
async fn launch(assets: &Assets, parent: Option<&Path>) -> Result<Environment, Error> {
    let pki = Pki::generate()?;
    let mut plane = ControlPlane::launch(assets, parent, |dir| pki.write_files(dir)).await?;
    let admin = AdminKubeconfig::write(plane.data_dir(), plane.server_url(), &pki).await?;
    // Probes must fail fast instead of being retried inside the client.
    let probe = control_plane::probe_client(&admin.config)?;
    let client = kube::Client::try_from(admin.config.clone())
        .map_err(|e| Error::kube("building the admin client", e))?;
    plane.wait_until_ready(&probe).await?;
    Ok(Environment {
        client,
        admin,
        plane,
        webhook: None,
        conversion_crds: Vec::new(),
    })
}

/// A running local control plane: a real etcd and kube-apiserver, so tests see real
/// validation, defaulting, RBAC and watch semantics instead of a mock's.
///
/// Dropping it stops the processes and deletes its data. Each environment has its own
/// ports, certificates and data directory, so any number can run side by side (e.g. one
/// per test).
pub struct Environment {
    client: kube::Client,
    admin: AdminKubeconfig,
    plane: ControlPlane,
    /// Dropped after `plane`, so the API server is gone before its webhook certificates.
    webhook: Option<WebhookServer>,
    /// CRDs the test asked to convert through the webhook server, for later installs.
    conversion_crds: Vec<String>,
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("server", &self.server_url())
            .field("kubeconfig_path", &self.kubeconfig_path())
            .field("pids", &self.pids())
            .field(
                "webhook_port",
                &self.webhook.as_ref().map(WebhookServer::port),
            )
            .finish_non_exhaustive()
    }
}

impl Environment {
    /// A builder, for CRDs, binary locations or where the data directory goes.
    pub fn builder() -> EnvironmentBuilder {
        EnvironmentBuilder::default()
    }

    /// Starts a control plane with no CRDs and binaries from [`assets::find`]; the
    /// shortcut for tests of built-in kinds.
    pub async fn start() -> Result<Environment, Error> {
        Self::builder().start().await
    }

    /// A client authenticated as `admin` (group `system:masters`: bypasses RBAC), for test
    /// setup and assertions. To test what the operator itself may do, use
    /// [`Self::service_account_client`].
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The admin client configuration, to build clients with other settings (timeouts,
    /// impersonation, a different default namespace).
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
    pub fn kubeconfig(&self) -> Kubeconfig {
        self.admin.kubeconfig.clone()
    }

    /// The API server URL, `https://127.0.0.1:<port>`; it stays the same across
    /// [`Self::restart_api_server`].
    pub fn server_url(&self) -> &str {
        self.plane.server_url()
    }

    /// Process ids of etcd and kube-apiserver, so tests can check nothing outlives the
    /// environment.
    pub fn pids(&self) -> ProcessIds {
        self.plane.pids()
    }

    /// The temporary directory holding etcd's data, certificates, logs and the kubeconfig;
    /// the logs are where to look when a test fails inside the API server.
    pub fn data_dir(&self) -> &Path {
        self.plane.data_dir()
    }

    /// Stops kube-apiserver and starts it again with the same flags: same port, certificates
    /// and etcd, so every object survives and existing clients and kubeconfigs keep working.
    /// Returns once the new process serves again.
    ///
    /// This is how a test proves that a controller rides out an API server restart (an
    /// upgrade, a crash): its watches break, and must resume without losing events.
    pub async fn restart_api_server(&mut self) -> Result<(), Error> {
        let probe = control_plane::probe_client(&self.admin.config)?;
        self.plane.restart_api_server(&probe).await
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
        crds::install(&self.client, &crds).await?;
        Ok(crds.len())
    }

    /// Where the test must serve its webhooks: `127.0.0.1:<port>` with the certificate in
    /// `cert_dir()`, trusted by the API server through each webhook's `caBundle`. `None`
    /// unless the builder was given a webhook option ([`EnvironmentBuilder::webhooks`],
    /// [`EnvironmentBuilder::webhook_dir`], [`EnvironmentBuilder::conversion_webhook_for`]).
    pub fn webhook_server(&self) -> Option<&WebhookServer> {
        self.webhook.as_ref()
    }

    /// Stops the control plane without blocking the async runtime (dropping blocks the
    /// current thread for as long as shutdown takes, typically well under a second).
    pub async fn stop(self) {
        if let Err(e) = tokio::task::spawn_blocking(move || drop(self)).await {
            tracing::warn!(error = %e, "envtest shutdown task failed");
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
