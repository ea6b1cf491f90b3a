//! `kubeforge edit`: change what `init` decided and carry the change
//! through the scaffolded files.
//!
//! Kubebuilder's `edit --namespaced` rewrites some files only with
//! `--force` and leaves `cmd/main.go` and the RBAC markers to the user.
//! Here the change is a new PROJECT replayed through the same three-way
//! merge as `alpha update`: every scaffolded file the setting touches is
//! updated and the user's own edits in it are kept, or, where the two
//! overlap, nothing is written. config/rbac/role.yaml is regenerated from
//! the `#[rbac]` attributes for the new scope, so tests and `kubeforge run`
//! see the new RBAC at once.
//!
//! `--plugins` works the same way: PROJECT gets the plugin's key (as
//! Kubebuilder's `plugins:` map), and the replayed scaffold renders the
//! plugin's files (grafana/, dist/chart/) from it. So a later `edit`,
//! `create api` or `alpha update` keeps them in step like any scaffolded
//! file, with the user's edits merged in. The chart's parts generated from
//! code (CRDs, the manager's role, the webhook configurations) are copied
//! from config/ now and rewritten by `kubeforge manifests` after.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use crate::cli::EditArgs;
use crate::project::{Plugin, Project};
use crate::regenerate::{self, Update};
use crate::scaffold::Plan;

pub fn run(args: EditArgs) -> Result<ExitCode> {
    let root = std::env::current_dir().context("reading the current directory")?;
    let project = Project::load(&root)?;
    let plugins = plugins(&args)?;
    let edited = edited(&project, &args, &plugins)?;
    if edited == project {
        let enabled: Vec<&str> = plugins.iter().map(|p| p.key()).collect();
        if enabled.is_empty() {
            println!("nothing to change: PROJECT already says so");
        } else {
            println!(
                "nothing to change: PROJECT already says so (already on: {})",
                enabled.join(", ")
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (plan, update) = plan(&root, &project, &edited)?;
    update.refuse_conflicts(args.write_conflicts, "the change")?;
    super::print_summary(&plan);
    plan.apply()?;
    update.report_conflicts();
    if edited.namespaced != project.namespaced {
        if edited.namespaced {
            println!(
                "The manager now watches only its own namespace (WATCH_NAMESPACE) with a Role there; #[rbac] rules for cluster-scoped resources or other namespaces need `namespace = \"...\"` or a cluster-scoped project."
            );
        } else {
            println!("The manager now watches every namespace with a ClusterRole.");
        }
    }
    for plugin in plugins {
        if project.has_plugin(plugin) {
            continue;
        }
        match plugin {
            Plugin::Grafana => println!(
                "Grafana dashboards are in grafana/: import them into Grafana (docs/grafana.md)."
            ),
            Plugin::Helm => println!(
                "The Helm chart is in dist/chart; `kubeforge manifests` (make manifests) keeps its CRDs, RBAC and webhooks in step with the code (docs/helm.md)."
            ),
        }
    }
    Ok(if update.conflicts.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Everything `edit` writes to turn the project at `root` from `project`
/// into `edited`: the scaffold replayed from `edited` and merged with the
/// user's files, the manifests that come from source for its scope, and,
/// when the helm plugin is on, the chart's copies of the CRDs.
pub fn plan(root: &Path, project: &Project, edited: &Project) -> Result<(Plan, Update)> {
    regenerate::require_current_templates(root, project)?;
    let (mut plan, update) = regenerate::plan_update(root, edited)?;
    super::manifests::plan_project_source_manifests(&mut plan, root, edited)?;
    if edited.has_plugin(Plugin::Helm) {
        super::manifests::plan_chart_crds_from_bases(&mut plan, root, edited)?;
    }
    Ok((plan, update))
}

/// The plugins `--plugins` names (each in any accepted spelling), without
/// repeats, or one line naming the first unknown one and what is allowed.
fn plugins(args: &EditArgs) -> Result<Vec<Plugin>> {
    let mut plugins = Vec::new();
    for name in &args.plugins {
        let plugin = Plugin::parse(name)?;
        if !plugins.contains(&plugin) {
            plugins.push(plugin);
        }
    }
    plugins.sort();
    Ok(plugins)
}

/// PROJECT with the flags applied, checked like `init` checks them.
fn edited(project: &Project, args: &EditArgs, plugins: &[Plugin]) -> Result<Project> {
    let mut edited = project.clone();
    for plugin in plugins {
        edited.add_plugin(*plugin);
    }
    if let Some(namespaced) = args.namespaced {
        edited.namespaced = namespaced;
        for resource in &edited.resources {
            edited.check_controller_scope(resource)?;
        }
    }
    if let Some(license) = args.license {
        edited.license = license;
    }
    if let Some(owner) = &args.owner {
        super::init::validate_owner(owner)?;
        edited.owner = Some(owner.clone());
    }
    Ok(edited)
}
