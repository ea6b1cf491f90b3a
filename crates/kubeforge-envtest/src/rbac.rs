//! Running as the operator's ServiceAccount, with exactly the RBAC it ships.
//!
//! Kubebuilder's envtest hands tests a cluster-admin client, so a controller that calls an
//! API its generated role.yaml does not grant passes every test and fails in production.
//! Here the project's own role.yaml is applied, bound to a ServiceAccount, and the test
//! talks to the API server *as* that ServiceAccount (via impersonation), so a missing
//! `#[rbac]` rule shows up as a 403 in the test.

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::environment::Environment;
use crate::{Error, FIELD_MANAGER, manifests};

const RBAC_PROPAGATION_TIMEOUT: Duration = Duration::from_secs(10);

/// The namespace config/ files are written for (`namespace: system`); kustomize's
/// `namespace:` in config/default replaces it with the operator's namespace.
const KUSTOMIZE_PLACEHOLDER_NAMESPACE: &str = kubeforge_codegen::rbac::MANAGER_NAMESPACE;

/// Fails, naming the command that fixes it, when `role_yaml` is a kubeforge
/// project's generated role and no longer matches the `#[rbac]` attributes
/// in that project's source. Without this, a rule added in code but not yet
/// written by `kubeforge manifests` shows up as a bare 403 from a test that
/// looks right. The rules are read from source exactly as `kubeforge
/// manifests` reads them (kubeforge-codegen), so the comparison is of the
/// file with what that command would write. Files outside a kubeforge
/// project (no PROJECT with kubeforge's layout above `config/rbac`) are used
/// as they are.
fn check_role_is_current(role_yaml: &Path) -> Result<(), Error> {
    let Some((root, scope)) = kubeforge_project_of(role_yaml) else {
        return Ok(());
    };
    let written = std::fs::read_to_string(role_yaml)
        .map_err(|e| Error::io(format!("reading {}", role_yaml.display()), e))?;
    let found =
        kubeforge_codegen::scan::Attributes::from_dir(&root).map_err(|e| Error::Manifest {
            path: role_yaml.to_path_buf(),
            message: format!("cannot read the #[rbac] attributes it is generated from: {e}"),
        })?;
    if written == found.role_yaml(scope) {
        Ok(())
    } else {
        Err(Error::Manifest {
            path: role_yaml.to_path_buf(),
            message: "out of date with the #[rbac] attributes in the source; run `make manifests` (kubeforge manifests), then the tests again".into(),
        })
    }
}

/// The root of the kubeforge project whose `config/rbac/role.yaml` this is,
/// and whether its manager is namespaced (PROJECT's `namespaced: true`).
fn kubeforge_project_of(
    role_yaml: &Path,
) -> Option<(std::path::PathBuf, kubeforge_codegen::rbac::ManagerScope)> {
    let rbac_dir = role_yaml.parent()?;
    let config = rbac_dir.parent()?;
    if role_yaml.file_name()? != "role.yaml"
        || rbac_dir.file_name()? != "rbac"
        || config.file_name()? != "config"
    {
        return None;
    }
    let root = config.parent()?;
    let project = std::fs::read_to_string(root.join("PROJECT")).ok()?;
    project.contains("rust.kubeforge.dev/").then(|| {
        (
            root.to_path_buf(),
            kubeforge_codegen::rbac::ManagerScope::of_project(&project),
        )
    })
}

/// A rule to probe with a SubjectAccessReview, to know when bindings have taken effect.
struct Probe {
    namespace: Option<String>,
    rule: PolicyRule,
}

impl Environment {
    /// Applies `role_yaml` (the project's generated `config/rbac/role.yaml`: a ClusterRole,
    /// usually `manager-role`, plus any namespaced Roles), binds every role in it to the
    /// ServiceAccount `namespace/name` (creating namespaces and the ServiceAccount as
    /// needed), waits until the bindings are in effect, and returns a client that acts as
    /// that ServiceAccount. Requests the role does not allow fail with HTTP 403.
    ///
    /// A Role without a namespace, or in `system` (the placeholder of config/ files such as
    /// `config/rbac/leader_election_role.yaml`, which kustomize replaces at deploy time), is
    /// created in the ServiceAccount's namespace, where a deployment puts it. Calling this
    /// again for the same ServiceAccount adds the roles of another file.
    ///
    /// When `role_yaml` is a kubeforge project's `config/rbac/role.yaml` and no longer
    /// matches the project's `#[rbac]` attributes, this fails at once with one line naming
    /// `make manifests`, rather than letting the test fail later with a 403.
    pub async fn service_account_client(
        &self,
        namespace: &str,
        name: &str,
        role_yaml: &Path,
    ) -> Result<kube::Client, Error> {
        let config = self
            .service_account_config(namespace, name, role_yaml)
            .await?;
        kube::Client::try_from(config)
            .map_err(|e| Error::kube("building the service account client", e))
    }

    /// Like [`Environment::service_account_client`], but returns the client
    /// configuration, for code that builds its own client from one (a
    /// manager's `Manager::with_config`, which adds its rate limit and
    /// request metrics).
    pub async fn service_account_config(
        &self,
        namespace: &str,
        name: &str,
        role_yaml: &Path,
    ) -> Result<kube::Config, Error> {
        check_role_is_current(role_yaml)?;
        let client = self.client();
        let user = format!("system:serviceaccount:{namespace}:{name}");
        let groups = vec![
            "system:serviceaccounts".to_string(),
            format!("system:serviceaccounts:{namespace}"),
            "system:authenticated".to_string(),
        ];
        let subject = Subject {
            kind: "ServiceAccount".into(),
            name: name.into(),
            namespace: Some(namespace.into()),
            ..Subject::default()
        };
        let binding_name = |role: &str| format!("kubeforge-envtest:{role}:{namespace}:{name}");

        ensure_namespace(&client, namespace).await?;
        let sa = ServiceAccount {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(namespace.into()),
                ..ObjectMeta::default()
            },
            ..ServiceAccount::default()
        };
        apply(Api::namespaced(client.clone(), namespace), &sa).await?;

        let mut probes = Vec::new();
        let mut roles = 0;
        for doc in manifests::read_documents(role_yaml)? {
            match manifests::kind(&doc) {
                "ClusterRole" => {
                    let role: ClusterRole = parse(role_yaml, doc)?;
                    let role_name = object_name(role_yaml, &role.metadata)?;
                    apply(Api::all(client.clone()), &role).await?;
                    let binding = ClusterRoleBinding {
                        metadata: ObjectMeta {
                            name: Some(binding_name(&role_name)),
                            ..ObjectMeta::default()
                        },
                        role_ref: role_ref("ClusterRole", &role_name),
                        subjects: Some(vec![subject.clone()]),
                    };
                    apply(Api::all(client.clone()), &binding).await?;
                    probes.extend(role.rules.into_iter().flatten().map(|rule| Probe {
                        namespace: None,
                        rule,
                    }));
                }
                "Role" => {
                    let mut role: Role = parse(role_yaml, doc)?;
                    let role_name = object_name(role_yaml, &role.metadata)?;
                    // No namespace, or kustomize's placeholder, means the operator's own,
                    // as config/default deploys it.
                    let role_ns = match role.metadata.namespace.as_deref() {
                        None | Some(KUSTOMIZE_PLACEHOLDER_NAMESPACE) => namespace.to_string(),
                        Some(other) => other.to_string(),
                    };
                    role.metadata.namespace = Some(role_ns.clone());
                    ensure_namespace(&client, &role_ns).await?;
                    apply(Api::namespaced(client.clone(), &role_ns), &role).await?;
                    let binding = RoleBinding {
                        metadata: ObjectMeta {
                            name: Some(binding_name(&role_name)),
                            namespace: Some(role_ns.clone()),
                            ..ObjectMeta::default()
                        },
                        role_ref: role_ref("Role", &role_name),
                        subjects: Some(vec![subject.clone()]),
                    };
                    apply(Api::namespaced(client.clone(), &role_ns), &binding).await?;
                    probes.extend(role.rules.into_iter().flatten().map(|rule| Probe {
                        namespace: Some(role_ns.clone()),
                        rule,
                    }));
                }
                other => {
                    return Err(Error::Manifest {
                        path: role_yaml.to_owned(),
                        message: format!(
                            "unsupported kind {other:?}; expected ClusterRole or Role documents"
                        ),
                    });
                }
            }
            roles += 1;
        }
        if roles == 0 {
            return Err(Error::Manifest {
                path: role_yaml.to_owned(),
                message: "contains no ClusterRole or Role".into(),
            });
        }

        wait_for_rbac(&client, &user, &groups, &probes).await?;

        let mut config = self.config();
        config.auth_info.impersonate = Some(user);
        config.auth_info.impersonate_groups = Some(groups);
        Ok(config)
    }
}

fn parse<T: DeserializeOwned>(path: &Path, doc: serde_json::Value) -> Result<T, Error> {
    serde_json::from_value(doc).map_err(|e| Error::Manifest {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

fn object_name(path: &Path, meta: &ObjectMeta) -> Result<String, Error> {
    meta.name.clone().ok_or_else(|| Error::Manifest {
        path: path.to_owned(),
        message: "a role has no metadata.name".into(),
    })
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: kind.into(),
        name: name.into(),
    }
}

/// Server-side apply, so calling `service_account_client` twice (or with an updated
/// role.yaml) updates instead of failing with "already exists".
///
/// On a shared control plane, tests bind the same ServiceAccount to the same roles at the
/// same time: the objects are identical, and a forced apply has no field conflicts, so a
/// 409 can only be two writers racing for one object; the apply is retried.
async fn apply<K>(api: Api<K>, object: &K) -> Result<(), Error>
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
    K::DynamicType: Default,
{
    const ATTEMPTS: usize = 5;
    let name = object.meta().name.clone().unwrap_or_default();
    let mut attempt = 1;
    loop {
        match api
            .patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(object),
            )
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 && attempt < ATTEMPTS => {
                attempt += 1;
            }
            Err(e) => {
                return Err(Error::kube(
                    format!("applying {} {name}", K::kind(&Default::default())),
                    e,
                ));
            }
        }
    }
}

async fn ensure_namespace(client: &kube::Client, name: &str) -> Result<(), Error> {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    match Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(e) => Err(Error::kube(format!("creating namespace {name}"), e)),
    }
}

/// The RBAC authorizer reads bindings from an informer, so a fresh binding takes a moment to
/// apply. Asks the API server (SubjectAccessReview) until one request per rule is allowed.
async fn wait_for_rbac(
    client: &kube::Client,
    user: &str,
    groups: &[String],
    probes: &[Probe],
) -> Result<(), Error> {
    let api: Api<SubjectAccessReview> = Api::all(client.clone());
    let deadline = Instant::now() + RBAC_PROPAGATION_TIMEOUT;
    for probe in probes {
        let Some(attributes) = resource_attributes(probe) else {
            continue;
        };
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(user.into()),
                groups: Some(groups.to_vec()),
                resource_attributes: Some(attributes.clone()),
                ..SubjectAccessReviewSpec::default()
            },
            ..SubjectAccessReview::default()
        };
        loop {
            let allowed = api
                .create(&PostParams::default(), &review)
                .await
                .map_err(|e| Error::kube("checking RBAC propagation", e))?
                .status
                .is_some_and(|s| s.allowed);
            if allowed {
                break;
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout(format!(
                    "RBAC for {user} not in effect: {} {} in group {:?} still denied",
                    attributes.verb.unwrap_or_default(),
                    attributes.resource.unwrap_or_default(),
                    attributes.group.unwrap_or_default()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// One request the rule allows, or `None` for rules with nothing to probe (nonResourceURLs).
fn resource_attributes(probe: &Probe) -> Option<ResourceAttributes> {
    let rule = &probe.rule;
    let verb = rule.verbs.first()?;
    let resource = rule.resources.as_ref()?.first()?;
    let (resource, subresource) = match resource.split_once('/') {
        Some((r, s)) => (r.to_string(), Some(s.to_string())),
        None => (resource.clone(), None),
    };
    Some(ResourceAttributes {
        group: Some(
            rule.api_groups
                .as_ref()
                .and_then(|g| g.first().cloned())
                .unwrap_or_default(),
        ),
        resource: Some(resource),
        subresource,
        verb: Some(verb.clone()),
        name: rule
            .resource_names
            .as_ref()
            .and_then(|n| n.first().cloned()),
        namespace: probe.namespace.clone(),
        ..ResourceAttributes::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_pick_one_allowed_request_per_rule() {
        let probe = Probe {
            namespace: Some("ns".into()),
            rule: PolicyRule {
                api_groups: Some(vec!["apps".into()]),
                resources: Some(vec!["deployments/status".into()]),
                verbs: vec!["patch".into(), "get".into()],
                ..PolicyRule::default()
            },
        };
        let a = resource_attributes(&probe).expect("attributes");
        assert_eq!(a.group.as_deref(), Some("apps"));
        assert_eq!(a.resource.as_deref(), Some("deployments"));
        assert_eq!(a.subresource.as_deref(), Some("status"));
        assert_eq!(a.verb.as_deref(), Some("patch"));
        assert_eq!(a.namespace.as_deref(), Some("ns"));

        let non_resource = Probe {
            namespace: None,
            rule: PolicyRule {
                non_resource_urls: Some(vec!["/metrics".into()]),
                verbs: vec!["get".into()],
                ..PolicyRule::default()
            },
        };
        assert!(resource_attributes(&non_resource).is_none());
    }

    #[test]
    fn a_role_behind_the_source_is_named_with_the_command_that_fixes_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("config/rbac")).expect("mkdir");
        std::fs::create_dir_all(root.join("manager/src")).expect("mkdir");
        std::fs::write(root.join("PROJECT"), "layout:\n- rust.kubeforge.dev/v1\n").expect("write");
        let source = root.join("manager/src/lib.rs");
        let rule = "#[kubeforge::rbac(groups = [\"apps\"], resources = [\"deployments\"], verbs = [\"get\"])]\npub async fn run() {}\n";
        std::fs::write(&source, rule).expect("write");
        let role = root.join("config/rbac/role.yaml");
        let current = kubeforge_codegen::scan::Attributes::from_dir(root)
            .expect("scan")
            .role_yaml(kubeforge_codegen::rbac::ManagerScope::Cluster);
        std::fs::write(&role, &current).expect("write");
        check_role_is_current(&role).expect("a current role passes");

        // A rule added in code, manifests not run yet.
        let added =
            "#[kubeforge::rbac(groups = [\"\"], resources = [\"services\"], verbs = [\"get\"])]\n";
        std::fs::write(&source, format!("{added}{rule}")).expect("write");
        let err = check_role_is_current(&role)
            .expect_err("a stale role fails")
            .to_string();
        assert!(
            err.contains("role.yaml") && err.contains("make manifests"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");

        // A namespaced project's role is a Role: the ClusterRole written
        // for a cluster-scoped manager is out of date there.
        std::fs::write(&source, rule).expect("write");
        check_role_is_current(&role).expect("current again");
        std::fs::write(
            root.join("PROJECT"),
            "layout:\n- rust.kubeforge.dev/v1\nnamespaced: true\n",
        )
        .expect("write");
        check_role_is_current(&role).expect_err("a ClusterRole in a namespaced project");
        let namespaced = kubeforge_codegen::scan::Attributes::from_dir(root)
            .expect("scan")
            .role_yaml(kubeforge_codegen::rbac::ManagerScope::Namespaced);
        assert!(namespaced.contains("kind: Role\n"), "{namespaced}");
        std::fs::write(&role, &namespaced).expect("write");
        check_role_is_current(&role).expect("the namespaced role is current");

        // Outside a kubeforge project (no PROJECT), the file is used as it is.
        std::fs::remove_file(root.join("PROJECT")).expect("remove");
        check_role_is_current(&role).expect("not a kubeforge project");
    }
}
