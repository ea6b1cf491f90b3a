//! `kubeforge run`: the dev loop with no Docker and no kind.
//!
//! With a cluster configured (--kubeconfig or KUBECONFIG) the manager runs
//! against it. Without one, a local control plane from kubeforge-envtest is
//! started, the CRDs are installed and config/samples applied, and the
//! manager runs against that until Ctrl-C; then everything is torn down.
//!
//! Webhooks: on a local control plane the manager serves them itself, with
//! a certificate kubeforge-envtest makes, and the webhook configurations
//! (and conversion CRDs) installed there point at it, which Kubebuilder's
//! `make run` cannot do. Against a cluster, webhooks are left to the
//! deployed operator (ENABLE_WEBHOOKS=false), since the cluster calls its
//! Service, not this machine.
//!
//! With `--watch`, a change to the project's sources regenerates the
//! manifests, rebuilds the manager and restarts it, keeping the control plane
//! (and every object in it) running; a build that fails leaves the running
//! manager alone.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use tokio::process::Child;
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::RunArgs;
use crate::project::Project;
use crate::source_watch::Snapshot;

/// How often `--watch` looks for changed sources.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

/// How long the manager gets to shut down gracefully before it is killed.
const MANAGER_STOP_TIMEOUT: Duration = Duration::from_secs(30);

pub fn run(args: RunArgs) -> Result<ExitCode> {
    let root = std::env::current_dir().context("reading the current directory")?;
    let project = Project::load(&root)?;
    let session = Session {
        manager_crate: format!("{}-manager", project.project_name),
        root,
        project,
        release: args.release,
        manager_args: args.manager_args,
    };
    // Build before starting anything, so compile errors come first and fast.
    let manager = session.regenerate_and_build()?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        match &args.kubeconfig {
            Some(kubeconfig) => {
                eprintln!(
                    "Running {} against the cluster in {}",
                    session.manager_crate,
                    kubeconfig.display()
                );
                session
                    .supervise(manager, kubeconfig, None, args.watch)
                    .await
            }
            None => session.run_local(manager, args.watch).await,
        }
    })
}

/// One `kubeforge run`: the project and how its manager is built and run.
struct Session {
    root: PathBuf,
    project: Project,
    manager_crate: String,
    release: bool,
    manager_args: Vec<String>,
}

impl Session {
    /// Brings the manifests in line with the code, then builds the manager;
    /// returns the manager binary.
    fn regenerate_and_build(&self) -> Result<PathBuf> {
        let manifests = super::manifests::plan(
            &self.root,
            &self.project,
            super::manifests::CrdgenBuild::WithManager,
        )?;
        // A CRD etcd cannot store fails here, as in `kubeforge manifests`.
        manifests.check_sizes()?;
        manifests.warn();
        super::print_summary(&manifests.plan);
        manifests.plan.apply()?;
        let packages = crate::cargo_bin::Packages::one(&self.manager_crate);
        crate::cargo_bin::build(&self.root, &packages, "manager", self.release)
    }

    async fn run_local(&self, manager: PathBuf, watch: bool) -> Result<ExitCode> {
        eprintln!(
            "No cluster configured: starting a local control plane (etcd + kube-apiserver)..."
        );
        let mut builder =
            kubeforge_envtest::Environment::builder().crd_dir(self.root.join("config/crd/bases"));
        let webhooks = self.root.join(super::manifests::WEBHOOK_FILE);
        if webhooks.is_file() {
            builder = builder.webhook_dir(self.root.join("config/webhook"));
        }
        let env = builder.start().await?;
        if let Some(server) = env.webhook_server() {
            eprintln!(
                "Webhooks: the API server calls the manager at https://127.0.0.1:{} (certificate in {}).",
                server.port(),
                server.cert_dir().display()
            );
        }
        let kubeconfig = env.kubeconfig_path().to_path_buf();
        let result = self
            .supervise(manager, &kubeconfig, Some(&env), watch)
            .await;
        env.stop().await;
        result
    }

    /// Runs the built manager until it exits or Ctrl-C (or SIGTERM), which
    /// it also receives and answers with a graceful shutdown. With `watch`,
    /// rebuilds and restarts it whenever the sources change; a manager that
    /// exits is then restarted by the next change instead of ending the run.
    async fn supervise(
        &self,
        mut binary: PathBuf,
        kubeconfig: &Path,
        local: Option<&kubeforge_envtest::Environment>,
        watch: bool,
    ) -> Result<ExitCode> {
        let mut interrupt = signal(SignalKind::interrupt()).context("handling SIGINT")?;
        let mut terminate = signal(SignalKind::terminate()).context("handling SIGTERM")?;
        if local.is_some() {
            self.announce_local(kubeconfig)?;
        }
        let mut manager = Some(self.spawn_manager(&binary, kubeconfig, local)?);
        if let Some(env) = local {
            self.after_first_start(env, kubeconfig).await?;
        }
        let mut seen = if watch {
            Snapshot::take(&self.root)
        } else {
            Snapshot::default()
        };
        let mut tick = tokio::time::interval(WATCH_INTERVAL);
        // After a long rebuild, look once more rather than once per missed tick.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        if watch {
            eprintln!("Watching the sources: a saved change rebuilds and restarts the manager.");
        }
        loop {
            tokio::select! {
                status = wait(&mut manager) => {
                    let status = status.context("waiting for the manager")?;
                    if !watch {
                        return Ok(exit_code(status));
                    }
                    eprintln!("Manager exited ({status}); the next saved change restarts it.");
                    manager = None;
                }
                _ = interrupt.recv() => return stop(manager).await,
                _ = terminate.recv() => return stop(manager).await,
                _ = tick.tick(), if watch => {
                    let changed = settled_changes(&self.root, &mut seen).await;
                    if changed.is_empty() {
                        continue;
                    }
                    let names: Vec<String> = changed.iter().map(|p| p.display().to_string()).collect();
                    eprintln!("Changed: {}; rebuilding...", names.join(", "));
                    match self.rebuild(local).await {
                        Ok(rebuilt) => {
                            binary = rebuilt;
                            if let Some(old) = manager.take() {
                                stop_manager(old).await?;
                            }
                            manager = Some(self.spawn_manager(&binary, kubeconfig, local)?);
                        }
                        Err(error) => eprintln!(
                            "error: {error:#}\nThe manager keeps running as it was; save a fix to try again."
                        ),
                    }
                }
            }
        }
    }

    /// Regenerates the manifests and rebuilds the manager off the async
    /// runtime; on a local control plane also updates the installed CRDs.
    async fn rebuild(&self, local: Option<&kubeforge_envtest::Environment>) -> Result<PathBuf> {
        let binary = tokio::task::block_in_place(|| self.regenerate_and_build())?;
        match local {
            Some(env) => {
                env.install_crd_dir(&self.root.join("config/crd/bases"))
                    .await?;
            }
            None => eprintln!(
                "note: CRDs are not updated in your cluster for you; run `make install` if they changed."
            ),
        }
        Ok(binary)
    }

    /// Says where the local control plane is, before the manager starts.
    fn announce_local(&self, kubeconfig: &Path) -> Result<()> {
        let assets = kubeforge_envtest::assets::find()?;
        eprintln!("Control plane ready. From another terminal:");
        eprintln!("  export KUBECONFIG={}", kubeconfig.display());
        if let Some(resource) = self.project.resources.iter().find(|r| r.api.is_some()) {
            eprintln!("  {} get {}", assets.kubectl.display(), resource.plural);
        }
        Ok(())
    }

    /// Once the manager runs on the local control plane: waits for its
    /// webhook server (objects cannot be created before it answers), then
    /// applies the samples.
    async fn after_first_start(
        &self,
        env: &kubeforge_envtest::Environment,
        kubeconfig: &Path,
    ) -> Result<()> {
        let assets = kubeforge_envtest::assets::find()?;
        if let Some(server) = env.webhook_server() {
            wait_for_port(server.port()).await?;
        }
        apply_samples(&self.root, &assets.kubectl, kubeconfig).await?;
        eprintln!("Press Ctrl-C to stop the operator and the control plane.");
        Ok(())
    }

    fn spawn_manager(
        &self,
        binary: &Path,
        kubeconfig: &Path,
        local: Option<&kubeforge_envtest::Environment>,
    ) -> Result<Child> {
        let mut command = tokio::process::Command::new(binary);
        // The manager's own flags and environment win over these.
        match local.and_then(|env| env.webhook_server()) {
            Some(server) => {
                command
                    .env("WEBHOOK_PORT", server.port().to_string())
                    .env("WEBHOOK_CERT_PATH", server.cert_dir());
            }
            None if std::env::var_os("ENABLE_WEBHOOKS").is_none() => {
                command.env("ENABLE_WEBHOOKS", "false");
            }
            None => {}
        }
        let child = command
            .args(&self.manager_args)
            .env("KUBECONFIG", kubeconfig)
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        if let Some(pid) = child.id() {
            eprintln!("Manager running (pid {pid}).");
        }
        Ok(child)
    }
}

/// Waits until something listens on the local `port` (the manager's webhook
/// server), for as long as a manager takes to start.
async fn wait_for_port(port: u16) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "the manager's webhook server did not listen on port {port} within 60 s; is ENABLE_WEBHOOKS=false set, or did the manager fail (its log is above)?"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The sources changed since `seen`, once they have stopped changing (an
/// editor or `git checkout` writes several files in a row); updates `seen`.
async fn settled_changes(root: &Path, seen: &mut Snapshot) -> Vec<PathBuf> {
    let mut latest = Snapshot::take(root);
    if latest == *seen {
        return Vec::new();
    }
    loop {
        tokio::time::sleep(WATCH_INTERVAL).await;
        let next = Snapshot::take(root);
        if next == latest {
            break;
        }
        latest = next;
    }
    let changed = latest.changed_since(seen);
    *seen = latest;
    changed
}

/// Stops the manager, if one runs, on the user's request; its exit status
/// becomes the run's.
async fn stop(manager: Option<Child>) -> Result<ExitCode> {
    eprintln!("Stopping...");
    match manager {
        Some(child) => Ok(exit_code(stop_manager(child).await?)),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Waits for the manager, or forever when none runs.
async fn wait(manager: &mut Option<Child>) -> std::io::Result<ExitStatus> {
    match manager {
        Some(child) => child.wait().await,
        None => std::future::pending().await,
    }
}

/// SIGTERM, as Kubernetes would send, then SIGKILL after
/// [`MANAGER_STOP_TIMEOUT`]. A terminal's Ctrl-C reaches the manager too; a
/// signal sent to kubeforge alone (by a script) must be passed on.
async fn stop_manager(mut child: Child) -> Result<ExitStatus> {
    if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
        // SAFETY: kill(2) with a pid we spawned and have not reaped.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    match tokio::time::timeout(MANAGER_STOP_TIMEOUT, child.wait()).await {
        Ok(status) => Ok(status?),
        Err(_) => {
            child.kill().await?;
            Ok(child.wait().await?)
        }
    }
}

fn exit_code(status: ExitStatus) -> ExitCode {
    if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `kubectl apply -k config/samples`, when there are samples.
async fn apply_samples(root: &Path, kubectl: &Path, kubeconfig: &Path) -> Result<()> {
    let samples = root.join("config/samples");
    let has_samples = walkdir::WalkDir::new(&samples)
        .min_depth(1)
        .max_depth(1)
        .into_iter()
        .flatten()
        .any(|e| {
            let name = e.file_name().to_string_lossy();
            name.ends_with(".yaml") && name != "kustomization.yaml"
        });
    if !has_samples {
        return Ok(());
    }
    let status = tokio::process::Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["apply", "--server-side", "-k"])
        .arg(&samples)
        .status()
        .await
        .context("running kubectl")?;
    if !status.success() {
        bail!("applying config/samples failed (kubectl's output is above)");
    }
    Ok(())
}
