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
    /// A kind this project does not define: built into Kubernetes, or
    /// `external` (another crate's). Its controller watches it and owns
    /// none of its fields, so it needs only get/list/watch.
    pub builtin: bool,
    /// Another crate's kind (`--external-api-path`): its CRD is installed
    /// by the scaffolded test from the type, since no `#[crd]` of this
    /// project defines it.
    pub external: bool,
    /// The `[dependencies]` line for an external kind's crate
    /// (`--external-api-crate`) in manager/Cargo.toml; empty for none,
    /// which inserts nothing.
    pub external_dependency: String,
    /// The controller's module (and file) name, and the name it is added
    /// to the manager under: the `controller` label of its metrics and the
    /// name in its logs. The kind's by default; `--controller-name` gives
    /// another controller of the same kind its own (see
    /// [`ResourceModel::with_controller`]).
    pub controller_module: String,
    pub controller_name: String,
    /// The field manager of the controller's server-side apply patches:
    /// one per controller, so two controllers of one kind do not take
    /// each other's fields.
    pub field_manager: String,
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
            builtin: resource.core || resource.external,
            external: resource.external,
            external_dependency: external_dependency(resource),
            field_manager: format!(
                "{}-{}-controller",
                project.project_name,
                resource.kind.to_ascii_lowercase()
            ),
            controller_name: controller_module.clone(),
            controller_module,
        }
    }

    /// The model of the controller named `name` (`--controller-name`): its
    /// module is the name with '-' as '_', and its field manager adds the
    /// name to the kind's. `None`, or the default module's own name, is
    /// the kind's default controller, named as before names existed.
    pub fn with_controller(&self, name: Option<&str>) -> ResourceModel {
        let mut model = self.clone();
        if let Some(name) = name
            && name != self.controller_module
        {
            model.controller_module = name.replace('-', "_");
            model.controller_name = name.to_string();
            model.field_manager = format!(
                "{}-{}-{name}-controller",
                self.project.project_name, self.kind_lower
            );
        }
        model
    }

    /// One model per controller `resource` has, in the order they were
    /// added (see [`Resource::controllers`]); none without a controller.
    pub fn controllers(&self, resource: &Resource) -> Vec<ResourceModel> {
        if !resource.controller {
            Vec::new()
        } else if resource.controllers.is_empty() {
            vec![self.clone()]
        } else {
            resource
                .controllers
                .iter()
                .map(|c| self.with_controller(Some(&c.name)))
                .collect()
        }
    }
}

/// The manager's `[dependencies]` line for an external kind's crate, as
/// `cargo add` would write it: keyed by the crate's Rust name as the type
/// path spells it (its first segment), with `package` when the crate's
/// name differs from that, so the path in `use` always resolves.
fn external_dependency(resource: &Resource) -> String {
    let Some(module) = resource.module.as_deref() else {
        return String::new();
    };
    let (name, version) = match module.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (module, None),
    };
    let key = resource.path.split("::").next().unwrap_or(name);
    let mut fields = Vec::new();
    if names::crate_ident(name) != key {
        fields.push(format!("package = \"{name}\""));
    }
    if let Some(dir) = &resource.module_path {
        // manager/Cargo.toml is one level below the project root.
        let dir = if std::path::Path::new(dir).is_absolute() {
            dir.clone()
        } else {
            format!("../{dir}")
        };
        fields.push(format!("path = \"{dir}\""));
    }
    if let Some(version) = version {
        fields.push(format!("version = \"{version}\""));
    }
    let key = if names::crate_ident(name) == key {
        name
    } else {
        key
    };
    match fields.as_slice() {
        [only] if only.starts_with("version = ") => {
            format!("{key} = \"{}\"", version.unwrap_or_default())
        }
        _ => format!("{key} = {{ {} }}", fields.join(", ")),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn external(module: Option<&str>, module_path: Option<&str>, path: &str) -> Resource {
        Resource {
            external: true,
            module: module.map(str::to_string),
            module_path: module_path.map(str::to_string),
            path: path.into(),
            ..Resource::default()
        }
    }

    #[test]
    fn external_dependencies_as_cargo_add_writes_them() {
        let cases = [
            (
                Some("memo-api@1.2"),
                None,
                "memo_api::v1::Memo",
                r#"memo-api = "1.2""#,
            ),
            (
                Some("memo-api"),
                Some("../memo-api"),
                "memo_api::v1::Memo",
                r#"memo-api = { path = "../../memo-api" }"#,
            ),
            (
                Some("memo-api@0.3"),
                Some("/src/memo"),
                "memo_api::v1::Memo",
                r#"memo-api = { path = "/src/memo", version = "0.3" }"#,
            ),
            // A crate whose library is not its name with '_': the key is
            // what the type path spells, the package what crates.io knows.
            (
                Some("k8s-memo@2"),
                None,
                "memos::v1::Memo",
                r#"memos = { package = "k8s-memo", version = "2" }"#,
            ),
            (None, None, "kubeforge::k8s_openapi::Memo", ""),
        ];
        for (module, dir, path, line) in cases {
            assert_eq!(
                external_dependency(&external(module, dir, path)),
                line,
                "{module:?} {dir:?}"
            );
        }
    }

    #[test]
    fn named_controllers_get_their_own_module_name_and_field_manager() {
        let project = Project {
            cli_version: "0.1.0".into(),
            domain: "example.com".into(),
            kubeforge: crate::project::KubeforgeSource::Version("0.1.0".into()),
            layout: vec![crate::project::LAYOUT.into()],
            license: crate::project::License::None,
            namespaced: false,
            owner: None,
            plugins: Default::default(),
            project_name: "shop".into(),
            resources: Vec::new(),
            version: "3".into(),
        };
        let resource = Resource {
            controller: true,
            group: "apps".into(),
            kind: "MyApp".into(),
            ..Resource::default()
        };
        let model = ResourceModel::new(&project, &resource);
        assert_eq!(model.field_manager, "shop-myapp-controller");
        let backup = model.with_controller(Some("my-app-backup"));
        assert_eq!(backup.controller_module, "my_app_backup");
        assert_eq!(backup.controller_name, "my-app-backup");
        assert_eq!(backup.field_manager, "shop-myapp-my-app-backup-controller");
        let default = model.with_controller(Some("my_app"));
        assert_eq!(
            default.field_manager, model.field_manager,
            "the default's name"
        );
        assert_eq!(model.controllers(&resource).len(), 1);
        let both = Resource {
            controllers: vec![
                crate::project::Controller::named("my_app"),
                crate::project::Controller::named("my-app-backup"),
            ],
            ..resource.clone()
        };
        let modules: Vec<String> = model
            .controllers(&both)
            .into_iter()
            .map(|m| m.controller_module)
            .collect();
        assert_eq!(modules, ["my_app", "my_app_backup"]);
        let none = Resource {
            controller: false,
            ..resource
        };
        assert!(model.controllers(&none).is_empty());
    }
}
