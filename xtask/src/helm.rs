//! `cargo xtask helm`: the Helm chart `kubeforge edit --plugins helm`
//! scaffolds (dist/chart), checked with Helm itself and a real API server.
//!
//! A project is scaffolded with the CLI built from this checkout (`init`,
//! `create api`, `create webhook --defaulting --programmatic-validation`,
//! then `edit --plugins helm`), and `kubeforge manifests` writes its CRD,
//! role and webhook configurations into config/ and the chart (it builds
//! only the API crate's crdgen, into the shared `<target>/e2e`), then
//! `manifests --check` must find both in step. Then, for each set of values
//! below, `helm lint` and `helm template` must pass, and the rendered
//! manifests are applied to a kube-apiserver from kubeforge-envtest with
//! server-side dry-run (`kubectl apply --server-side --dry-run=server`),
//! which validates every field against the API server's own schemas. The
//! CRDs are applied for real first: a dry-run of objects of a kind needs
//! the kind installed.
//!
//! cert-manager is not installed on that API server, so its Issuer and
//! Certificate (rendered with the default `certManager.enable: true`) are
//! left out of the dry-run and counted in the output; the
//! `certManager.enable=false` values (self-managed certificates) apply
//! everything. The Prometheus Operator's ServiceMonitor is likewise only
//! rendered and linted (`prometheus.enable=true`), not applied. Namespaced
//! mode follows PROJECT, not a value, so it is checked after `kubeforge
//! edit --namespaced` on the same project.
//!
//! Helm is a Go module: it is installed once per machine with `go install`
//! into `${XDG_CACHE_HOME:-~/.cache}/kubeforge/helm/<version>/bin`, outside
//! the repository, as actionlint is (`xtask/src/go_tools.rs`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, bail};

/// The Helm release the chart is checked with.
pub const HELM_VERSION: &str = "v3.22.0";

/// The scaffolded project's name: distinct from every other project built
/// into the shared target directory (Cargo cannot tell same-named packages
/// of two workspaces apart).
const PROJECT: &str = "helmcheck";

/// The namespace the chart is rendered for (`helm template --namespace`).
const NAMESPACE: &str = "helmcheck-system";

/// One set of values the chart is checked with: a name for the output and
/// `--set` arguments.
struct Values {
    name: &'static str,
    set: &'static [&'static str],
    /// Whether the rendered manifests are applied (dry-run) too: not when
    /// they need CRDs this API server lacks (the Prometheus Operator's).
    apply: bool,
}

const VALUES: [Values; 5] = [
    Values {
        name: "default values",
        set: &[],
        apply: true,
    },
    Values {
        name: "self-managed webhook certificates",
        set: &["certManager.enable=false"],
        apply: true,
    },
    Values {
        name: "no webhooks, no metrics, no leader election",
        set: &[
            "webhook.enable=false",
            "metrics.enable=false",
            "leaderElection.enable=false",
        ],
        apply: true,
    },
    Values {
        name: "network policies, CRDs not kept",
        set: &["networkPolicy.enable=true", "crd.keep=false"],
        apply: true,
    },
    Values {
        name: "a ServiceMonitor",
        set: &["prometheus.enable=true"],
        apply: false,
    },
];

pub fn run() -> Result<()> {
    let helm = install()?;
    let assets = crate::envtest()?;
    let kubeforge = crate::kubeforge_binary()?;
    let scratch = tempfile::Builder::new()
        .prefix("kubeforge-helm-")
        .tempdir()
        .context("creating a scratch directory for the scaffolded project")?;
    let project = scratch.path().join(PROJECT);
    scaffold(&kubeforge, &project)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a tokio runtime for the control plane")?;
    eprintln!("==> control plane (kubeforge-envtest)");
    let env = runtime.block_on(
        kubeforge_envtest::Environment::builder()
            .assets(kubeforge_envtest::assets::Assets {
                kube_apiserver: assets.join("kube-apiserver"),
                etcd: assets.join("etcd"),
                kubectl: assets.join("kubectl"),
            })
            .start(),
    )?;
    let kubectl = Kubectl {
        binary: assets.join("kubectl"),
        kubeconfig: env.kubeconfig_path().to_path_buf(),
    };
    let checked = (|| {
        kubectl.run(&["create", "namespace", NAMESPACE], None)?;
        check_chart(&helm, &kubectl, &project, "cluster-wide")?;
        crate::step(
            "kubeforge edit --namespaced",
            Command::new(&kubeforge)
                .args(["edit", "--namespaced"])
                .current_dir(&project)
                .stdin(Stdio::null()),
        )?;
        check_chart(&helm, &kubectl, &project, "namespaced")
    })();
    runtime.block_on(env.stop());
    checked
}

/// Scaffolds the project with a kind, its controller and its admission
/// webhooks, turns the chart on, and writes the manifests (config/ and the
/// chart) from the code.
fn scaffold(kubeforge: &Path, project: &Path) -> Result<()> {
    std::fs::create_dir_all(project).with_context(|| format!("creating {}", project.display()))?;
    let commands: [&[&str]; 4] = [
        &["init", "--domain", "example.com", "--project-name", PROJECT],
        &crate::CREATE_MYAPP,
        &[
            "create",
            "webhook",
            "--group",
            "apps",
            "--version",
            "v1",
            "--kind",
            "MyApp",
            "--defaulting",
            "--programmatic-validation",
        ],
        &["edit", "--plugins", "helm"],
    ];
    for args in commands {
        crate::step(
            &format!("kubeforge {}", args.join(" ")),
            Command::new(kubeforge)
                .args(args)
                .current_dir(project)
                .stdin(Stdio::null()),
        )?;
    }
    // Dependencies resolved as this workspace's, so the shared target
    // directory already holds them.
    std::fs::copy(crate::root().join("Cargo.lock"), project.join("Cargo.lock"))
        .context("seeding the project's Cargo.lock")?;
    let target = crate::shared_target_dir()?;
    for args in [&["manifests"][..], &["manifests", "--check"]] {
        crate::step(
            &format!("kubeforge {}", args.join(" ")),
            crate::command(kubeforge)
                .args(args)
                .current_dir(project)
                .env("CARGO_TARGET_DIR", &target)
                .stdin(Stdio::null()),
        )?;
    }
    let crds = project.join("dist/chart/templates/crd");
    if !crds.join("apps.example.com_myapps.yaml").is_file() {
        bail!(
            "kubeforge manifests wrote no dist/chart/templates/crd/apps.example.com_myapps.yaml in {}",
            project.display()
        );
    }
    Ok(())
}

/// `helm lint`, then for each of [`VALUES`]: `helm lint` and `helm
/// template` with them, and the output applied to the API server (CRDs for
/// real, the rest with server-side dry-run).
fn check_chart(helm: &Path, kubectl: &Kubectl, project: &Path, mode: &str) -> Result<()> {
    let chart = project.join("dist/chart");
    for values in &VALUES {
        let set: Vec<String> = values
            .set
            .iter()
            .flat_map(|s| ["--set".to_string(), s.to_string()])
            .collect();
        let what = format!("{mode}, {}", values.name);
        crate::step(
            &format!("helm lint dist/chart ({what})"),
            Command::new(helm)
                .args(["lint", "--strict", "--namespace", NAMESPACE])
                .arg(&chart)
                .args(&set)
                .stdin(Stdio::null()),
        )?;
        eprintln!("==> helm template dist/chart ({what})");
        let output = Command::new(helm)
            .args(["template", PROJECT, "--namespace", NAMESPACE])
            .arg(&chart)
            .args(&set)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .context("running helm template")?;
        if !output.status.success() {
            bail!(
                "failed: helm template dist/chart ({what}) ({})",
                output.status
            );
        }
        let rendered =
            String::from_utf8(output.stdout).context("helm template printed non-UTF-8")?;
        let documents = Documents::split(&rendered);
        documents.expect(values, mode)?;
        if !values.apply {
            eprintln!(
                "    not applied: {} (its CRDs are not installed here)",
                documents.kinds().join(", ")
            );
            continue;
        }
        if !documents.crds.is_empty() {
            kubectl.run(
                &[
                    "apply",
                    "--server-side",
                    "--field-manager=helm-check",
                    "-f",
                    "-",
                ],
                Some(&documents.crds.join("---\n")),
            )?;
            kubectl.run(
                &[
                    "wait",
                    "--for=condition=Established",
                    "--timeout=60s",
                    "crd",
                    "--all",
                ],
                None,
            )?;
        }
        let mut dry_run = documents.crds.clone();
        dry_run.extend(documents.others.iter().cloned());
        kubectl.run(
            &[
                "apply",
                "--server-side",
                "--dry-run=server",
                "--field-manager=helm-check",
                "-f",
                "-",
            ],
            Some(&dry_run.join("---\n")),
        )?;
        let skipped = documents.cert_manager.len();
        if skipped > 0 {
            eprintln!(
                "    not applied: {skipped} cert-manager document(s) (Issuer, Certificate): cert-manager is not installed here"
            );
        }
    }
    Ok(())
}

/// Rendered manifests, one string per object, sorted into what is applied
/// for real (CRDs), with dry-run, or not at all.
struct Documents {
    crds: Vec<String>,
    cert_manager: Vec<String>,
    others: Vec<String>,
}

impl Documents {
    fn split(rendered: &str) -> Documents {
        let mut documents = Documents {
            crds: Vec::new(),
            cert_manager: Vec::new(),
            others: Vec::new(),
        };
        let mut current = String::new();
        for line in rendered.lines().chain(std::iter::once("---")) {
            if line != "---" {
                current.push_str(line);
                current.push('\n');
                continue;
            }
            let document = std::mem::take(&mut current);
            // Comment-only documents (a template that rendered nothing).
            if !document.lines().any(|l| l.starts_with("kind: ")) {
                continue;
            }
            if document
                .lines()
                .any(|l| l == "kind: CustomResourceDefinition")
            {
                documents.crds.push(document);
            } else if document
                .lines()
                .any(|l| l.starts_with("apiVersion: cert-manager.io/"))
            {
                documents.cert_manager.push(document);
            } else {
                documents.others.push(document);
            }
        }
        documents
    }

    /// Every object's kind, in order.
    fn kinds(&self) -> Vec<String> {
        self.crds
            .iter()
            .chain(&self.cert_manager)
            .chain(&self.others)
            .filter_map(|d| d.lines().find_map(|l| l.strip_prefix("kind: ")))
            .map(str::to_string)
            .collect()
    }

    /// The kind of the object called `name`, if one is.
    fn kind_of(&self, name: &str) -> Option<String> {
        let name_line = format!("  name: {name}");
        self.crds
            .iter()
            .chain(&self.cert_manager)
            .chain(&self.others)
            .find(|d| d.lines().any(|l| l == name_line))
            .and_then(|d| d.lines().find_map(|l| l.strip_prefix("kind: ")))
            .map(str::to_string)
    }

    /// Fails unless the values rendered what they turn on: a check that
    /// applies nothing proves nothing.
    fn expect(&self, values: &Values, mode: &str) -> Result<()> {
        let kinds = self.kinds();
        let has = |kind: &str| kinds.iter().any(|k| k == kind);
        let webhooks = !values.set.contains(&"webhook.enable=false");
        let mut wanted = vec!["Deployment", "ServiceAccount"];
        if webhooks {
            wanted.extend([
                "MutatingWebhookConfiguration",
                "ValidatingWebhookConfiguration",
            ]);
        }
        if values.set.is_empty() {
            wanted.extend(["CustomResourceDefinition", "Certificate", "Issuer"]);
        }
        if values.set.contains(&"prometheus.enable=true") {
            wanted.push("ServiceMonitor");
        }
        if values.set.contains(&"networkPolicy.enable=true") {
            wanted.push("NetworkPolicy");
        }
        let missing: Vec<&str> = wanted.into_iter().filter(|k| !has(k)).collect();
        if !missing.is_empty() {
            bail!(
                "helm template ({mode}, {}) rendered no {}; it rendered {}",
                values.name,
                missing.join(", "),
                kinds.join(", ")
            );
        }
        // The manager's role follows PROJECT's scope.
        let role = self.kind_of(&format!("{PROJECT}-manager-role"));
        let scoped = if mode == "namespaced" {
            "Role"
        } else {
            "ClusterRole"
        };
        if role.as_deref() != Some(scoped) {
            bail!(
                "helm template ({mode}, {}) rendered the manager's role as {role:?}, not a {scoped}",
                values.name
            );
        }
        if !webhooks && (has("MutatingWebhookConfiguration") || has("Certificate")) {
            bail!(
                "helm template ({mode}, {}) rendered webhooks with webhook.enable=false",
                values.name
            );
        }
        Ok(())
    }
}

/// kubectl against the check's control plane.
struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
}

impl Kubectl {
    /// Runs kubectl with `args` (and `stdin`), failing with its output.
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<()> {
        let what = format!("kubectl {}", args.join(" "));
        eprintln!("==> {what}");
        let mut child = Command::new(&self.binary)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {what}"))?;
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .context("kubectl's stdin")?
                .write_all(text.as_bytes())
                .context("writing to kubectl")?;
        }
        let output = child
            .wait_with_output()
            .with_context(|| format!("waiting for {what}"))?;
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        for line in printed.lines() {
            eprintln!("    {line}");
        }
        if !output.status.success() {
            bail!("failed: {what} ({})", output.status);
        }
        Ok(())
    }
}

/// Helm, installed once per machine with `go install` and reused when
/// present.
fn install() -> Result<PathBuf> {
    let go = crate::go_tools::go("Helm is installed with `go install` (install Go)")?;
    crate::go_tools::install(
        &go,
        &crate::go_tools::bin_dir("helm", HELM_VERSION)?,
        "helm",
        &format!("helm.sh/helm/v3/cmd/helm@{HELM_VERSION}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_documents_are_sorted_by_how_they_are_applied() {
        let rendered = "---
# Source: helmcheck/templates/crd/a.yaml
# Generated by kubeforge manifests
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: myapps.apps.example.com
---
# Source: helmcheck/templates/certmanager/issuer.yaml
apiVersion: cert-manager.io/v1
kind: Issuer
---
# Source: helmcheck/templates/rbac/service_account.yaml
apiVersion: v1
kind: ServiceAccount
";
        let documents = Documents::split(rendered);
        assert_eq!(documents.crds.len(), 1);
        assert_eq!(documents.cert_manager.len(), 1);
        assert_eq!(documents.others.len(), 1);
        assert_eq!(
            documents.kinds(),
            ["CustomResourceDefinition", "Issuer", "ServiceAccount"]
        );
        let err = documents
            .expect(&VALUES[0], "cluster-wide")
            .unwrap_err()
            .to_string();
        assert!(err.contains("rendered no Deployment"), "{err}");
    }
}
