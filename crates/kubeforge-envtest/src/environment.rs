//! The control plane: etcd + kube-apiserver on loopback, with CRDs installed.

use std::future::Future;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use tempfile::TempDir;

use crate::Error;
use crate::assets::{self, Assets};
use crate::certs::Pki;
use crate::manifests;
use crate::process::ManagedProcess;

/// How often readiness is polled, and how long start-up may take (envtest's values).
const POLL: Duration = Duration::from_millis(100);
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// etcd gets SIGTERM and this long to exit before SIGKILL.
const ETCD_GRACE: Duration = Duration::from_secs(10);

/// kube-apiserver keeps no state of its own (everything is in etcd), and on SIGTERM it waits
/// about 10 s for open watches, which every controller test has. So it is killed outright,
/// which for a restart is what a crash looks like to the operator under test.
const APISERVER_GRACE: Duration = Duration::ZERO;
/// Free-port picking races with other processes; a lost race shows up as a failed start.
const START_ATTEMPTS: usize = 5;
/// Server-side apply field manager for everything this crate writes.
pub(crate) const FIELD_MANAGER: &str = "kubeforge-envtest";

/// Process ids of the two control-plane processes (for leak checks in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessIds {
    /// etcd's pid.
    pub etcd: u32,
    /// kube-apiserver's pid.
    pub kube_apiserver: u32,
}

/// Configures and starts an [`Environment`].
#[derive(Debug, Default, Clone)]
#[must_use]
pub struct EnvironmentBuilder {
    crd_dirs: Vec<PathBuf>,
    crds: Vec<CustomResourceDefinition>,
    assets: Option<Assets>,
    data_dir_parent: Option<PathBuf>,
}

impl EnvironmentBuilder {
    /// Installs every CustomResourceDefinition found in `.yaml`/`.yml`/`.json` files directly
    /// in `dir` (multi-document files allowed, other kinds ignored). A missing directory is
    /// an error, so a mistyped path fails loudly instead of testing without CRDs.
    pub fn crd_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.crd_dirs.push(dir.into());
        self
    }

    /// Installs these CRDs (e.g. from `MyKind::crd()`), after those from [`Self::crd_dir`].
    pub fn crds(mut self, crds: impl IntoIterator<Item = CustomResourceDefinition>) -> Self {
        self.crds.extend(crds);
        self
    }

    /// Uses these binaries instead of looking them up with [`assets::find`].
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

    /// Starts etcd and kube-apiserver, waits until they serve, installs the CRDs and waits
    /// until they are established and servable.
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

        let mut attempt = 1;
        let env = loop {
            match launch(&assets, self.data_dir_parent.as_deref()).await {
                Ok(env) => break env,
                Err(Error::Start(message)) if attempt < START_ATTEMPTS && retryable(&message) => {
                    tracing::warn!(attempt, %message, "control plane failed to start; retrying");
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        };
        install_crds(&env.client, &crds).await?;
        tracing::info!(
            elapsed_ms = began.elapsed().as_millis() as u64,
            url = %env.server,
            crds = crds.len(),
            "envtest control plane ready"
        );
        Ok(env)
    }
}

/// A running local control plane. Dropping it stops the processes and deletes its data.
///
/// Each environment has its own ports, certificates and data directory, so any number can
/// run side by side (e.g. one per test).
pub struct Environment {
    client: kube::Client,
    config: kube::Config,
    kubeconfig: Kubeconfig,
    kubeconfig_path: PathBuf,
    server: String,
    plane: ControlPlane,
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("server", &self.server)
            .field("kubeconfig_path", &self.kubeconfig_path)
            .field("pids", &self.pids())
            .finish_non_exhaustive()
    }
}

impl Environment {
    /// A builder for CRDs and binary locations.
    pub fn builder() -> EnvironmentBuilder {
        EnvironmentBuilder::default()
    }

    /// Starts a control plane with no CRDs and binaries from [`assets::find`].
    pub async fn start() -> Result<Environment, Error> {
        Self::builder().start().await
    }

    /// A client authenticated as `admin` (group `system:masters`: bypasses RBAC).
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The admin client configuration, to build clients with other settings.
    pub fn config(&self) -> kube::Config {
        self.config.clone()
    }

    /// A self-contained kubeconfig (certificates embedded) for the admin user, usable by
    /// kubectl and `kube::Config`. Deleted with the environment.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    /// The same kubeconfig, parsed.
    pub fn kubeconfig(&self) -> Kubeconfig {
        self.kubeconfig.clone()
    }

    /// The API server URL, `https://127.0.0.1:<port>`.
    pub fn server_url(&self) -> &str {
        &self.server
    }

    /// Process ids of etcd and kube-apiserver.
    pub fn pids(&self) -> ProcessIds {
        ProcessIds {
            etcd: self.plane.etcd.as_ref().map_or(0, ManagedProcess::pid),
            kube_apiserver: self.plane.apiserver.as_ref().map_or(0, ManagedProcess::pid),
        }
    }

    /// The temporary directory holding etcd's data, certificates, logs and the kubeconfig.
    pub fn data_dir(&self) -> &Path {
        self.plane.dir.as_ref().map_or(Path::new(""), TempDir::path)
    }

    /// Stops kube-apiserver and starts it again with the same flags: same port, certificates
    /// and etcd, so every object survives and existing clients and kubeconfigs keep working.
    /// Returns once the new process serves again.
    ///
    /// This is how a test proves that a controller rides out an API server restart (an
    /// upgrade, a crash): its watches break, and must resume without losing events.
    pub async fn restart_api_server(&mut self) -> Result<(), Error> {
        let command = self
            .plane
            .apiserver_command
            .clone()
            .ok_or_else(|| Error::Start("kube-apiserver was never started".into()))?;
        if let Some(mut old) = self.plane.apiserver.take() {
            // Stopping blocks until the process exits (SIGTERM, then SIGKILL after a grace
            // period); keep that off the async runtime's worker threads.
            tokio::task::spawn_blocking(move || old.stop())
                .await
                .map_err(|e| Error::Start(format!("stopping kube-apiserver failed: {e}")))?;
        }
        self.plane.apiserver = Some(command.start("kube-apiserver")?);
        let probe = probe_client(&self.config)?;
        wait_for_apiserver(&mut self.plane, &probe).await
    }

    /// Installs (or updates, by server-side apply) the CRDs in `dir` and waits until they
    /// are served; returns how many there were. For a control plane that outlives a CRD
    /// change, as in `kubeforge run --watch`.
    pub async fn install_crd_dir(&self, dir: &Path) -> Result<usize, Error> {
        let crds = manifests::read_crd_dir(dir)?;
        install_crds(&self.client, &crds).await?;
        Ok(crds.len())
    }

    /// Stops the control plane without blocking the async runtime (dropping blocks the
    /// current thread for as long as shutdown takes, typically well under a second).
    pub async fn stop(self) {
        if let Err(e) = tokio::task::spawn_blocking(move || drop(self)).await {
            tracing::warn!(error = %e, "envtest shutdown task failed");
        }
    }
}

/// Owns the processes and the temp dir; tears them down in the right order on drop.
struct ControlPlane {
    apiserver: Option<ManagedProcess>,
    etcd: Option<ManagedProcess>,
    dir: Option<TempDir>,
    /// How kube-apiserver was started, so [`Environment::restart_api_server`] can start it
    /// again exactly the same way.
    apiserver_command: Option<Command>,
}

/// A process's binary, flags, log file and shutdown grace period.
#[derive(Clone)]
struct Command {
    program: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    grace: Duration,
}

impl Command {
    fn start(&self, name: &'static str) -> Result<ManagedProcess, Error> {
        ManagedProcess::start(
            name,
            &self.program,
            &self.args,
            self.log.clone(),
            self.grace,
        )
    }
}

impl ControlPlane {
    /// An error describing the first process that has exited, with its last log lines.
    fn check_alive(&mut self) -> Result<(), Error> {
        for process in [self.etcd.as_mut(), self.apiserver.as_mut()]
            .into_iter()
            .flatten()
        {
            if let Some(status) = process.exited() {
                return Err(Error::Start(format!(
                    "{} exited during start-up ({status}): {}",
                    process.name(),
                    process.log_tail(8)
                )));
            }
        }
        Ok(())
    }

    fn apiserver_log_tail(&self) -> String {
        self.apiserver
            .as_ref()
            .map(|p| p.log_tail(5))
            .unwrap_or_default()
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        // The apiserver first: stopping etcd under it makes it log and retry for nothing.
        if let Some(mut p) = self.apiserver.take() {
            p.stop();
        }
        if let Some(mut p) = self.etcd.take() {
            p.stop();
        }
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_owned();
            if let Err(e) = dir.close() {
                tracing::warn!(path = %path.display(), error = %e, "could not remove envtest data dir");
            }
        }
    }
}

/// Whether a failed start is worth retrying: a lost port race (another process bound a port
/// between picking and use) or a machine too busy to start in time. A bad flag or binary
/// fails the same way five times, so it is reported at once.
fn retryable(message: &str) -> bool {
    message.contains("address already in use") || message.contains("not ready after")
}

/// `n` distinct free loopback ports. All listeners are held until every port is chosen so
/// the kernel cannot hand out the same port twice; another process can still grab one
/// after they close, which the start retry covers.
fn free_ports<const N: usize>() -> Result<[u16; N], Error> {
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0u16; N];
    for port in &mut ports {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| Error::io("picking a free port", e))?;
        *port = l
            .local_addr()
            .map_err(|e| Error::io("picking a free port", e))?
            .port();
        listeners.push(l);
    }
    Ok(ports)
}

fn write_file(dir: &Path, name: &str, contents: &str) -> Result<PathBuf, Error> {
    let path = dir.join(name);
    std::fs::write(&path, contents)
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    Ok(path)
}

fn arg(name: &str, value: impl std::fmt::Display) -> String {
    format!("--{name}={value}")
}

/// Whether this etcd knows `--unsafe-no-fsync` (skipping fsync makes start-up and writes
/// much faster; durability is pointless for throwaway data). Probed once per binary.
fn etcd_supports_no_fsync(etcd: &Path) -> bool {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, bool>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(known) = cache.lock().ok().and_then(|c| c.get(etcd).copied()) {
        return known;
    }
    let supported = std::process::Command::new(etcd)
        .arg("--help")
        .stdin(std::process::Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout).contains("unsafe-no-fsync")
                || String::from_utf8_lossy(&o.stderr).contains("unsafe-no-fsync")
        })
        .unwrap_or(false);
    if let Ok(mut c) = cache.lock() {
        c.insert(etcd.to_owned(), supported);
    }
    supported
}

/// One start attempt. Any failure tears down whatever was started (via `ControlPlane`'s
/// drop). Errors that a retry could fix are `Error::Start`.
async fn launch(assets: &Assets, parent: Option<&Path>) -> Result<Environment, Error> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("kubeforge-envtest-");
    let dir = match parent {
        Some(parent) => builder.tempdir_in(parent),
        None => builder.tempdir(),
    }
    .map_err(|e| Error::io("creating the envtest data dir", e))?;
    let root = dir.path().to_owned();
    let mut plane = ControlPlane {
        apiserver: None,
        etcd: None,
        dir: Some(dir),
        apiserver_command: None,
    };

    let pki = Pki::generate()?;
    let pki_dir = root.join("pki");
    std::fs::create_dir(&pki_dir).map_err(|e| Error::io("creating the pki dir", e))?;
    let serving_cert = write_file(&pki_dir, "apiserver.crt", &pki.serving_cert_pem)?;
    let serving_key = write_file(&pki_dir, "apiserver.key", &pki.serving_key_pem)?;
    let client_ca = write_file(&pki_dir, "client-ca.crt", &pki.client_ca_pem)?;
    let sa_key = write_file(&pki_dir, "sa.key", &pki.sa_private_pem)?;
    let sa_pub = write_file(&pki_dir, "sa.pub", &pki.sa_public_pem)?;

    let [etcd_port, peer_port, api_port] = free_ports::<3>()?;
    let etcd_url = format!("http://127.0.0.1:{etcd_port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let mut etcd_args = vec![
        arg("name", "envtest"),
        arg("data-dir", root.join("etcd").display()),
        arg("listen-client-urls", &etcd_url),
        arg("advertise-client-urls", &etcd_url),
        arg("listen-peer-urls", &peer_url),
        arg("initial-advertise-peer-urls", &peer_url),
        arg("initial-cluster", format!("envtest={peer_url}")),
        arg("log-level", "warn"),
    ];
    if etcd_supports_no_fsync(&assets.etcd) {
        etcd_args.push(arg("unsafe-no-fsync", true));
    }
    plane.etcd = Some(ManagedProcess::start(
        "etcd",
        &assets.etcd,
        &etcd_args,
        root.join("etcd.log"),
        ETCD_GRACE,
    )?);
    // The apiserver gives up on an unreachable etcd after a while; don't start it early.
    wait_until(&mut plane, "etcd", || async move {
        tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, etcd_port))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await?;

    let server = format!("https://127.0.0.1:{api_port}");
    let apiserver_args = vec![
        arg("allow-privileged", true),
        arg("authorization-mode", "RBAC"),
        arg("bind-address", "127.0.0.1"),
        // Without it the apiserver looks for a routable interface, which a sandbox may lack.
        // A loopback address is only accepted without an endpoint reconciler; nothing runs
        // in-cluster here, so the `kubernetes` Service needs no endpoints.
        arg("advertise-address", "127.0.0.1"),
        arg("endpoint-reconciler-type", "none"),
        arg("secure-port", api_port),
        arg("cert-dir", pki_dir.display()),
        arg("tls-cert-file", serving_cert.display()),
        arg("tls-private-key-file", serving_key.display()),
        arg("client-ca-file", client_ca.display()),
        // Tests should not need a default ServiceAccount (no controller-manager creates it).
        arg("disable-admission-plugins", "ServiceAccount"),
        arg("etcd-servers", &etcd_url),
        arg("service-account-issuer", format!("{server}/")),
        arg("service-account-key-file", sa_pub.display()),
        arg("service-account-signing-key-file", sa_key.display()),
        arg("service-cluster-ip-range", "10.0.0.0/24"),
    ];
    let apiserver_command = Command {
        program: assets.kube_apiserver.clone(),
        args: apiserver_args,
        log: root.join("kube-apiserver.log"),
        grace: APISERVER_GRACE,
    };
    plane.apiserver = Some(apiserver_command.start("kube-apiserver")?);
    plane.apiserver_command = Some(apiserver_command);

    let kubeconfig_yaml = kubeconfig_yaml(&server, &pki);
    let kubeconfig_path = write_file(&root, "kubeconfig", &kubeconfig_yaml)?;
    let kubeconfig = Kubeconfig::from_yaml(&kubeconfig_yaml)?;
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &KubeConfigOptions::default())
            .await?;
    // Probes must fail fast instead of being retried inside the client.
    let probe = probe_client(&config)?;
    let client = kube::Client::try_from(config.clone())
        .map_err(|e| Error::kube("building the admin client", e))?;
    wait_for_apiserver(&mut plane, &probe).await?;

    Ok(Environment {
        client,
        config,
        kubeconfig,
        kubeconfig_path,
        server,
        plane,
    })
}

/// A client whose requests fail fast instead of being retried, for readiness probes.
fn probe_client(config: &kube::Config) -> Result<kube::Client, Error> {
    let mut probe_config = config.clone();
    probe_config.default_retry = false;
    kube::Client::try_from(probe_config).map_err(|e| Error::kube("building the admin client", e))
}

/// Waits until kube-apiserver is ready and serves the `default` namespace.
async fn wait_for_apiserver(plane: &mut ControlPlane, probe: &kube::Client) -> Result<(), Error> {
    // /readyz includes the RBAC bootstrap and CRD informers, so everything below works.
    wait_until(plane, "kube-apiserver /readyz", || {
        let probe = probe.clone();
        async move {
            let request = http::Request::get("/readyz")
                .body(Vec::new())
                .map_err(|e| e.to_string())?;
            probe
                .request_text(request)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    })
    .await?;
    wait_until(plane, "the default namespace", || {
        let namespaces: Api<Namespace> = Api::all(probe.clone());
        async move {
            namespaces
                .get("default")
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    })
    .await
}

/// Polls `check` every [`POLL`] until it succeeds, a process dies, or [`START_TIMEOUT`].
async fn wait_until<F, Fut>(plane: &mut ControlPlane, what: &str, mut check: F) -> Result<(), Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        plane.check_alive()?;
        let last_error = match tokio::time::timeout(Duration::from_secs(2), check()).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => e,
            Err(_) => "request timed out".to_string(),
        };
        if Instant::now() >= deadline {
            return Err(Error::Start(format!(
                "{what} not ready after {}s (last error: {last_error}); kube-apiserver log: {}",
                START_TIMEOUT.as_secs(),
                plane.apiserver_log_tail()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

fn kubeconfig_yaml(server: &str, pki: &Pki) -> String {
    let ca = base64(pki.serving_ca_pem.as_bytes());
    let cert = base64(pki.admin_cert_pem.as_bytes());
    let key = base64(pki.admin_key_pem.as_bytes());
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: envtest
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: envtest-admin
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
contexts:
- name: envtest
  context:
    cluster: envtest
    user: envtest-admin
    namespace: default
current-context: envtest
"
    )
}

/// Standard base64 with padding; kubeconfig `*-data` fields need it and it is not worth a
/// dependency.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Creates or updates the CRDs, then waits until each is Established and every served
/// version answers a list request (Established alone can precede the handler by a moment).
async fn install_crds(
    client: &kube::Client,
    crds: &[CustomResourceDefinition],
) -> Result<(), Error> {
    if crds.is_empty() {
        return Ok(());
    }
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let mut crd = crd.clone();
        // Server-side apply rejects these if they came from a dumped object.
        crd.metadata.resource_version = None;
        crd.metadata.managed_fields = None;
        crd.status = None;
        api.patch(&name, &params, &Patch::Apply(&crd))
            .await
            .map_err(|e| Error::kube(format!("installing CRD {name}"), e))?;
    }
    let deadline = Instant::now() + START_TIMEOUT;
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        loop {
            let last = match crd_servable(client, &api, &name).await {
                Ok(()) => break,
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(Error::Timeout(format!("CRD {name} not servable: {last}")));
            }
            tokio::time::sleep(POLL).await;
        }
    }
    Ok(())
}

async fn crd_servable(
    client: &kube::Client,
    api: &Api<CustomResourceDefinition>,
    name: &str,
) -> Result<(), String> {
    let crd = api.get(name).await.map_err(|e| e.to_string())?;
    let established = crd
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conds| {
            conds
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        });
    if !established {
        return Err("not established yet".into());
    }
    for version in crd.spec.versions.iter().filter(|v| v.served) {
        let gvk = GroupVersionKind::gvk(&crd.spec.group, &version.name, &crd.spec.names.kind);
        let resource = ApiResource::from_gvk_with_plural(&gvk, &crd.spec.names.plural);
        let objects: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        objects
            .list(&ListParams::default().limit(1))
            .await
            .map_err(|e| format!("{}: {e}", version.name))?;
    }
    Ok(())
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

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, expected) in cases {
            assert_eq!(base64(input.as_bytes()), expected, "{input}");
        }
    }

    #[test]
    fn free_ports_are_distinct() {
        let [a, b, c] = free_ports::<3>().expect("ports");
        assert!(a != b && b != c && a != c);
    }

    #[test]
    fn generated_kubeconfig_parses() {
        let pki = Pki::generate().expect("pki");
        let kc =
            Kubeconfig::from_yaml(&kubeconfig_yaml("https://127.0.0.1:1234", &pki)).expect("parse");
        assert_eq!(kc.current_context.as_deref(), Some("envtest"));
        let cluster = kc.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:1234"));
    }
}
