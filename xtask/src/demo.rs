//! The main job: the MyApp example operator end to end on a local control
//! plane, the way a newcomer sees the whole mission work with one command.
//!
//! `kubeforge run` does the work: it regenerates the manifests, builds the
//! manager, starts etcd and kube-apiserver, installs the CRDs, applies
//! config/samples and runs the operator. This task waits for the sample to
//! be reconciled, shows what the operator did with kubectl, then stops
//! everything (Ctrl-C, as a user would) and checks nothing is left running.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use crate::{command, envtest_with, kubeforge_binary, shared_target_dir};

/// A running `kubeforge run`: how to reach its control plane and manager.
pub struct Session {
    pub kubeconfig: PathBuf,
    pub kubectl: PathBuf,
    pub manager_pid: u32,
}

impl Session {
    pub fn kubectl(&self, args: &[&str]) -> Result<String> {
        let output = Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .output()
            .context("running kubectl")?;
        if !output.status.success() {
            bail!(
                "kubectl {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `kubectl apply -f -` with `manifest`: whether the API server took
    /// it, and what kubectl printed (warnings and denials go to stderr).
    pub fn apply(&self, manifest: &str) -> Result<(bool, String)> {
        use std::io::Write as _;
        let mut child = Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["apply", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .context("running kubectl apply")?;
        child
            .stdin
            .take()
            .context("kubectl's stdin")?
            .write_all(manifest.as_bytes())
            .context("writing to kubectl")?;
        let output = child.wait_with_output().context("waiting for kubectl")?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        Ok((output.status.success(), text.trim().to_string()))
    }

    /// Waits until the sample's status says its current generation was seen.
    pub fn wait_for_sample(&self) -> Result<()> {
        self.kubectl(&[
            "wait",
            "--for=jsonpath={.status.observedGeneration}=1",
            "myapp/myapp-sample",
            "--timeout=120s",
        ])
        .map(drop)
    }
}

pub fn run() -> Result<()> {
    let example = crate::example::dir();
    let target = shared_target_dir()?;
    // On a fresh machine the control plane is minutes of Go (or a download)
    // and the CLI and the example minutes of cargo, each leaving a core idle
    // at times (module downloads, single-threaded links, k8s-openapi's one
    // big crate): the plane is fetched in the background from the start,
    // through the library `kubeforge envtest` calls, while cargo builds the
    // CLI and then the example's binaries (measured in docs/benchmarks.md,
    // "The first hour"). A failure there is left for `kubeforge envtest`
    // below to report, as a user would see it.
    let plane = std::thread::spawn(|| {
        eprintln!("==> control-plane binaries (background)");
        let began = std::time::Instant::now();
        if kubeforge_envtest::assets::ensure(|line| eprintln!("    {line}")).is_ok() {
            crate::took("control-plane binaries (background)", began);
        }
    });
    let kubeforge = kubeforge_binary()?;
    build_example(&example, &target);
    let _ = plane.join();
    let assets = envtest_with(&kubeforge)?;
    let ran = with_running_operator(&kubeforge, &example, &target, &assets, false, |s| {
        s.wait_for_sample()?;
        println!("\n=== What the operator did with config/samples/apps_v1_myapp.yaml ===\n");
        println!("$ kubectl get myapps,deployments,services");
        println!(
            "{}",
            s.kubectl(&["get", "myapps,deployments,services", "-o", "wide"])?
        );
        println!("$ kubectl get myapp myapp-sample -o jsonpath='{{.status}}'");
        let status = s.kubectl(&["get", "myapp", "myapp-sample", "-o", "jsonpath={.status}"])?;
        println!("{}\n", pretty_json(&status));
        println!(
            "$ kubectl get deployment myapp-sample -o jsonpath='{{.metadata.ownerReferences}}'"
        );
        let owners = s.kubectl(&[
            "get",
            "deployment",
            "myapp-sample",
            "-o",
            "jsonpath={.metadata.ownerReferences}",
        ])?;
        println!("{}\n", pretty_json(&owners));
        println!("$ kubectl get events");
        println!(
            "{}",
            s.kubectl(&["get", "events", "--sort-by=.metadata.creationTimestamp"])?
        );

        // No kubelet runs here, so no pod ever starts: play the cluster's
        // part and report the Deployment's pods ready, as a cluster would.
        println!(
            "=== Pretending the pods started (no kubelet here): the MyApp becomes Available ===\n"
        );
        s.kubectl(&[
                "patch",
                "deployment",
                "myapp-sample",
                "--subresource=status",
                "--type=merge",
                "-p",
                r#"{"status":{"observedGeneration":1,"replicas":2,"updatedReplicas":2,"readyReplicas":2,"availableReplicas":2}}"#,
            ])?;
        s.kubectl(&[
            "wait",
            "--for=condition=Available",
            "myapp/myapp-sample",
            "--timeout=60s",
        ])?;
        println!("$ kubectl get myapps");
        println!("{}", s.kubectl(&["get", "myapps"])?);
        show_webhooks(s)?;
        Ok((s.manager_pid, s.kubeconfig.clone()))
    })?;
    // Nothing may outlive the run: the manager, or the control plane's
    // temporary directory (which held the kubeconfig).
    let (manager_pid, kubeconfig) = ran;
    if Path::new(&format!("/proc/{manager_pid}")).exists() {
        bail!("the manager (pid {manager_pid}) is still running");
    }
    if let Some(dir) = kubeconfig.parent().filter(|d| d.exists()) {
        bail!("the control plane left {} behind", dir.display());
    }
    println!("The operator and the control plane were stopped, and nothing was left behind.");
    Ok(())
}

/// The operator's webhooks, as the API server calls them: a denial naming
/// the field, a warning kubectl prints, and a default stored.
fn show_webhooks(s: &Session) -> Result<()> {
    let myapp = |name: &str, image: &str| {
        format!(
            "apiVersion: apps.example.com/v1\nkind: MyApp\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  image: {image}\n"
        )
    };
    println!("=== Webhooks: the API server asks the operator ===\n");
    println!("$ kubectl apply  # a MyApp with spec.image: Nginx:1.27");
    let (applied, said) = s.apply(&myapp("bad-image", "Nginx:1.27"))?;
    println!("{said}\n");
    if applied || !said.contains("spec.image") {
        bail!("the validating webhook should have denied spec.image Nginx:1.27: {said}");
    }
    println!("$ kubectl apply  # a MyApp with spec.image: nginx (no tag)");
    let (applied, said) = s.apply(&myapp("unpinned", "nginx"))?;
    println!("{said}\n");
    if !applied || !said.contains("pin a version") {
        bail!(
            "the validating webhook should have admitted spec.image nginx with a warning: {said}"
        );
    }
    println!(
        "$ kubectl get myapp unpinned -o jsonpath='{{.metadata.labels}}'  # set by the defaulting webhook"
    );
    let labels = s.kubectl(&[
        "get",
        "myapp",
        "unpinned",
        "-o",
        "jsonpath={.metadata.labels}",
    ])?;
    println!("{}\n", pretty_json(&labels));
    if !labels.contains("app.kubernetes.io/name") {
        bail!("the defaulting webhook should have labelled the MyApp: {labels}");
    }
    Ok(())
}

fn pretty_json(text: &str) -> String {
    // kubectl prints compact JSON for jsonpath; indent it for reading.
    let mut out = String::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for c in text.trim().chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                depth += 1;
                out.push(c);
                out.push('\n');
                out.push_str(&"  ".repeat(depth));
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                out.push('\n');
                out.push_str(&"  ".repeat(depth));
                out.push(c);
            }
            ',' => {
                out.push(c);
                out.push('\n');
                out.push_str(&"  ".repeat(depth));
            }
            ':' => out.push_str(": "),
            _ => out.push(c),
        }
    }
    out
}

/// Builds the binaries `kubeforge run` builds first in `project` (the API
/// crate's `crdgen`, then the manager), with the same cargo arguments and
/// environment, so that its own builds find them fresh while the control
/// plane is still being fetched. A failure is left for `kubeforge run` to
/// report.
fn build_example(project: &Path, target_dir: &Path) {
    eprintln!("==> build the example (cargo build)");
    let began = std::time::Instant::now();
    // As the CLI's cargo_bin.rs: crdgen resolved with the manager's features.
    let crdgen = [
        "--package",
        "myapp-api",
        "--package",
        "myapp-manager",
        "--bin",
        "crdgen",
    ];
    let manager = ["--package", "myapp-manager", "--bin", "manager"].as_slice();
    for args in [crdgen.as_slice(), manager] {
        let built = crate::cargo()
            .args(["build", "--quiet"])
            .args(args)
            .current_dir(project)
            .env("CARGO_TARGET_DIR", target_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
        if !matches!(built, Ok(status) if status.success()) {
            return;
        }
    }
    crate::took("build the example", began);
}

/// Starts `kubeforge run` on a local control plane in `project`, hands the
/// session to `f` once the manager runs, then stops it the way a user does
/// (SIGINT) and waits for it to clean up.
pub fn with_running_operator<T>(
    kubeforge: &Path,
    project: &Path,
    target_dir: &Path,
    assets: &Path,
    release: bool,
    f: impl FnOnce(&Session) -> Result<T>,
) -> Result<T> {
    eprintln!(
        "==> kubeforge run (local control plane) in {}",
        project.display()
    );
    let mut child = command(kubeforge)
        .arg("run")
        .args(release.then_some("--release"))
        .current_dir(project)
        .env("CARGO_TARGET_DIR", target_dir)
        .env("KUBEBUILDER_ASSETS", assets)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting kubeforge run")?;
    let stderr = child.stderr.take().context("kubeforge run's stderr")?;
    let (lines_tx, lines) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut log = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line.clone());
            log.push(line);
        }
        log
    });
    let session = wait_for_session(&lines, assets);
    let result = session.and_then(|s| f(&s));
    stop(&mut child)?;
    // Echo the operator's log when something went wrong.
    let log = reader.join().unwrap_or_default();
    if result.is_err() {
        eprintln!("--- kubeforge run's output:\n{}", log.join("\n"));
    }
    result
}

fn wait_for_session(lines: &mpsc::Receiver<String>, assets: &Path) -> Result<Session> {
    let mut kubeconfig = None;
    let mut manager_pid = None;
    // Printed once the samples are applied (after the webhooks answer).
    let mut ready = false;
    // Building the manager the first time takes minutes on 2 cores.
    let deadline = std::time::Instant::now() + Duration::from_secs(1200);
    loop {
        if let (Some(kubeconfig), Some(manager_pid), true) = (&kubeconfig, manager_pid, ready) {
            return Ok(Session {
                kubeconfig: PathBuf::clone(kubeconfig),
                kubectl: assets.join("kubectl"),
                manager_pid,
            });
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = lines.recv_timeout(left).context(
            "kubeforge run stopped or took too long before printing its kubeconfig and manager",
        )?;
        eprintln!("    {line}");
        ready |= line.starts_with("Press Ctrl-C");
        if let Some(path) = line.trim().strip_prefix("export KUBECONFIG=") {
            kubeconfig = Some(PathBuf::from(path));
        }
        if let Some(pid) = line
            .strip_prefix("Manager running (pid ")
            .and_then(|rest| rest.strip_suffix(")."))
        {
            manager_pid = Some(pid.parse().context("manager pid")?);
        }
    }
}

fn stop(child: &mut Child) -> Result<()> {
    let _ = Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status();
    for _ in 0..600 {
        if let Some(status) = child.try_wait()? {
            eprintln!("==> kubeforge run exited ({status})");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill()?;
    bail!("kubeforge run did not stop within 60 s of Ctrl-C")
}

/// Peak resident memory (VmHWM, KiB) of the manager.
pub fn peak_rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/<pid>/status")
}
