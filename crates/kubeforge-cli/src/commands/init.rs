//! `kubeforge init`: a new operator workspace.

use std::path::Path;

use anyhow::{Context as _, Result, bail};

use crate::cli::InitArgs;
use crate::names;
use crate::project::{self, Project};
use crate::regenerate;
use crate::scaffold::Plan;
use crate::templates;
use crate::vars::{self, Dependencies, KubeforgeSource};

pub fn run(args: InitArgs) -> Result<()> {
    let root = vars::absolute(&args.dir)?;
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
    if let Some(owner) = &args.owner
        && (owner.trim().is_empty() || owner.contains(['\n', '"']))
    {
        bail!("--owner must be one line without double quotes (e.g. \"The MyApp Authors\")");
    }

    let source = match (
        &args.dependency.kubeforge_path,
        &args.dependency.kubeforge_version,
    ) {
        (Some(path), _) => KubeforgeSource::Path(
            std::fs::canonicalize(path)
                .with_context(|| format!("--kubeforge-path {}", path.display()))?,
        ),
        (None, Some(version)) => KubeforgeSource::Version(version.clone()),
        (None, None) => KubeforgeSource::default_for_this_build(),
    };

    let project = Project {
        cli_version: vars::KUBEFORGE_VERSION.to_string(),
        domain: args.domain.clone(),
        layout: vec![project::LAYOUT.to_string()],
        license: args.license.key().to_string(),
        owner: args.owner.clone(),
        project_name: project_name.clone(),
        resources: Vec::new(),
        version: "3".to_string(),
    };
    let deps = Dependencies {
        kubeforge: source.toml_for("kubeforge", root)?,
        kubeforge_envtest: source.toml_for("kubeforge-envtest", root)?,
    };
    let mut plan = Plan::new(root);
    add_scaffold(&mut plan, &project, &deps)?;
    regenerate::record_base(&mut plan, &project, &deps)?;
    Ok((plan, project_name))
}

/// Plans the files of a new project: the `init` templates, PROJECT and an
/// empty generated role. Shared with regeneration, which replays `init`.
pub(crate) fn add_scaffold(plan: &mut Plan, project: &Project, deps: &Dependencies) -> Result<()> {
    let mut ctx = vars::project_context(project);
    deps.insert_into(&mut ctx);
    for file in templates::render_scaffold("init", &ctx)? {
        plan.create(file.path, file.contents)?;
    }
    plan.create(project::FILE_NAME, project.render()?)?;
    // Generated like every later role.yaml, so `manifests --check` agrees.
    let no_rules = kubeforge_codegen::rbac::merge(&[]);
    plan.create(
        super::manifests::ROLE_FILE,
        kubeforge_codegen::rbac::render_role_yaml(&no_rules, "manager-role"),
    )?;
    Ok(())
}
