//! `kubeforge create api`: a kind's types and CRD scaffolding, a controller,
//! or both, wired into the project at its scaffold markers.
//!
//! Beyond the basics, Kubebuilder's other `create api` flags, translated:
//! `--controller-name` (several controllers for one kind),
//! `--external-api-path`/`--external-api-domain`/`--external-api-crate` (a
//! controller for another crate's kind), `--make` (`kubeforge manifests`
//! afterwards) and `--force` (re-scaffold a kind's files, but only those
//! nobody edited).

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::builtin_kinds::{BUILTIN_KINDS, BuiltinKind};
use crate::cli::CreateApiArgs;
use crate::names;
use crate::project::{self, Api, Controller, Project, Resource};
use crate::regenerate;
use crate::scaffold::marker::Marker;
use crate::scaffold::{self, Plan, ResourceModel};

/// The manager's manifest, where an external kind's crate is added.
const MANAGER_CARGO_TOML: &str = "manager/Cargo.toml";

pub fn run(args: CreateApiArgs) -> Result<()> {
    let root = std::env::current_dir()?;
    let plan = plan(&args, &root)?;
    if plan.is_empty() {
        // Only with --force: every file is as the scaffold writes it.
        println!("nothing to write: the files are as the scaffold writes them");
    }
    super::print_summary(&plan);
    plan.apply()?;
    if args.make {
        // The scaffold stays: it is complete and consistent without the
        // CRD files, which only a build of the API crate can produce.
        if let Err(err) = super::manifests::write(&root) {
            bail!(
                "the scaffold was written, but `kubeforge manifests` (--make) failed: {}; fix that, then run `make manifests`",
                crate::one_line(&err)
            );
        }
    } else if args.resource {
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
    let (resource, index) = validate(args, &project, root)?;
    // Names are derived from the resources before this one, as replaying
    // PROJECT derives them (see ResourceModel::new).
    let mut before = project.clone();
    if let Some(index) = index {
        before.resources.truncate(index);
    }
    let model = ResourceModel::new(&before, &resource);
    let mut recorded = resource.clone();
    let mut plan = Plan::new(root);
    plan.replace_existing(args.force);
    if args.resource {
        scaffold::api(&mut plan, &model)?;
    }
    if args.controller {
        plan_controller(args, &mut plan, &model, &mut recorded)?;
    }
    plan.replace_existing(false);
    refuse_edited_files(&plan, root)?;
    // The controller's #[rbac] rules, in config/rbac/role.yaml at once: its
    // test runs with exactly that role, right after scaffolding.
    super::manifests::plan_project_source_manifests(&mut plan, root, &project)?;
    project.check_controller_scope(&recorded)?;
    match index {
        Some(index) => project.resources[index] = recorded,
        None => project.resources.push(recorded),
    }
    plan.update(project::FILE_NAME, project.render()?)?;
    regenerate::record_base(&mut plan, &project)?;
    Ok(plan)
}

/// Plans the controller `--controller-name` asks for (the kind's default
/// one without it) and records it in `resource`. A controller the kind
/// already has is refused, unless `--force` re-scaffolds it.
fn plan_controller(
    args: &CreateApiArgs,
    plan: &mut Plan,
    model: &ResourceModel,
    resource: &mut Resource,
) -> Result<()> {
    let existing = model.controllers(resource);
    let mut new = model.with_controller(args.controller_name.as_deref());
    let already = existing
        .iter()
        .any(|c| c.controller_module == new.controller_module);
    if already && !args.force {
        bail!(
            "{} {}/{} already has the controller `{}`; allowed: --controller-name NAME for another controller of it (or --force to re-scaffold this one's files)",
            resource.kind,
            resource.group,
            resource.version,
            new.controller_name
        );
    }
    let controller_file = format!("manager/src/controller/{}.rs", new.controller_module);
    if !already && plan.exists(&controller_file) {
        if args.controller_name.is_some() {
            bail!(
                "{controller_file} already exists (another controller's module); allowed: another --controller-name (its module is the name with '-' as '_')"
            );
        }
        bail!(
            "a controller for {} already exists ({controller_file}); pass --controller=false to add only the new version, or --controller-name NAME for a controller of its own",
            resource.kind
        );
    }
    if !new.external_dependency.is_empty() && keep_existing_dependency(args, plan, &new)? {
        new.external_dependency.clear();
    }
    let siblings: Vec<String> = existing
        .iter()
        .map(|c| c.controller_module.clone())
        .filter(|m| *m != new.controller_module)
        .collect();
    scaffold::controller(plan, &new, &siblings)?;
    if !already {
        record_controller(resource, &model.controller_module, &new.controller_name);
    }
    Ok(())
}

/// Adds a controller to PROJECT's resource: `controller: true` as
/// Kubebuilder writes it, and once a second controller or a named one
/// exists, the list of every controller by name (see
/// [`Resource::controllers`]).
fn record_controller(resource: &mut Resource, default_module: &str, name: &str) {
    if resource.controllers.is_empty() {
        if !resource.controller && name == default_module {
            resource.controller = true;
            return;
        }
        if resource.controller {
            resource.controllers.push(Controller::named(default_module));
        }
    }
    resource.controllers.push(Controller::named(name));
    resource.controller = true;
}

/// Checks that an external kind's dependency can go into the manager's
/// Cargo.toml, and says whether to leave it out: when the manager already
/// depends on the crate, that dependency stays as the user wrote it
/// (another controller of a recorded external kind), unless this command's
/// `--external-api-crate` asks for something else, which is refused.
fn keep_existing_dependency(
    args: &CreateApiArgs,
    plan: &Plan,
    model: &ResourceModel,
) -> Result<bool> {
    let cargo_toml = plan.read(MANAGER_CARGO_TOML)?;
    let wanted = model.external_dependency.trim();
    if cargo_toml.lines().any(|l| l.trim() == wanted) {
        return Ok(false);
    }
    let key = wanted.split([' ', '=']).next().unwrap_or_default();
    if let Some(line) = dependency_line(&cargo_toml, key) {
        if args.external_api_crate.is_some() {
            bail!(
                "{MANAGER_CARGO_TOML} already depends on `{key}` (`{line}`); leave out --external-api-crate to use that dependency, or change it to `{wanted}` yourself first"
            );
        }
        return Ok(true);
    }
    let marker = Marker::Dependencies.line(Path::new(MANAGER_CARGO_TOML));
    if !cargo_toml.lines().any(|l| l.trim() == marker) {
        bail!(
            "{MANAGER_CARGO_TOML} has no `{marker}` line, where --external-api-crate adds the crate (projects scaffolded by an older kubeforge lack it); add that line at the end of its [dependencies], or leave out --external-api-crate and add the dependency yourself"
        );
    }
    Ok(false)
}

/// The line of `cargo_toml`'s `[dependencies]` declaring `key` (in any of
/// TOML's spellings, `-` and `_` alike, as Cargo compares crate names).
fn dependency_line(cargo_toml: &str, key: &str) -> Option<String> {
    let wanted = names::crate_ident(key);
    let mut in_dependencies = false;
    for line in cargo_toml.lines() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[') {
            let header = header.trim_end_matches(']').trim();
            if let Some(name) = header.strip_prefix("dependencies.")
                && names::crate_ident(name.trim_matches('"')) == wanted
            {
                return Some(trimmed.to_string());
            }
            in_dependencies = header == "dependencies";
            continue;
        }
        if !in_dependencies || trimmed.starts_with('#') {
            continue;
        }
        let name = trimmed
            .split(['=', '.'])
            .next()
            .unwrap_or_default()
            .trim()
            .trim_matches('"');
        if !name.is_empty() && names::crate_ident(name) == wanted {
            return Some(trimmed.to_string());
        }
    }
    None
}

/// With `--force`, refuses unless every existing file the scaffold would
/// write again is exactly as the scaffold recorded it: anything else holds
/// someone's edits, which kubeforge never overwrites.
fn refuse_edited_files(plan: &Plan, root: &Path) -> Result<()> {
    let record = root.join(regenerate::BASE_DIR);
    let edited: Vec<String> = plan
        .replaced()
        .iter()
        .filter(|rel| {
            let recorded = std::fs::read(record.join(rel)).ok();
            recorded.is_none() || recorded != std::fs::read(root.join(rel)).ok()
        })
        .map(|rel| rel.display().to_string())
        .collect();
    if !edited.is_empty() {
        bail!(
            "--force would overwrite {}, changed since kubeforge wrote them (they differ from {}); nothing was written (move them away to have them re-created, or take template changes with `kubeforge alpha update`, which merges)",
            edited.join(", "),
            regenerate::BASE_DIR
        );
    }
    Ok(())
}

/// The flags, checked against each other and the project, as the resource
/// they name (a new kind, or with `--resource=false` an existing, built-in
/// or external one) and its index in PROJECT if it is there already.
fn validate(
    args: &CreateApiArgs,
    project: &Project,
    root: &Path,
) -> Result<(Resource, Option<usize>)> {
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
    if let Some(name) = &args.controller_name {
        if !args.controller {
            bail!(
                "--controller-name names a controller, and --controller=false asks for none; allowed: --controller-name with --controller=true"
            );
        }
        validate_controller_name(name)?;
    }
    let external_flags = [
        ("--external-api-domain", args.external_api_domain.is_some()),
        ("--external-api-crate", args.external_api_crate.is_some()),
        (
            "--external-api-crate-path",
            args.external_api_crate_path.is_some(),
        ),
    ];
    if args.external_api_path.is_none()
        && let Some((flag, _)) = external_flags.iter().find(|(_, given)| *given)
    {
        bail!(
            "{flag} describes an external kind and needs --external-api-path (the Rust path of its type, e.g. cert_manager_api::v1::Certificate)"
        );
    }
    if args.external_api_crate_path.is_some() && args.external_api_crate.is_none() {
        bail!(
            "--external-api-crate-path needs --external-api-crate NAME (the crate's package name) to depend on"
        );
    }
    if args.external_api_path.is_some() && args.resource {
        bail!(
            "--external-api-path is for a kind defined in another crate, whose types kubeforge does not scaffold; allowed: --external-api-path with --resource=false"
        );
    }
    if args.resource {
        new_resource(args, project)
    } else {
        existing_builtin_or_external(args, project, root)
    }
}

/// `--controller-name`: a module name and the name metrics and logs show,
/// so Kubebuilder's spelling of controller names, less what Rust refuses.
fn validate_controller_name(name: &str) -> Result<()> {
    let allowed = "lowercase letters, digits, '-' and '_', starting with a letter, at most 63 characters (e.g. myapp-backup)";
    let valid = name.len() <= 63
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        bail!("controller name `{name}` is invalid; allowed: {allowed}");
    }
    let module = name.replace('-', "_");
    if names::rust_ident(&module) != module || matches!(module.as_str(), "self" | "super" | "crate")
    {
        bail!(
            "controller name `{name}` is the Rust keyword `{module}` as a module name; choose another (e.g. {name}-controller)"
        );
    }
    Ok(())
}

/// A new kind of this project: validated against what PROJECT already has.
/// With `--force`, the kind may exist: it is re-scaffolded as recorded.
fn new_resource(args: &CreateApiArgs, project: &Project) -> Result<(Resource, Option<usize>)> {
    names::validate_dns1123_subdomain("group", &args.group)?;
    let api_group = format!("{}.{}", args.group, project.domain);
    names::validate_dns1123_subdomain("API group", &api_group)?;
    let namespaced = args.namespaced.unwrap_or(true);
    if let Some(index) = project
        .resources
        .iter()
        .position(|r| r.group == args.group && r.version == args.version && r.kind == args.kind)
    {
        let existing = &project.resources[index];
        if !args.force || existing.api.is_none() {
            bail!(
                "kind {} already exists in {api_group}/{}; allowed: a new kind, or a new version of it (e.g. --version v2), or --force to re-scaffold its files",
                args.kind,
                args.version
            );
        }
        if let Some(wanted) = args.namespaced
            && wanted != existing.namespaced()
        {
            bail!(
                "--force re-scaffolds {} as PROJECT records it, with --namespaced={}; allowed: that scope, or no --namespaced",
                args.kind,
                existing.namespaced()
            );
        }
        if let Some(plural) = &args.plural
            && *plural != existing.plural
        {
            bail!(
                "--force re-scaffolds {} as PROJECT records it, with the plural `{}`; allowed: that plural, or no --plural",
                args.kind,
                existing.plural
            );
        }
        return Ok((existing.clone(), Some(index)));
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
        let other_namespaced = other.api.as_ref().is_some_and(|a| a.namespaced);
        if other_namespaced != namespaced {
            bail!(
                "{} {} is {} in {}; every version of a kind has the same scope (use --namespaced={other_namespaced})",
                args.kind,
                other.version,
                if other_namespaced {
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
    let resource = Resource {
        api: Some(Api {
            crd_version: "v1".into(),
            namespaced,
        }),
        domain: Some(project.domain.clone()),
        group: args.group.clone(),
        kind: args.kind.clone(),
        path,
        plural,
        version: args.version.clone(),
        ..Resource::default()
    };
    Ok((resource, None))
}

/// `--resource=false`: a controller for a kind that exists already, in this
/// project (its own, or an external kind recorded before), from another
/// crate (`--external-api-path`), or built into Kubernetes.
fn existing_builtin_or_external(
    args: &CreateApiArgs,
    project: &Project,
    root: &Path,
) -> Result<(Resource, Option<usize>)> {
    if let Some(index) = project
        .resources
        .iter()
        .position(|r| r.group == args.group && r.version == args.version && r.kind == args.kind)
    {
        let existing = &project.resources[index];
        if args.external_api_path.is_some() {
            check_recorded_external(args, existing)?;
        }
        return Ok((existing.clone(), Some(index)));
    }
    if let Some(path) = &args.external_api_path {
        return Ok((external_resource(args, path, root)?, None));
    }
    let builtin = find_builtin(&args.group, &args.version, &args.kind)?;
    let resource = Resource {
        core: true,
        group: builtin.group.to_string(),
        kind: builtin.kind.to_string(),
        path: format!(
            "kubeforge::k8s_openapi::api::{}::{}::{}",
            builtin.module, builtin.version, builtin.kind
        ),
        plural: builtin.plural.to_string(),
        version: builtin.version.to_string(),
        ..Resource::default()
    };
    Ok((resource, None))
}

/// `--external-api-*` for a kind PROJECT has already: they must say what
/// PROJECT says (another controller of it needs none of them).
fn check_recorded_external(args: &CreateApiArgs, existing: &Resource) -> Result<()> {
    let what = format!("{} {}/{}", existing.kind, existing.group, existing.version);
    if !existing.external {
        bail!(
            "{what} is already in PROJECT, not as an external kind; allowed: leave out the --external-api-* flags"
        );
    }
    let module_path = args
        .external_api_crate_path
        .as_deref()
        .map(normalize_dir_flag);
    let differs = [
        (
            "--external-api-path",
            args.external_api_path.as_deref(),
            Some(existing.path.as_str()),
        ),
        (
            "--external-api-domain",
            args.external_api_domain.as_deref(),
            existing.domain.as_deref(),
        ),
        (
            "--external-api-crate",
            args.external_api_crate.as_deref(),
            existing.module.as_deref(),
        ),
        (
            "--external-api-crate-path",
            module_path.as_deref(),
            existing.module_path.as_deref(),
        ),
    ]
    .into_iter()
    .find(|(_, given, recorded)| given.is_some() && given != recorded);
    if let Some((flag, _, recorded)) = differs {
        bail!(
            "{what} is already in PROJECT as an external kind with {flag} {}; allowed: the same value, or leave the --external-api-* flags out",
            recorded.unwrap_or("unset")
        );
    }
    Ok(())
}

/// A kind from another crate (Kubebuilder's `--external-api-path`), as
/// PROJECT records it.
fn external_resource(args: &CreateApiArgs, path: &str, root: &Path) -> Result<Resource> {
    validate_rust_path(path, &args.kind)?;
    names::validate_dns1123_subdomain("group", &args.group)?;
    if let Some(domain) = &args.external_api_domain {
        names::validate_dns1123_subdomain("--external-api-domain", domain)?;
    }
    let module_path = args
        .external_api_crate_path
        .as_deref()
        .map(normalize_dir_flag);
    if let Some(spec) = &args.external_api_crate {
        validate_crate_spec(spec, module_path.as_deref(), root)?;
    }
    let resource = Resource {
        domain: args.external_api_domain.clone(),
        external: true,
        external_namespaced: Some(args.namespaced.unwrap_or(true)),
        group: args.group.clone(),
        kind: args.kind.clone(),
        module: args.external_api_crate.clone(),
        module_path,
        path: path.to_string(),
        plural: args
            .plural
            .clone()
            .unwrap_or_else(|| names::plural(&args.kind)),
        version: args.version.clone(),
        ..Resource::default()
    };
    names::validate_dns1123_subdomain("API group", &resource.api_group())?;
    Ok(resource)
}

/// `--external-api-path`: a path to a type, `crate::module::Kind`, which
/// the controller and its test `use`, so it must end with the kind.
fn validate_rust_path(path: &str, kind: &str) -> Result<()> {
    let segments: Vec<&str> = path.split("::").collect();
    let is_ident = |s: &str| {
        s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && s != "_"
    };
    let allowed = format!(
        "a Rust path to the type, `<crate>::<module>::...::{kind}` (e.g. cert_manager_api::v1::{kind})"
    );
    if segments.len() < 2 || !segments.iter().all(|s| is_ident(s)) {
        bail!("--external-api-path `{path}` is not a Rust path; allowed: {allowed}");
    }
    if let Some(keyword) = segments
        .iter()
        .find(|s| names::rust_ident(s) != **s || matches!(**s, "self" | "super" | "crate"))
    {
        bail!(
            "--external-api-path `{path}` has the keyword `{keyword}`; allowed: {allowed}, through the crate's name"
        );
    }
    if segments.last() != Some(&kind) {
        bail!("--external-api-path `{path}` does not end with the kind {kind}; allowed: {allowed}");
    }
    Ok(())
}

/// `--external-api-crate`: `name@version` (crates.io) or `name` with
/// `--external-api-crate-path` (a path dependency, `name@version` there
/// adds the version Cargo uses when publishing).
fn validate_crate_spec(spec: &str, dir: Option<&str>, root: &Path) -> Result<()> {
    let allowed =
        "NAME@VERSION (e.g. cert-manager-api@1.18), or NAME with --external-api-crate-path DIR";
    let (name, version) = match spec.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (spec, None),
    };
    let valid_name = name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid_name {
        bail!(
            "--external-api-crate `{spec}`: `{name}` is not a crate name; allowed: {allowed}, the name of ASCII letters, digits, '-' and '_', starting with a letter"
        );
    }
    if let Some(version) = version {
        let valid_version = version
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || "^~=<>*".contains(c))
            && version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".^~=<>*, +-".contains(c));
        if !valid_version {
            bail!(
                "--external-api-crate `{spec}`: `{version}` is not a version requirement; allowed: {allowed}, the version as Cargo.toml writes it (1.18, ^1.18.2, =0.3.0)"
            );
        }
    }
    let Some(dir) = dir else {
        if version.is_none() {
            bail!("--external-api-crate `{spec}` needs a version or a path; allowed: {allowed}");
        }
        return Ok(());
    };
    if dir.is_empty() || dir.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        bail!(
            "--external-api-crate-path `{dir}` is not a directory kubeforge can write into Cargo.toml; allowed: a path without quotes, backslashes or control characters"
        );
    }
    let manifest: PathBuf = root.join(dir).join("Cargo.toml");
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        bail!(
            "--external-api-crate-path `{dir}` has no Cargo.toml; allowed: the crate's directory, relative to the project root or absolute"
        );
    };
    if let Some(package) = package_name(&text)
        && names::crate_ident(&package) != names::crate_ident(name)
    {
        bail!(
            "--external-api-crate-path `{dir}` holds the package `{package}`, not `{name}`; allowed: --external-api-crate {package}"
        );
    }
    Ok(())
}

/// The directory flag as PROJECT records it and Cargo.toml writes it:
/// forward slashes, no trailing slash.
fn normalize_dir_flag(dir: &str) -> String {
    let dir = dir.replace('\\', "/");
    let trimmed = dir.trim_end_matches('/');
    if trimmed.is_empty() {
        dir
    } else {
        trimmed.to_string()
    }
}

/// `[package] name` of a Cargo.toml, read without a TOML parser: the CLI
/// has none, and this one line is all it needs.
fn package_name(cargo_toml: &str) -> Option<String> {
    let mut in_package = false;
    for line in cargo_toml.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if in_package
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "name"
        {
            return Some(value.trim().trim_matches('"').to_string());
        }
    }
    None
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
            "--resource=false needs an existing kind: {kind} is not in this project's PROJECT at {group}/{version}, and {group}/{version} is not a built-in Kubernetes API group version (e.g. apps/v1, batch/v1, core/v1; for another crate's kind, add --external-api-path)"
        );
    }
    bail!(
        "--resource=false needs an existing kind: {group}/{version} has no kind {kind}; allowed: {}",
        in_group.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_lines_are_found_in_any_spelling() {
        let toml = "[package]\nname = \"m\"\n\n[dependencies]\nfoo-bar = \"1\"\nbaz.workspace = true\n# qux = \"2\"\n\n[dev-dependencies]\nqux = \"1\"\n\n[dependencies.quux]\nversion = \"3\"\n";
        assert_eq!(
            dependency_line(toml, "foo_bar").as_deref(),
            Some("foo-bar = \"1\"")
        );
        assert_eq!(
            dependency_line(toml, "baz").as_deref(),
            Some("baz.workspace = true")
        );
        assert_eq!(dependency_line(toml, "qux"), None, "a dev-dependency");
        assert_eq!(
            dependency_line(toml, "quux").as_deref(),
            Some("[dependencies.quux]")
        );
        assert_eq!(dependency_line(toml, "m"), None);
    }

    #[test]
    fn controllers_are_recorded_in_kubebuilders_shape_until_named() {
        let mut resource = Resource::default();
        record_controller(&mut resource, "my_app", "my_app");
        assert!(resource.controller && resource.controllers.is_empty());
        record_controller(&mut resource, "my_app", "my-app-backup");
        assert_eq!(
            resource.controllers,
            [
                Controller::named("my_app"),
                Controller::named("my-app-backup")
            ]
        );
        let mut named_first = Resource::default();
        record_controller(&mut named_first, "my_app", "audit");
        record_controller(&mut named_first, "my_app", "my_app");
        assert!(named_first.controller);
        assert_eq!(
            named_first.controllers,
            [Controller::named("audit"), Controller::named("my_app")]
        );
    }

    #[test]
    fn package_names_and_paths() {
        assert_eq!(
            package_name("[workspace]\nname = \"no\"\n[package]\nname = \"memo-api\"\n").as_deref(),
            Some("memo-api")
        );
        assert_eq!(package_name("[workspace]\n"), None);
        assert_eq!(normalize_dir_flag("../memo/"), "../memo");
        assert_eq!(normalize_dir_flag("/"), "/");
    }
}
