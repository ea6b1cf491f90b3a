//! `kubeforge create api`: a kind's types and CRD scaffolding, a controller,
//! or both, wired into the project at its scaffold markers.

use std::path::Path;

use anyhow::{Result, bail};

use crate::builtin_kinds::{BUILTIN_KINDS, BuiltinKind};
use crate::cli::CreateApiArgs;
use crate::names;
use crate::project::{self, Api, Project, Resource};
use crate::regenerate;
use crate::scaffold::Plan;
use crate::templates;
use crate::vars::{self, Dependencies};

/// Marker lines in generated files, and the fragment each one receives.
/// Fragments are one-liners, so they live here rather than as files in
/// templates/ (which holds only whole files, laid out as they land).
mod markers {
    pub const GROUPS: (&str, &str) = (
        "// +kubeforge:scaffold:groups",
        "pub mod {{ group_module }};",
    );
    pub const VERSIONS: (&str, &str) =
        ("// +kubeforge:scaffold:versions", "pub mod {{ version }};");
    pub const KINDS: (&str, &str) = (
        "// +kubeforge:scaffold:kinds",
        "mod {{ kind_snake }};\npub use {{ kind_snake }}::*;",
    );
    pub const CONTROLLER_MODULES: (&str, &str) = (
        "// +kubeforge:scaffold:controllers",
        "pub mod {{ controller_module }};",
    );
    pub const CONTROLLER_WIRING: (&str, &str) = (
        "// +kubeforge:scaffold:controllers",
        "manager.add_controller(\"{{ controller_name }}\", controller::{{ controller_module }}::run);",
    );
    pub const CRD_KUSTOMIZATION: (&str, &str) = (
        "# +kubebuilder:scaffold:crdkustomizeresource",
        "- bases/{{ api_group }}_{{ plural }}.yaml",
    );
    pub const SAMPLES_KUSTOMIZATION: (&str, &str) = (
        "# +kubebuilder:scaffold:manifestskustomizesamples",
        "- {{ group }}_{{ version }}_{{ kind_lower }}.yaml",
    );
    pub const RBAC_KUSTOMIZATION: (&str, &str) = (
        "# +kubeforge:scaffold:rbac",
        "- {{ group }}_{{ kind_lower }}_admin_role.yaml\n- {{ group }}_{{ kind_lower }}_editor_role.yaml\n- {{ group }}_{{ kind_lower }}_viewer_role.yaml",
    );
}

pub fn run(args: CreateApiArgs) -> Result<()> {
    let root = std::env::current_dir()?;
    let plan = plan(&args, &root)?;
    super::print_summary(&plan);
    plan.apply()?;
    if args.resource {
        println!(
            "Next: edit the types, then run `make manifests` (kubeforge manifests) to write the CRD."
        );
    }
    Ok(())
}

/// Everything `create api` would write, checked, without touching the
/// disk: the scaffold, and the updated record of the pristine scaffold that
/// `kubeforge alpha update` merges against.
pub fn plan(args: &CreateApiArgs, root: &Path) -> Result<Plan> {
    let (mut plan, project) = plan_scaffold(args, root)?;
    let deps = Dependencies::from_workspace(root)?;
    regenerate::record_base(&mut plan, &project, &deps)?;
    Ok(plan)
}

/// The scaffold part of [`plan`]; also what regeneration replays.
pub(crate) fn plan_scaffold(args: &CreateApiArgs, root: &Path) -> Result<(Plan, Project)> {
    let mut project = Project::load(root)?;
    names::validate_version(&args.version)?;
    names::validate_kind(&args.kind)?;
    if !args.resource && !args.controller {
        bail!(
            "--resource=false and --controller=false leave nothing to create; allowed: either or both true"
        );
    }
    if let Some(plural) = &args.plural
        && !names::is_plural_name(plural)
    {
        bail!(
            "plural `{plural}` is invalid; allowed: lowercase letters and digits, starting with a letter (e.g. myapps)"
        );
    }

    let resource = if args.resource {
        new_resource(args, &project)?
    } else {
        existing_or_builtin(args, &project)?
    };

    let controller_module = controller_module(&project, &resource);
    let ctx = vars::resource_context(&project, &resource, &controller_module);
    let mut plan = Plan::new(root);

    if args.resource {
        for file in templates::render_scaffold("api", &ctx)? {
            // Group and version modules are shared by every kind in them:
            // create them once, then only insert at their markers.
            let shared = file.path.ends_with("mod.rs")
                || file
                    .path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().contains("_role.yaml"));
            if shared && root.join(&file.path).exists() {
                continue;
            }
            plan.create(&file.path, file.contents)?;
        }
        let group_mod = format!("api/src/{}/mod.rs", ctx_str(&ctx, "group_dir"));
        let version_mod = format!(
            "api/src/{}/{}/mod.rs",
            ctx_str(&ctx, "group_dir"),
            resource.version
        );
        insert(&mut plan, "api/src/lib.rs", markers::GROUPS, &ctx)?;
        insert(&mut plan, &group_mod, markers::VERSIONS, &ctx)?;
        insert(&mut plan, &version_mod, markers::KINDS, &ctx)?;
        insert(
            &mut plan,
            "config/crd/kustomization.yaml",
            markers::CRD_KUSTOMIZATION,
            &ctx,
        )?;
        insert(
            &mut plan,
            "config/samples/kustomization.yaml",
            markers::SAMPLES_KUSTOMIZATION,
            &ctx,
        )?;
        insert(
            &mut plan,
            "config/rbac/kustomization.yaml",
            markers::RBAC_KUSTOMIZATION,
            &ctx,
        )?;
    }

    if args.controller {
        let controller_file = format!("manager/src/controller/{controller_module}.rs");
        if root.join(&controller_file).exists() {
            bail!(
                "a controller for {} already exists ({controller_file}); pass --controller=false to add only the new version",
                resource.kind
            );
        }
        for file in templates::render_scaffold("controller", &ctx)? {
            plan.create(&file.path, file.contents)?;
        }
        insert(
            &mut plan,
            "manager/src/controller/mod.rs",
            markers::CONTROLLER_MODULES,
            &ctx,
        )?;
        insert(
            &mut plan,
            "manager/src/main.rs",
            markers::CONTROLLER_WIRING,
            &ctx,
        )?;
    }

    match project.find_resource_mut(&resource.group, &resource.version, &resource.kind) {
        Some(existing) => existing.controller |= args.controller,
        None => {
            let mut resource = resource;
            resource.controller = args.controller;
            project.resources.push(resource);
        }
    }
    plan.update(project::FILE_NAME, project.render()?)?;
    Ok((plan, project))
}

fn ctx_str(ctx: &tera::Context, key: &str) -> String {
    ctx.get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

fn insert(
    plan: &mut Plan,
    file: &str,
    (marker, fragment): (&str, &str),
    ctx: &tera::Context,
) -> Result<()> {
    let fragment = templates::render_str(marker, fragment, ctx)?;
    plan.insert_at_marker(file, marker, &fragment)
}

/// A new kind of this project: validated against what PROJECT already has.
fn new_resource(args: &CreateApiArgs, project: &Project) -> Result<Resource> {
    names::validate_dns1123_subdomain("group", &args.group)?;
    let api_group = format!("{}.{}", args.group, project.domain);
    names::validate_dns1123_subdomain("API group", &api_group)?;
    if project
        .find_resource(&args.group, &args.version, &args.kind)
        .is_some()
    {
        bail!(
            "kind {} already exists in {api_group}/{}; allowed: a new kind, or a new version of it (e.g. --version v2)",
            args.kind,
            args.version
        );
    }
    let plural = args
        .plural
        .clone()
        .unwrap_or_else(|| names::plural(&args.kind));
    // Versions of one kind share the CRD, so they must agree on its names and scope.
    if let Some(other) = project
        .resources
        .iter()
        .find(|r| r.group == args.group && r.kind == args.kind && r.api.is_some())
    {
        let namespaced = other.api.as_ref().is_some_and(|a| a.namespaced);
        if namespaced != args.namespaced {
            bail!(
                "{} {} is {} in {}; every version of a kind has the same scope (use --namespaced={namespaced})",
                args.kind,
                other.version,
                if namespaced {
                    "namespaced"
                } else {
                    "cluster-scoped"
                },
                api_group
            );
        }
        if other.plural != plural {
            bail!(
                "{} already has the plural `{}`; every version of a kind has the same plural",
                args.kind,
                other.plural
            );
        }
    }
    if let Some(other) = project
        .resources
        .iter()
        .find(|r| r.group == args.group && r.plural == plural && r.kind != args.kind)
    {
        bail!(
            "plural `{plural}` is already used by kind {} in {api_group}; pass --plural to choose another",
            other.kind
        );
    }
    let group_module = names::group_module(&args.group);
    let path = format!(
        "{}_api::{group_module}::{}::{}",
        project.project_name.replace('-', "_"),
        args.version,
        args.kind
    );
    Ok(Resource {
        api: Some(Api {
            crd_version: "v1".into(),
            namespaced: args.namespaced,
        }),
        controller: false,
        core: false,
        domain: Some(project.domain.clone()),
        group: args.group.clone(),
        kind: args.kind.clone(),
        path,
        plural,
        version: args.version.clone(),
        webhooks: None,
    })
}

/// `--resource=false`: a controller for a kind that exists already, in this
/// project or built into Kubernetes.
fn existing_or_builtin(args: &CreateApiArgs, project: &Project) -> Result<Resource> {
    if let Some(existing) = project.find_resource(&args.group, &args.version, &args.kind) {
        if existing.controller {
            bail!(
                "{} {}/{} already has a controller; allowed: one controller per kind",
                args.kind,
                args.group,
                args.version
            );
        }
        return Ok(existing.clone());
    }
    let builtin = find_builtin(&args.group, &args.version, &args.kind)?;
    Ok(Resource {
        api: None,
        controller: false,
        core: true,
        domain: None,
        group: builtin.group.to_string(),
        kind: builtin.kind.to_string(),
        path: format!(
            "kubeforge::k8s_openapi::api::{}::{}::{}",
            builtin.module, builtin.version, builtin.kind
        ),
        plural: builtin.plural.to_string(),
        version: builtin.version.to_string(),
        webhooks: None,
    })
}

/// Looks up a built-in kind by the group as users write it: the API group
/// (`networking.k8s.io`), its short name (`networking`), or `core`/"" for
/// the core group.
fn find_builtin(group: &str, version: &str, kind: &str) -> Result<&'static BuiltinKind> {
    let group_matches = |b: &BuiltinKind| {
        b.group == group || b.module == group || (group.is_empty() && b.group.is_empty())
    };
    if let Some(b) = BUILTIN_KINDS
        .iter()
        .find(|b| group_matches(b) && b.version == version && b.kind == kind)
    {
        return Ok(b);
    }
    let in_group: Vec<String> = BUILTIN_KINDS
        .iter()
        .filter(|b| group_matches(b) && b.version == version)
        .map(|b| b.kind.to_string())
        .collect();
    if in_group.is_empty() {
        bail!(
            "--resource=false needs an existing kind: {kind} is not in this project's PROJECT at {group}/{version}, and {group}/{version} is not a built-in Kubernetes API group version (e.g. apps/v1, batch/v1, core/v1)"
        );
    }
    bail!(
        "--resource=false needs an existing kind: {group}/{version} has no kind {kind}; allowed: {}",
        in_group.join(", ")
    )
}

/// The controller's module: the kind in snake_case, qualified by the group
/// when another group of the project has a kind of the same name.
fn controller_module(project: &Project, resource: &Resource) -> String {
    let kind_snake = names::snake_case(&resource.kind);
    let clash = project
        .resources
        .iter()
        .any(|r| r.kind == resource.kind && r.group != resource.group);
    if clash {
        format!("{}_{kind_snake}", resource.group.replace(['.', '-'], "_"))
    } else {
        kind_snake
    }
}
