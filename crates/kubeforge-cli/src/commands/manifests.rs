//! `kubeforge manifests`: CRD and RBAC YAML from the code, as controller-gen
//! does for Kubebuilder.
//!
//! CRDs come from building and running the API crate's `crdgen` binary, which prints
//! what each `#[crd]` type's `crd()` returns (one source of truth with the
//! running operator). Only the API crate is built for that, never the whole
//! operator. RBAC comes from reading `#[rbac(...)]` attributes in the
//! sources, like controller-gen reads markers, so it needs no build at all.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context as _, Result, bail};

use crate::cli::ManifestsArgs;
use crate::project::Project;
use crate::scaffold::Plan;

const CRD_KUSTOMIZATION: &str = "config/crd/kustomization.yaml";
const CRD_MARKER: &str = "# +kubebuilder:scaffold:crdkustomizeresource";
pub const ROLE_FILE: &str = "config/rbac/role.yaml";

pub fn run(args: ManifestsArgs) -> Result<ExitCode> {
    let root = std::env::current_dir().context("reading the current directory")?;
    let project = Project::load(&root)?;
    let plan = plan(&root, &project)?;
    if args.check {
        if plan.is_empty() {
            println!("manifests are up to date");
            return Ok(ExitCode::SUCCESS);
        }
        let files: Vec<String> = plan
            .summary()
            .iter()
            .map(|(_, path)| path.display().to_string())
            .collect();
        eprintln!(
            "error: manifests are out of date with the code: {}; run `kubeforge manifests` (make manifests)",
            files.join(", ")
        );
        return Ok(ExitCode::FAILURE);
    }
    if plan.is_empty() {
        println!("manifests are up to date");
        return Ok(ExitCode::SUCCESS);
    }
    super::print_summary(&plan);
    plan.apply()?;
    Ok(ExitCode::SUCCESS)
}

/// Every manifest file as the code says it should be, as a plan of the
/// files that differ from disk.
pub fn plan(root: &Path, project: &Project) -> Result<Plan> {
    let mut plan = Plan::new(root);
    for crd in crdgen(root, project)? {
        let rendered = kubeforge_codegen::crd::render_crd(&crd)?;
        let rel = format!("config/crd/bases/{}", rendered.file_name);
        plan.write_generated(&rel, rendered.yaml)?;
        if root.join(CRD_KUSTOMIZATION).exists() {
            plan.insert_at_marker(
                CRD_KUSTOMIZATION,
                CRD_MARKER,
                &format!("- bases/{}", rendered.file_name),
            )?;
        }
    }
    let rules = kubeforge_codegen::scan::scan_dir(root)?;
    let merged = kubeforge_codegen::rbac::merge(&rules);
    plan.write_generated(
        ROLE_FILE,
        kubeforge_codegen::rbac::render_role_yaml(&merged, "manager-role"),
    )?;
    Ok(plan)
}

/// Builds and runs the API crate's `crdgen` binary; returns its CRDs.
fn crdgen(root: &Path, project: &Project) -> Result<Vec<serde_json::Value>> {
    let api_crate = format!("{}-api", project.project_name);
    let crdgen = crate::cargo_bin::build(root, &api_crate, "crdgen", false)?;
    let output = Command::new(&crdgen)
        .current_dir(root)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", crdgen.display()))?;
    if !output.status.success() {
        bail!("{api_crate}'s crdgen failed (its message is above)");
    }
    #[derive(serde::Deserialize)]
    struct Output {
        crds: Vec<serde_json::Value>,
    }
    let parsed: Output = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("{api_crate}'s crdgen printed something that is not its JSON"))?;
    Ok(parsed.crds)
}
