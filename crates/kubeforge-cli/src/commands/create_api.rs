//! `kubeforge create api`: a kind's types and CRD scaffolding, a controller,
//! or both, wired into the project at its scaffold markers.

use std::path::Path;

use anyhow::{Result, bail};

use crate::builtin_kinds::{BUILTIN_KINDS, BuiltinKind};
use crate::cli::CreateApiArgs;
use crate::names;
use crate::project::{self, Api, Project, Resource};
use crate::regenerate;
use crate::scaffold::{self, Plan, ResourceModel};

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
/// disk: the scaffold, PROJECT, and the updated record of the pristine
/// scaffold that `kubeforge alpha update` merges against.
pub fn plan(args: &CreateApiArgs, root: &Path) -> Result<Plan> {
    let mut project = Project::load(root)?;
    let resource = validate(args, &project)?;
    let model = ResourceModel::new(&project, &resource);
    let mut plan = Plan::new(root);
    if args.resource {
        scaffold::api(&mut plan, &model)?;
    }
    if args.controller {
        let controller_file = format!("manager/src/controller/{}.rs", model.controller_module);
        if plan.exists(&controller_file) {
            bail!(
                "a controller for {} already exists ({controller_file}); pass --controller=false to add only the new version",
                resource.kind
            );
        }
        scaffold::controller(&mut plan, &model)?;
    }
    // The controller's #[rbac] rules, in config/rbac/role.yaml at once: its
    // test runs with exactly that role, right after scaffolding.
    super::manifests::plan_source_manifests(&mut plan, root, project.manager_scope())?;
    project.check_controller_scope(&Resource {
        controller: args.controller,
        ..resource.clone()
    })?;
    match project.find_resource_mut(&resource.group, &resource.version, &resource.kind) {
        Some(existing) => existing.controller |= args.controller,
        None => project.resources.push(Resource {
            controller: args.controller,
            ..resource
        }),
    }
    plan.update(project::FILE_NAME, project.render()?)?;
    regenerate::record_base(&mut plan, &project)?;
    Ok(plan)
}

/// The flags, checked against each other and the project, as the resource
/// they name: a new kind, or (`--resource=false`) an existing one.
fn validate(args: &CreateApiArgs, project: &Project) -> Result<Resource> {
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
    if args.resource {
        new_resource(args, project)
    } else {
        existing_or_builtin(args, project)
    }
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
    let path = format!(
        "{}::{}::{}::{}",
        names::crate_ident(&format!("{}-api", project.project_name)),
        names::group_module(&args.group),
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
