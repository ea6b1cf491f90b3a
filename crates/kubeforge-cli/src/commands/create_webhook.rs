//! `kubeforge create webhook`: defaulting, validating and conversion
//! webhooks for a kind of this project, wired into the manager and config/.

use std::path::Path;

use anyhow::{Context as _, Result, bail};

use crate::cli::CreateWebhookArgs;
use crate::names;
use crate::project::{self, Project, Webhooks};
use crate::regenerate;
use crate::scaffold::{self, Plan};

pub fn run(args: CreateWebhookArgs) -> Result<()> {
    let root = std::env::current_dir().context("reading the current directory")?;
    let plan = plan(&args, &root)?;
    super::print_summary(&plan);
    plan.apply()?;
    println!(
        "Next: write your logic in manager/src/webhook/; `make manifests` (kubeforge manifests) keeps config/webhook/manifests.yaml in step with the #[webhook] attributes."
    );
    Ok(())
}

/// Everything `create webhook` would write, checked, without touching the
/// disk: the scaffold, PROJECT and the record of the pristine scaffold.
pub fn plan(args: &CreateWebhookArgs, root: &Path) -> Result<Plan> {
    let mut project = Project::load(root)?;
    let (index, added) = validate(args, &project)?;
    let resource = &mut project.resources[index];
    let webhooks = resource.webhooks.get_or_insert_with(|| Webhooks {
        webhook_version: "v1".into(),
        ..Webhooks::default()
    });
    webhooks.defaulting |= added.defaulting;
    webhooks.validation |= added.validation;
    webhooks.conversion |= added.conversion;
    webhooks.spoke.extend(added.spoke.iter().cloned());
    if added.defaulting_path.is_some() {
        webhooks.defaulting_path.clone_from(&added.defaulting_path);
    }
    if added.validation_path.is_some() {
        webhooks.validation_path.clone_from(&added.validation_path);
    }
    let model = scaffold::webhook_model(&project, index)
        .context("internal error: the resource has no webhooks")?
        .only(&added);
    let mut plan = Plan::new(root);
    scaffold::webhook(&mut plan, &model)?;
    super::manifests::plan_project_source_manifests(&mut plan, root, &project)?;
    plan.update(project::FILE_NAME, project.render()?)?;
    regenerate::record_base(&mut plan, &project)?;
    Ok(plan)
}

/// The flags, checked against PROJECT: the index of the kind's resource and
/// the webhooks this command adds to it.
fn validate(args: &CreateWebhookArgs, project: &Project) -> Result<(usize, Webhooks)> {
    names::validate_version(&args.version)?;
    names::validate_kind(&args.kind)?;
    if !args.defaulting && !args.programmatic_validation && !args.conversion {
        bail!(
            "no webhook asked for; allowed: one or more of --defaulting, --programmatic-validation, --conversion"
        );
    }
    for (flag, path) in [
        ("--defaulting-path", &args.defaulting_path),
        ("--validation-path", &args.validation_path),
    ] {
        if let Some(path) = path
            && !is_webhook_path(path)
        {
            bail!(
                "{flag} `{path}` is invalid; allowed: an absolute URL path of letters, digits, '-', '_', '.' and '/' (e.g. /mutate-apps-v1-myapp)"
            );
        }
    }
    let Some(index) = project.resources.iter().position(|r| {
        r.group == args.group && r.version == args.version && r.kind == args.kind && r.api.is_some()
    }) else {
        let kinds: Vec<String> = project
            .resources
            .iter()
            .filter(|r| r.api.is_some())
            .map(|r| format!("{} {}/{}", r.kind, r.group, r.version))
            .collect();
        bail!(
            "{} {}/{} is not a kind of this project; allowed: {} (create it first with `kubeforge create api`)",
            args.kind,
            args.group,
            args.version,
            if kinds.is_empty() {
                "none yet".to_string()
            } else {
                kinds.join(", ")
            }
        );
    };
    let resource = &project.resources[index];
    if let Some(plural) = &args.plural
        && plural != &resource.plural
    {
        bail!(
            "--plural {plural} does not match {}'s plural `{}` in PROJECT; allowed: {} or no --plural",
            resource.kind,
            resource.plural,
            resource.plural
        );
    }
    let existing = resource.webhooks.clone().unwrap_or_default();
    for (asked, has, what) in [
        (args.defaulting, existing.defaulting, "a defaulting webhook"),
        (
            args.programmatic_validation,
            existing.validation,
            "a validating webhook",
        ),
        (args.conversion, existing.conversion, "a conversion webhook"),
    ] {
        if asked && has {
            bail!(
                "{} {}/{} already has {what}; allowed: the webhooks it lacks",
                args.kind,
                args.group,
                args.version
            );
        }
    }
    if args.conversion {
        let versions: Vec<&str> = project
            .resources
            .iter()
            .filter(|r| r.group == args.group && r.kind == args.kind && r.api.is_some())
            .map(|r| r.version.as_str())
            .filter(|v| *v != args.version)
            .collect();
        if versions.is_empty() {
            bail!(
                "{} has only version {}; a conversion webhook needs another version (add one with `kubeforge create api --version <v> --controller=false`)",
                args.kind,
                args.version
            );
        }
        if args.spoke.is_empty() {
            bail!(
                "--conversion needs at least one --spoke; allowed: {}",
                versions.join(", ")
            );
        }
        let mut seen = Vec::new();
        for spoke in &args.spoke {
            if spoke == &args.version {
                bail!(
                    "--spoke {spoke} is the hub (--version); allowed spokes: {}",
                    versions.join(", ")
                );
            }
            if !versions.contains(&spoke.as_str()) {
                bail!(
                    "--spoke {spoke} is not a version of {}; allowed: {}",
                    args.kind,
                    versions.join(", ")
                );
            }
            if seen.contains(&spoke) {
                bail!("--spoke {spoke} is given twice; allowed: each version once");
            }
            seen.push(spoke);
        }
        if let Some(hub) = project.resources.iter().find(|r| {
            r.group == args.group
                && r.kind == args.kind
                && r.version != args.version
                && r.webhooks.as_ref().is_some_and(|w| w.conversion)
        }) {
            bail!(
                "{} already has a conversion webhook with hub {}; allowed: one hub per kind",
                args.kind,
                hub.version
            );
        }
    }
    Ok((
        index,
        Webhooks {
            defaulting: args.defaulting,
            defaulting_path: args.defaulting_path.clone(),
            validation: args.programmatic_validation,
            validation_path: args.validation_path.clone(),
            conversion: args.conversion,
            spoke: args.spoke.clone(),
            webhook_version: "v1".into(),
        },
    ))
}

/// A path the API server can call: absolute, URL-safe, no `..`.
fn is_webhook_path(path: &str) -> bool {
    path.starts_with('/')
        && path.len() > 1
        && !path.contains("..")
        && !path.contains("//")
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

#[cfg(test)]
mod tests {
    #[test]
    fn webhook_paths() {
        for ok in ["/mutate-apps-example-com-v1-myapp", "/validate/v1"] {
            assert!(super::is_webhook_path(ok), "{ok}");
        }
        for bad in ["", "/", "mutate", "/a/../b", "/a b", "/a//b", "/a?x=1"] {
            assert!(!super::is_webhook_path(bad), "{bad}");
        }
    }
}
