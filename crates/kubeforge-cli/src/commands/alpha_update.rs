//! `kubeforge alpha update`: bring a project onto this kubeforge's
//! templates, keeping the user's edits (see [`crate::regenerate`]).

use std::process::ExitCode;

use anyhow::{Context as _, Result};

use crate::cli::AlphaUpdateArgs;
use crate::project::{KubeforgeSource, Project};
use crate::regenerate;

pub fn run(args: AlphaUpdateArgs) -> Result<ExitCode> {
    let root = std::env::current_dir().context("reading the current directory")?;
    let mut project = Project::load(&root)?;
    project.cli_version = crate::KUBEFORGE_VERSION.to_string();
    // A crates.io dependency moves to this kubeforge's version; a path
    // dependency already points at the code being used.
    if let KubeforgeSource::Version(version) = &mut project.kubeforge {
        *version = crate::KUBEFORGE_VERSION.to_string();
    }
    let (plan, update) = regenerate::plan_update(&root, &project)?;
    for rel in &update.no_longer_scaffolded {
        println!(
            "    note {} is no longer scaffolded; delete it if you don't need it",
            rel.display()
        );
    }
    update.refuse_conflicts(args.write_conflicts, "the new scaffold")?;
    if plan.is_empty() {
        println!("already up to date");
        return Ok(ExitCode::SUCCESS);
    }
    super::print_summary(&plan);
    plan.apply()?;
    if update.conflicts.is_empty() {
        println!("Next: kubeforge manifests, then build and test.");
        Ok(ExitCode::SUCCESS)
    } else {
        update.report_conflicts();
        Ok(ExitCode::FAILURE)
    }
}
