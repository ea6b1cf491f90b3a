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

use std::process::ExitCode;

use anyhow::{Context as _, Result};

use crate::cli::EditArgs;
use crate::project::Project;
use crate::regenerate;

pub fn run(args: EditArgs) -> Result<ExitCode> {
    let root = std::env::current_dir().context("reading the current directory")?;
    let project = Project::load(&root)?;
    let edited = edited(&project, &args)?;
    if edited == project {
        println!("nothing to change: PROJECT already says so");
        return Ok(ExitCode::SUCCESS);
    }
    regenerate::require_current_templates(&root, &project)?;
    let (mut plan, update) = regenerate::plan_update(&root, &edited)?;
    super::manifests::plan_source_manifests(&mut plan, &root, edited.manager_scope())?;
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
    Ok(if update.conflicts.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// PROJECT with the flags applied, checked like `init` checks them.
fn edited(project: &Project, args: &EditArgs) -> Result<Project> {
    let mut edited = project.clone();
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
