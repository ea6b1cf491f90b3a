//! The scaffolding pipeline, one direction only:
//!
//! ```text
//! user input ──commands/ validate──▶ PROJECT model (project.rs)
//!            ──model.rs──▶ every derived name, once (ProjectModel / ResourceModel)
//!            ──templates.rs──▶ files + insertions at markers (templates/<scaffold>/ + <scaffold>.yaml)
//!            ──plan.rs──▶ all-or-nothing writes (or an in-memory tree for the record)
//! ```
//!
//! The steps below are what each command scaffolds; `commands/` validates
//! input and calls them, and [`crate::record`] replays them from PROJECT.
//! Adding a scaffold is: a directory under `templates/`, its declaration
//! (`templates/<name>.yaml`), a [`templates::Scaffold`] variant, the
//! variables it needs in [`model`], and a step here.

pub mod marker;
pub mod model;
pub mod plan;
pub mod templates;

use anyhow::Result;

pub use model::{ProjectModel, ResourceModel, WebhookModel};
pub use plan::Plan;
use templates::Scaffold;

use crate::project::{self, Project};

/// The generated role; `kubeforge manifests` owns it after `init`.
pub const ROLE_FILE: &str = "config/rbac/role.yaml";

/// A new project: the `init` templates, the files of PROJECT's plugins,
/// PROJECT, and the role with no rules (generated like every later
/// role.yaml, so `manifests --check` agrees).
pub fn init(plan: &mut Plan, project: &Project) -> Result<()> {
    let model = ProjectModel::new(project);
    templates::render(Scaffold::Init, &model, plan)?;
    plugins(plan, &model)?;
    plan.create(project::FILE_NAME, project.render()?)?;
    let scope = project.manager_scope();
    let no_rules = kubeforge_codegen::rbac::merge_for(&[], scope);
    plan.create(
        ROLE_FILE,
        kubeforge_codegen::rbac::render_role_yaml(
            &no_rules,
            kubeforge_codegen::scan::ROLE_NAME,
            scope,
        ),
    )
}

/// The project-wide files of PROJECT's plugins: Grafana's dashboards, the
/// Helm chart's skeleton (per-kind and webhook parts come with [`api`] and
/// [`webhook`]).
fn plugins(plan: &mut Plan, model: &ProjectModel) -> Result<()> {
    if model.grafana {
        templates::render(Scaffold::Grafana, model, plan)?;
    }
    if model.helm {
        templates::render(Scaffold::Helm, model, plan)?;
    }
    Ok(())
}

/// A kind's types, sample and roles, wired into the API crate and config/
/// (and the Helm chart, with the helm plugin).
pub fn api(plan: &mut Plan, model: &ResourceModel) -> Result<()> {
    templates::render(Scaffold::Api, model, plan)?;
    if model.project.helm {
        templates::render(Scaffold::HelmApi, model, plan)?;
    }
    Ok(())
}

/// The manager's main.rs, where controllers are added.
const MAIN_RS: &str = "manager/src/main.rs";

/// A controller for a kind, wired into the manager. `siblings` are the
/// modules of the kind's controllers scaffolded before this one: its
/// `add_controller` line goes right after theirs rather than at the
/// marker, so a kind's controllers stay together in main.rs, which is also
/// where replaying PROJECT (kind by kind) puts them.
pub fn controller(plan: &mut Plan, model: &ResourceModel, siblings: &[String]) -> Result<()> {
    let before = plan.read(MAIN_RS).ok();
    templates::render(Scaffold::Controller, model, plan)?;
    if let Some(before) = before
        && !siblings.is_empty()
    {
        let line = format!(
            "manager.add_controller(\"{}\", controller::{}::run);",
            model.controller_name, model.controller_module
        );
        let after = plan.read(MAIN_RS)?;
        if !before.contains(&line)
            && let Some(moved) = next_to_siblings(&after, &line, siblings)
        {
            plan.update(MAIN_RS, moved)?;
        }
    }
    Ok(())
}

/// `text` with `line` moved to just after the last line that adds one of
/// `siblings`, if there is one above it.
fn next_to_siblings(text: &str, line: &str, siblings: &[String]) -> Option<String> {
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let at = lines.iter().position(|l| l.trim() == line)?;
    let anchor = lines[..at].iter().rposition(|l| {
        siblings
            .iter()
            .any(|s| l.contains(&format!("controller::{s}::run")))
    })?;
    let moved = lines.remove(at);
    lines.insert(anchor + 1, moved);
    Some(lines.concat())
}

/// A kind's webhooks, wired into the manager and config/ (and the Helm
/// chart, with the helm plugin), and each spoke's conversions in the API
/// crate.
pub fn webhook(plan: &mut Plan, model: &WebhookModel) -> Result<()> {
    templates::render(Scaffold::Webhook, model, plan)?;
    if model.resource.project.helm {
        templates::render(Scaffold::HelmWebhook, model, plan)?;
    }
    for spoke in model.spoke_models() {
        templates::render(Scaffold::Spoke, &spoke, plan)?;
    }
    Ok(())
}

/// Every scaffold step for `project`, replayed in PROJECT's order into
/// `plan`: what `init` and each `create api` produced.
pub fn replay(plan: &mut Plan, project: &Project) -> Result<()> {
    let mut so_far = project.clone();
    so_far.resources.clear();
    init(plan, &so_far)?;
    for resource in &project.resources {
        let model = ResourceModel::new(&so_far, resource);
        if resource.api.is_some() {
            api(plan, &model)?;
        }
        let mut siblings = Vec::new();
        for named in model.controllers(resource) {
            controller(plan, &named, &siblings)?;
            siblings.push(named.controller_module);
        }
        so_far.resources.push(resource.clone());
    }
    // Webhooks after every kind: a conversion's spokes are other resources.
    for index in 0..project.resources.len() {
        if let Some(model) = webhook_model(project, index) {
            webhook(plan, &model)?;
        }
    }
    Ok(())
}

/// The webhooks of `project.resources[index]`, if it has any. Names are
/// derived as when the kind was added (from the resources before it), and
/// spokes are looked up among all versions of the kind.
pub fn webhook_model(project: &Project, index: usize) -> Option<WebhookModel> {
    let resource = project.resources.get(index)?;
    let webhooks = resource.webhooks.as_ref()?;
    let mut before = project.clone();
    before.resources.truncate(index);
    before.resources.extend(
        project.resources[index..]
            .iter()
            .filter(|r| r.group == resource.group && r.kind == resource.kind)
            .cloned(),
    );
    Some(WebhookModel::new(&before, resource, webhooks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kinds_controllers_stay_together() {
        let main = "    manager.add_controller(\"a\", controller::a::run);\n    manager.add_controller(\"b\", controller::b::run);\n    manager.add_controller(\"a-2\", controller::a_2::run);\n    // +kubeforge:scaffold:controllers\n";
        let line = "manager.add_controller(\"a-2\", controller::a_2::run);";
        assert_eq!(
            next_to_siblings(main, line, &["a".into()]).unwrap(),
            "    manager.add_controller(\"a\", controller::a::run);\n    manager.add_controller(\"a-2\", controller::a_2::run);\n    manager.add_controller(\"b\", controller::b::run);\n    // +kubeforge:scaffold:controllers\n"
        );
        assert_eq!(
            next_to_siblings(main, line, &["gone".into()]),
            None,
            "no sibling line: stays at the marker"
        );
    }
}
