//! `kubeforge init`: a new operator workspace.

use std::path::Path;

use anyhow::{Context as _, Result, bail};

use crate::cli::InitArgs;
use crate::names;
use crate::paths;
use crate::project::{self, KubeforgeSource, Project};
use crate::regenerate;
use crate::scaffold::{self, Plan};

pub fn run(args: InitArgs) -> Result<()> {
    let root = paths::absolute(&args.dir)?;
    let (plan, project_name) = plan(&args, &root)?;
    plan.apply()?;
    println!("Created project {project_name} in {}", root.display());
    println!("Next: kubeforge create api --group <group> --version v1 --kind <Kind>");
    Ok(())
}

/// Everything `init` would write, checked, without touching the disk.
pub(crate) fn plan(args: &InitArgs, root: &Path) -> Result<(Plan, String)> {
    names::validate_dns1123_subdomain("domain", &args.domain)?;
    if root.exists() && !root.is_dir() {
        bail!("{} exists and is not a directory", root.display());
    }
    for existing in [project::FILE_NAME, "Cargo.toml"] {
        if root.join(existing).exists() {
            bail!(
                "{} already holds a project ({existing} exists); run init in an empty or new directory",
                root.display()
            );
        }
    }
    let project_name = match &args.project_name {
        Some(name) => name.clone(),
        None => root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .context("cannot derive a project name from the directory; pass --project-name")?,
    };
    names::validate_project_name(&project_name)?;
    if let Some(owner) = &args.owner {
        validate_owner(owner)?;
    }

    let kubeforge = match (
        &args.dependency.kubeforge_path,
        &args.dependency.kubeforge_version,
    ) {
        (Some(checkout), _) => KubeforgeSource::checkout(checkout, root)?,
        (None, Some(version)) => KubeforgeSource::Version(version.clone()),
        (None, None) => KubeforgeSource::default_for_this_build(root)?,
    };

    let project = Project {
        cli_version: crate::KUBEFORGE_VERSION.to_string(),
        domain: args.domain.clone(),
        kubeforge,
        layout: vec![project::LAYOUT.to_string()],
        license: args.license,
        namespaced: args.namespaced,
        owner: args.owner.clone(),
        plugins: Default::default(),
        project_name: project_name.clone(),
        resources: Vec::new(),
        version: "3".to_string(),
    };
    let mut plan = Plan::new(root);
    scaffold::init(&mut plan, &project)?;
    regenerate::record_base(&mut plan, &project)?;
    Ok((plan, project_name))
}

/// `--owner` goes into a `// Copyright <owner>.` line of every source.
pub(crate) fn validate_owner(owner: &str) -> Result<()> {
    if owner.trim().is_empty() || owner.contains(['\n', '"']) {
        bail!("--owner must be one line without double quotes (e.g. \"The MyApp Authors\")");
    }
    Ok(())
}
