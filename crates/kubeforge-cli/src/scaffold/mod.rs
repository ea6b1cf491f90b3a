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

/// A controller for a kind, wired into the manager.
pub fn controller(plan: &mut Plan, model: &ResourceModel) -> Result<()> {
    templates::render(Scaffold::Controller, model, plan)
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
        if resource.controller {
            controller(plan, &model)?;
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
