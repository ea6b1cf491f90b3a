//! Process lifecycle of the control plane: a data directory, free loopback ports, etcd and
//! kube-apiserver started with the right flags, readiness polling, start retries,
//! kube-apiserver restarts, and teardown in the right order.
//!
//! Nothing here knows about kubeconfigs or CRDs; readiness probes get a client from the
//! caller.

use std::future::Future;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::Error;
use crate::api::ApiClient;
use crate::assets::Assets;
use crate::certs::PkiFiles;
use crate::environment::ProcessIds;
use crate::process::ManagedProcess;

/// How often readiness is polled, and how long start-up may take (envtest's values).
const POLL: Duration = Duration::from_millis(100);
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// One readiness check may hang (a TCP connect to a process that is not listening yet);
/// it is cut off after this long so the process-alive check and the deadline still run.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// etcd gets SIGTERM and this long to exit before SIGKILL.
const ETCD_GRACE: Duration = Duration::from_secs(10);

/// kube-apiserver keeps no state of its own (everything is in etcd), and on SIGTERM it waits
/// about 10 s for open watches, which every controller test has. So it is killed outright,
/// which for a restart is what a crash looks like to the operator under test.
const APISERVER_GRACE: Duration = Duration::ZERO;

/// Free-port picking races with other processes; a lost race shows up as a failed start.
const START_ATTEMPTS: usize = 5;

/// Runs `attempt` until it succeeds, fails in a way a retry cannot fix, or
/// [`START_ATTEMPTS`] attempts have failed. Each attempt must tear down whatever it started.
pub(crate) async fn retry_start<T, F, Fut>(mut attempt: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut number = 1;
    loop {
        match attempt().await {
            Err(Error::Start(message)) if number < START_ATTEMPTS && retryable(&message) => {
                tracing::warn!(
                    attempt = number,
                    %message,
                    "control plane failed to start; retrying"
                );
                number += 1;
            }
            result => return result,
        }
    }
}

/// Whether a failed start is worth retrying: a lost port race (another process bound a port
/// between picking and use) or a machine too busy to start in time. A bad flag or binary
/// fails the same way five times, so it is reported at once.
fn retryable(message: &str) -> bool {
    message.contains("address already in use") || message.contains("not ready after")
}

/// Owns the processes and the data directory; tears them down in the right order on drop.
pub(crate) struct ControlPlane {
    apiserver: Option<ManagedProcess>,
    etcd: Option<ManagedProcess>,
    dir: Option<TempDir>,
    /// How kube-apiserver was started, so [`ControlPlane::restart_api_server`] can start it
    /// again exactly the same way.
    apiserver_spec: ProcessSpec,
    /// `https://127.0.0.1:<port>`.
    server: String,
}

/// A process's name, binary, flags, log file and shutdown grace period.
#[derive(Clone)]
struct ProcessSpec {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    grace: Duration,
}

impl ProcessSpec {
    fn start(&self) -> Result<ManagedProcess, Error> {
        ManagedProcess::start(
            self.name,
            &self.program,
            &self.args,
            self.log.clone(),
            self.grace,
        )
    }
}

impl ControlPlane {
    /// Creates the data directory (in `parent`, or the system temp dir), lets `write_pki`
    /// put the certificates in it, starts etcd, waits until it accepts connections, and
    /// starts kube-apiserver. Does not wait for kube-apiserver: that needs a client, see
    /// [`Self::wait_until_ready`].
    ///
    /// Any failure tears down whatever was started (via `Drop`). Errors that a retry could
    /// fix are [`Error::Start`].
    pub(crate) async fn launch(
        assets: &Assets,
        parent: Option<&Path>,
        write_pki: impl FnOnce(&Path) -> Result<PkiFiles, Error>,
    ) -> Result<Self, Error> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("kubeforge-envtest-");
        let dir = match parent {
            Some(parent) => builder.tempdir_in(parent),
            None => builder.tempdir(),
        }
        .map_err(|e| Error::io("creating the envtest data dir", e))?;
        let root = dir.path().to_owned();
        let pki = write_pki(&root.join("pki"))?;

        let [etcd_port, peer_port, api_port] = free_ports::<3>()?;
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let server = format!("https://127.0.0.1:{api_port}");
        let etcd_spec = etcd_spec(assets, &root, &etcd_url, peer_port);
        let apiserver_spec = apiserver_spec(assets, &root, &pki, api_port, &etcd_url, &server);

        let mut plane = ControlPlane {
            apiserver: None,
            etcd: None,
            dir: Some(dir),
            apiserver_spec,
            server,
        };
        plane.etcd = Some(etcd_spec.start()?);
        // The apiserver gives up on an unreachable etcd after a while; don't start it early.
        plane
            .wait_until("etcd", || async move {
                tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, etcd_port))
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
            .await?;
        plane.apiserver = Some(plane.apiserver_spec.start()?);
        Ok(plane)
    }

    /// The API server URL, `https://127.0.0.1:<port>`.
    pub(crate) fn server_url(&self) -> &str {
        &self.server
    }

    /// The data directory (etcd data, certificates, logs, kubeconfig).
    pub(crate) fn data_dir(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), TempDir::path)
    }

    /// Process ids, 0 for a process that is not running.
    pub(crate) fn pids(&self) -> ProcessIds {
        ProcessIds {
            etcd: self.etcd.as_ref().map_or(0, ManagedProcess::pid),
            kube_apiserver: self.apiserver.as_ref().map_or(0, ManagedProcess::pid),
        }
    }

    /// Stops kube-apiserver, starts it again with the same flags, and waits until it serves.
    pub(crate) async fn restart_api_server(&mut self, api: &ApiClient) -> Result<(), Error> {
        if let Some(mut old) = self.apiserver.take() {
            // Stopping blocks until the process exits (SIGTERM, then SIGKILL after a grace
            // period); keep that off the async runtime's worker threads.
            tokio::task::spawn_blocking(move || old.stop())
                .await
                .map_err(|e| Error::Start(format!("stopping kube-apiserver failed: {e}")))?;
        }
        self.apiserver = Some(self.apiserver_spec.start()?);
        self.wait_until_ready(api).await
    }

    /// Waits until kube-apiserver is ready and serves the `default` namespace.
    pub(crate) async fn wait_until_ready(&mut self, api: &ApiClient) -> Result<(), Error> {
        // A probe must fail fast instead of being retried: a retried one would outlast its
        // per-check timeout.
        let probe = api.probe(CHECK_TIMEOUT);
        // /readyz includes the RBAC bootstrap and CRD informers, so everything after works.
        self.wait_until("kube-apiserver /readyz", || {
            let probe = probe.clone();
            async move {
                probe
                    .get_text("/readyz")
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
        .await?;
        self.wait_until("the default namespace", || {
            let probe = probe.clone();
            async move {
                probe
                    .get("/api/v1/namespaces/default")
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
        .await
    }

    /// Polls `check` every [`POLL`] until it succeeds, a process dies, or [`START_TIMEOUT`].
    async fn wait_until<F, Fut>(&mut self, what: &str, mut check: F) -> Result<(), Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            self.check_alive()?;
            let last_error = match tokio::time::timeout(CHECK_TIMEOUT, check()).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => e,
                Err(_) => "request timed out".to_string(),
            };
            if Instant::now() >= deadline {
                return Err(Error::Start(format!(
                    "{what} not ready after {}s (last error: {last_error}); kube-apiserver log: {}",
                    START_TIMEOUT.as_secs(),
                    self.apiserver_log_tail()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

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

/// `n` distinct free loopback ports. All listeners are held until every port is chosen so
/// the kernel cannot hand out the same port twice; another process can still grab one
/// after they close, which the start retry covers.
pub(crate) fn free_ports<const N: usize>() -> Result<[u16; N], Error> {
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

fn arg(name: &str, value: impl std::fmt::Display) -> String {
    format!("--{name}={value}")
}

/// A single-member etcd cluster on loopback with its data in `root/etcd`.
fn etcd_spec(assets: &Assets, root: &Path, etcd_url: &str, peer_port: u16) -> ProcessSpec {
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let mut args = vec![
        arg("name", "envtest"),
        arg("data-dir", root.join("etcd").display()),
        arg("listen-client-urls", etcd_url),
        arg("advertise-client-urls", etcd_url),
        arg("listen-peer-urls", &peer_url),
        arg("initial-advertise-peer-urls", &peer_url),
        arg("initial-cluster", format!("envtest={peer_url}")),
        arg("log-level", "warn"),
    ];
    if etcd_supports_no_fsync(&assets.etcd) {
        args.push(arg("unsafe-no-fsync", true));
    }
    ProcessSpec {
        name: "etcd",
        program: assets.etcd.clone(),
        args,
        log: root.join("etcd.log"),
        grace: ETCD_GRACE,
    }
}

/// kube-apiserver on `127.0.0.1:api_port` with RBAC, client-certificate auth and
/// ServiceAccount tokens signed by this environment's keys.
fn apiserver_spec(
    assets: &Assets,
    root: &Path,
    pki: &PkiFiles,
    api_port: u16,
    etcd_url: &str,
    server: &str,
) -> ProcessSpec {
    let args = vec![
        arg("allow-privileged", true),
        arg("authorization-mode", "RBAC"),
        arg("bind-address", "127.0.0.1"),
        // Without it the apiserver looks for a routable interface, which a sandbox may lack.
        // A loopback address is only accepted without an endpoint reconciler; nothing runs
        // in-cluster here, so the `kubernetes` Service needs no endpoints.
        arg("advertise-address", "127.0.0.1"),
        arg("endpoint-reconciler-type", "none"),
        arg("secure-port", api_port),
        arg("cert-dir", pki.dir.display()),
        arg("tls-cert-file", pki.serving_cert.display()),
        arg("tls-private-key-file", pki.serving_key.display()),
        arg("client-ca-file", pki.client_ca.display()),
        // Tests should not need a default ServiceAccount (no controller-manager creates it).
        arg("disable-admission-plugins", "ServiceAccount"),
        arg("etcd-servers", etcd_url),
        arg("service-account-issuer", format!("{server}/")),
        arg("service-account-key-file", pki.sa_public_key.display()),
        arg(
            "service-account-signing-key-file",
            pki.sa_private_key.display(),
        ),
        arg("service-cluster-ip-range", "10.0.0.0/24"),
    ];
    ProcessSpec {
        name: "kube-apiserver",
        program: assets.kube_apiserver.clone(),
        args,
        log: root.join("kube-apiserver.log"),
        grace: APISERVER_GRACE,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct() {
        let [a, b, c] = free_ports::<3>().expect("ports");
        assert!(a != b && b != c && a != c);
    }

    #[test]
    fn only_port_races_and_slow_starts_are_retried() {
        assert!(retryable(
            "etcd exited during start-up (exit status: 1): listen tcp 127.0.0.1:1: bind: address already in use"
        ));
        assert!(retryable(
            "etcd not ready after 20s (last error: connection refused); kube-apiserver log: "
        ));
        assert!(!retryable(
            "kube-apiserver exited during start-up (exit status: 1): unknown flag: --bogus"
        ));
    }

    #[tokio::test]
    async fn retry_start_stops_at_the_first_permanent_error_or_the_attempt_limit() {
        let mut calls = 0;
        let result: Result<(), Error> = retry_start(|| {
            calls += 1;
            async { Err(Error::Start("bind: address already in use".into())) }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls, START_ATTEMPTS);

        let mut calls = 0;
        let result: Result<(), Error> = retry_start(|| {
            calls += 1;
            async { Err(Error::Start("unknown flag: --bogus".into())) }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls, 1);

        let mut calls = 0;
        let result = retry_start(|| {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(Error::Start("not ready after 20s".into()))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(result.expect("third attempt succeeds"), 3);
    }
}
