//! The variables templates see, computed once from PROJECT in Rust and
//! handed to Tera whole (`Context::from_serialize`), so templates stay free
//! of logic and filters (which Tera and Liquid spell differently) and every
//! derived name has one definition.

use serde::Serialize;

use crate::names;
use crate::project::{Plugin, Project, Resource, Webhooks};

/// Variables every scaffold of a project sees.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectModel {
    pub project_name: String,
    pub domain: String,
    /// The API crate (`<name>-api`) and its Rust name (`<name>_api`).
    pub api_crate: String,
    pub api_lib: String,
    /// The manager crate (`<name>-manager`) and its Rust name.
    pub manager_crate: String,
    pub manager_lib: String,
    /// The namespace config/default installs into, as Kubebuilder names it.
    pub namespace: String,
    /// A namespace-scoped manager (`init --namespaced`): Roles instead of
    /// ClusterRoles, and WATCH_NAMESPACE set to the manager's namespace.
    /// (`namespaced` is the kind's scope, in [`ResourceModel`].)
    pub namespaced_manager: bool,
    pub leader_election_id: String,
    /// The comment put on top of generated Rust sources.
    pub license_header: String,
    /// Cargo.toml's `license`; empty for no licence.
    pub license_spdx: &'static str,
    pub has_license: bool,
    pub kubeforge_version: &'static str,
    pub kubernetes_version: &'static str,
    /// The TOML fields (`path = ".."` or `version = ".."`) by which the
    /// workspace depends on kubeforge and kubeforge-envtest.
    pub kubeforge_source: String,
    pub kubeforge_envtest_source: String,
    /// PROJECT's plugins: Grafana dashboards (grafana/), and a Helm chart
    /// (dist/chart/) that later scaffolds extend with each kind's roles
    /// and the webhooks' Service and certificates.
    pub grafana: bool,
    pub helm: bool,
}

impl ProjectModel {
    pub fn new(project: &Project) -> ProjectModel {
        let name = &project.project_name;
        let api_crate = format!("{name}-api");
        let manager_crate = format!("{name}-manager");
        let license_spdx = project.license.spdx();
        ProjectModel {
            project_name: name.clone(),
            domain: project.domain.clone(),
            api_lib: names::crate_ident(&api_crate),
            api_crate,
            manager_lib: names::crate_ident(&manager_crate),
            manager_crate,
            namespace: format!("{name}-system"),
            namespaced_manager: project.namespaced,
            leader_election_id: format!("{name}.{}", project.domain),
            license_header: project.license.header(project.owner.as_deref()),
            license_spdx,
            has_license: !license_spdx.is_empty(),
            kubeforge_version: crate::KUBEFORGE_VERSION,
            kubernetes_version: crate::KUBERNETES_VERSION,
            kubeforge_source: project.kubeforge.toml_for("kubeforge"),
            kubeforge_envtest_source: project.kubeforge.toml_for("kubeforge-envtest"),
            grafana: project.has_plugin(Plugin::Grafana),
            helm: project.has_plugin(Plugin::Helm),
        }
    }
}

/// Variables for one resource (a kind at a group and version), on top of
/// the project's.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceModel {
    #[serde(flatten)]
    pub project: ProjectModel,
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    /// The kind's module and file name (`my_app`).
    pub kind_snake: String,
    /// The kind in lower case, as Kubebuilder's file names spell it (`myapp`).
    pub kind_lower: String,
    /// The group's directory under `api/src/` (`batch_tutorial`).
    pub group_dir: String,
    /// The group's module name (a raw identifier if it is a keyword).
    pub group_module: String,
    /// The full API group: `<group>.<domain>`, or the built-in group ("" for core).
    pub api_group: String,
    /// `apiVersion` as objects, RBAC and owner references spell it.
    pub api_version: String,
    pub crd_name: String,
    pub namespaced: bool,
    /// The Rust path of the kind's type.
    pub type_path: String,
    /// A built-in Kubernetes kind rather than one of this project's.
    pub builtin: bool,
    /// The controller's module, and its name in logs and metrics labels.
    pub controller_module: String,
    pub controller_name: String,
}

impl ResourceModel {
    /// `project` is the project as it was before `resource` was added: a
    /// controller's module is qualified by its group only if an earlier kind
    /// of another group has the same name, so replaying PROJECT in order
    /// names every controller as it was first named.
    pub fn new(project: &Project, resource: &Resource) -> ResourceModel {
        let api_group = resource.api_group();
        let group_dir = names::group_dir(&resource.group);
        let kind_snake = names::snake_case(&resource.kind);
        let clash = project
            .resources
            .iter()
            .any(|r| r.kind == resource.kind && r.group != resource.group);
        let controller_module = if clash {
            format!("{group_dir}_{kind_snake}")
        } else {
            kind_snake.clone()
        };
        ResourceModel {
            project: ProjectModel::new(project),
            group: resource.group.clone(),
            version: resource.version.clone(),
            kind: resource.kind.clone(),
            plural: resource.plural.clone(),
            kind_lower: resource.kind.to_ascii_lowercase(),
            kind_snake,
            group_module: names::group_module(&resource.group),
            group_dir,
            api_version: match api_group.as_str() {
                "" => resource.version.clone(),
                group => format!("{group}/{}", resource.version),
            },
            crd_name: format!("{}.{api_group}", resource.plural),
            api_group,
            namespaced: resource.namespaced(),
            type_path: resource.path.clone(),
            builtin: resource.core,
            controller_name: controller_module.clone(),
            controller_module,
        }
    }
}

/// Variables for a kind's webhooks (`create webhook`), on top of the
/// resource's: the hub version's resource when there is a conversion.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookModel {
    #[serde(flatten)]
    pub resource: ResourceModel,
    /// The module holding this kind and version's webhooks (`my_app_v1`).
    pub webhook_module: String,
    pub defaulting: bool,
    pub validation: bool,
    pub conversion: bool,
    /// Served paths, Kubebuilder's unless overridden.
    pub defaulting_path: String,
    pub validation_path: String,
    /// Webhook names, as Kubebuilder's `m<kind>-<version>.kb.io`.
    pub defaulting_name: String,
    pub validation_name: String,
    /// The versions converted through this one (the hub).
    pub spokes: Vec<SpokeModel>,
}

/// One spoke of a conversion: a version converted to and from the hub.
#[derive(Debug, Clone, Serialize)]
pub struct SpokeModel {
    /// The spoke's version (`v1beta1`).
    pub spoke_version: String,
    /// The spoke's type path.
    pub spoke_type_path: String,
}

impl WebhookModel {
    /// The model of `resource`'s webhooks as PROJECT records them; `project`
    /// as for [`ResourceModel::new`], and holding the spokes' resources.
    pub fn new(project: &Project, resource: &Resource, webhooks: &Webhooks) -> WebhookModel {
        let resource_model = ResourceModel::new(project, resource);
        let path = |prefix: &str| {
            format!(
                "/{prefix}-{}-{}-{}",
                resource_model.api_group.replace('.', "-"),
                resource.version,
                resource_model.kind_lower
            )
        };
        let spokes = webhooks
            .spoke
            .iter()
            .map(|version| SpokeModel {
                spoke_type_path: project
                    .find_resource(&resource.group, version, &resource.kind)
                    .map(|r| r.path.clone())
                    .unwrap_or_default(),
                spoke_version: version.clone(),
            })
            .collect();
        WebhookModel {
            webhook_module: format!("{}_{}", resource_model.controller_module, resource.version),
            defaulting: webhooks.defaulting,
            validation: webhooks.validation,
            conversion: webhooks.conversion,
            defaulting_path: webhooks
                .defaulting_path
                .clone()
                .unwrap_or_else(|| path("mutate")),
            validation_path: webhooks
                .validation_path
                .clone()
                .unwrap_or_else(|| path("validate")),
            defaulting_name: format!("m{}-{}.kb.io", resource_model.kind_lower, resource.version),
            validation_name: format!("v{}-{}.kb.io", resource_model.kind_lower, resource.version),
            spokes,
            resource: resource_model,
        }
    }

    /// The same webhooks limited to what one `create webhook` added, so a
    /// later command scaffolds only its own files and lines.
    pub fn only(&self, added: &Webhooks) -> WebhookModel {
        let mut model = self.clone();
        model.defaulting &= added.defaulting;
        model.validation &= added.validation;
        model.conversion &= added.conversion;
        model
            .spokes
            .retain(|s| added.spoke.contains(&s.spoke_version));
        model
    }
}

/// Variables for one spoke's conversions: the hub's resource and the spoke.
#[derive(Debug, Clone, Serialize)]
pub struct SpokeScaffoldModel {
    #[serde(flatten)]
    pub hub: ResourceModel,
    #[serde(flatten)]
    pub spoke: SpokeModel,
    /// The hub version's module, as the API crate names it (`crate::apps::v1`).
    pub hub_module: String,
}

impl WebhookModel {
    /// The model for each spoke's `From` conversions.
    pub fn spoke_models(&self) -> Vec<SpokeScaffoldModel> {
        self.spokes
            .iter()
            .map(|spoke| SpokeScaffoldModel {
                hub: self.resource.clone(),
                spoke: spoke.clone(),
                hub_module: format!(
                    "crate::{}::{}",
                    self.resource.group_module, self.resource.version
                ),
            })
            .collect()
    }
}
