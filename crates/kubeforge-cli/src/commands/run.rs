//! `kubeforge run`: the dev loop with no Docker and no kind.
//!
//! With a cluster configured (--kubeconfig or KUBECONFIG) the manager runs
//! against it. Without one, a local control plane from kubeforge-envtest is
//! started, the CRDs are installed and config/samples applied, and the
//! manager runs against that until Ctrl-C; then everything is torn down.

use std::path::Path;
use std::process::{ExitCode, Stdio};

use anyhow::{Context as _, Result, bail};

use crate::cli::RunArgs;
use crate::project::Project;

pub fn run(args: RunArgs) -> Result<ExitCode> {
    let root = std::env::current_dir().context("reading the current directory")?;
    let project = Project::load(&root)?;

    // The manifests must match the code about to run.
    let manifests = super::manifests::plan(&root, &project)?;
    let stale: Vec<String> = manifests
        .stale
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    super::manifests::warn_stale(&stale);
    super::print_summary(&manifests.plan);
    manifests.plan.apply()?;

    let manager_crate = format!("{}-manager", project.project_name);
    // Build before starting anything, so compile errors come first and fast.
    let manager = crate::cargo_bin::build(&root, &manager_crate, "manager", args.release)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        match &args.kubeconfig {
            Some(kubeconfig) => {
                eprintln!(
                    "Running {manager_crate} against the cluster in {}",
                    kubeconfig.display()
                );
                run_manager(&root, &manager, kubeconfig, &args.manager_args).await
            }
            None => run_local(&root, &project, &manager, &args.manager_args).await,
        }
    })
}

async fn run_local(
    root: &Path,
    project: &Project,
    manager: &Path,
    manager_args: &[String],
) -> Result<ExitCode> {
    let assets = kubeforge_envtest::assets::find()?;
    eprintln!("No cluster configured: starting a local control plane (etcd + kube-apiserver)...");
    let env = kubeforge_envtest::Environment::builder()
        .crd_dir(root.join("config/crd/bases"))
        .start()
        .await?;
    let kubeconfig = env.kubeconfig_path().to_path_buf();
    let result = async {
        apply_samples(root, &assets.kubectl, &kubeconfig).await?;
        eprintln!("Control plane ready. From another terminal:");
        eprintln!("  export KUBECONFIG={}", kubeconfig.display());
        if let Some(resource) = project.resources.iter().find(|r| r.api.is_some()) {
            eprintln!("  {} get {}", assets.kubectl.display(), resource.plural);
        }
        eprintln!("Press Ctrl-C to stop the operator and the control plane.");
        run_manager(root, manager, &kubeconfig, manager_args).await
    }
    .await;
    env.stop().await;
    result
}

/// `kubectl apply -k config/samples`, when there are samples.
async fn apply_samples(root: &Path, kubectl: &Path, kubeconfig: &Path) -> Result<()> {
    let samples = root.join("config/samples");
    let has_samples = std::fs::read_dir(&samples)
        .map(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.ends_with(".yaml") && name != "kustomization.yaml"
            })
        })
        .unwrap_or(false);
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

/// Runs the built manager until it exits or Ctrl-C, which the manager also
/// receives (same process group) and answers with a graceful shutdown.
async fn run_manager(
    root: &Path,
    manager: &Path,
    kubeconfig: &Path,
    manager_args: &[String],
) -> Result<ExitCode> {
    let mut child = tokio::process::Command::new(manager)
        .args(manager_args)
        .env("KUBECONFIG", kubeconfig)
        .current_dir(root)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", manager.display()))?;
    if let Some(pid) = child.id() {
        eprintln!("Manager running (pid {pid}).");
    }
    let status = tokio::select! {
        status = child.wait() => status?,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("Stopping...");
            // A terminal's Ctrl-C reaches the manager too; a signal sent to
            // kubeforge alone (by a script) must be passed on.
            if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
                // SAFETY: kill(2) with a pid we spawned and a valid signal.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
            match tokio::time::timeout(std::time::Duration::from_secs(30), child.wait()).await {
                Ok(status) => status?,
                Err(_) => {
                    child.kill().await?;
                    child.wait().await?
                }
            }
        }
    };
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
