//! The ServiceAccount client has exactly the permissions of the project's role.yaml.

// Everything here goes through kube clients.
#![cfg(feature = "client")]

mod common;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams, ObjectMeta, PostParams};

const ROLE_YAML: &str = r#"---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: manager-role
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: manager-role
  namespace: team-a
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [create]
"#;

fn secret(name: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        string_data: Some([("k".to_string(), "v".to_string())].into()),
        ..Secret::default()
    }
}

fn status_code(err: kube::Error) -> u16 {
    match err {
        kube::Error::Api(status) => status.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn service_account_client_is_limited_to_the_generated_role() {
    let env = common::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let role_yaml = dir.path().join("role.yaml");
    std::fs::write(&role_yaml, ROLE_YAML).expect("write");

    let sa = env
        .service_account_client("operator-system", "controller-manager", &role_yaml)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // Granted by the ClusterRole, in any namespace.
    Api::<ConfigMap>::namespaced(sa.clone(), "default")
        .list(&ListParams::default())
        .await
        .expect("listing configmaps is granted");

    // Not granted: creating a ConfigMap, and creating a Secret outside team-a.
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("nope".into()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    let err = Api::<ConfigMap>::namespaced(sa.clone(), "default")
        .create(&PostParams::default(), &cm)
        .await
        .expect_err("create configmap is not granted");
    assert_eq!(status_code(err), 403);
    let err = Api::<Secret>::namespaced(sa.clone(), "default")
        .create(&PostParams::default(), &secret("nope"))
        .await
        .expect_err("create secret in default is not granted");
    assert_eq!(status_code(err), 403);

    // Granted by the namespaced Role, only in its namespace.
    Api::<Secret>::namespaced(sa.clone(), "team-a")
        .create(&PostParams::default(), &secret("allowed"))
        .await
        .expect("create secret in team-a is granted");

    // The admin client is unaffected.
    Api::<Secret>::namespaced(env.client(), "default")
        .create(&PostParams::default(), &secret("admin"))
        .await
        .expect("admin can do anything");

    // Applying again (e.g. a second test with the same SA) is idempotent.
    env.service_account_client("operator-system", "controller-manager", &role_yaml)
        .await
        .unwrap_or_else(|e| panic!("second call: {e}"));
}

/// As config/rbac/leader_election_role.yaml is written: `namespace: system`,
/// which kustomize replaces with the operator's namespace.
const LEADER_ELECTION_ROLE_YAML: &str = r#"apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: leader-election-role
  namespace: system
rules:
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, list, watch, create, update, patch, delete]
"#;

#[tokio::test]
async fn roles_for_the_placeholder_namespace_land_in_the_service_accounts() {
    use k8s_openapi::api::coordination::v1::Lease;
    let env = common::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (role_yaml, leader_yaml) = (dir.path().join("role.yaml"), dir.path().join("le.yaml"));
    std::fs::write(&role_yaml, ROLE_YAML).expect("write");
    std::fs::write(&leader_yaml, LEADER_ELECTION_ROLE_YAML).expect("write");

    env.service_account_client("operator-system", "controller-manager", &role_yaml)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sa = env
        .service_account_client("operator-system", "controller-manager", &leader_yaml)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let lease = Lease {
        metadata: ObjectMeta {
            name: Some("operator.example.com".into()),
            ..ObjectMeta::default()
        },
        ..Lease::default()
    };
    Api::<Lease>::namespaced(sa.clone(), "operator-system")
        .create(&PostParams::default(), &lease)
        .await
        .expect("a Lease in the operator's own namespace is granted");
    let err = Api::<Lease>::namespaced(sa.clone(), "system")
        .create(&PostParams::default(), &lease)
        .await
        .expect_err("the placeholder namespace grants nothing");
    assert_eq!(status_code(err), 403);
    // Both files' roles hold at once.
    Api::<ConfigMap>::namespaced(sa, "default")
        .list(&ListParams::default())
        .await
        .expect("role.yaml's rules still apply");
}

#[tokio::test]
async fn role_yaml_with_other_kinds_is_rejected() {
    let env = common::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let role_yaml = dir.path().join("role.yaml");
    std::fs::write(
        &role_yaml,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    )
    .expect("write");
    let Err(err) = env
        .service_account_client("default", "sa", &role_yaml)
        .await
    else {
        panic!("a ConfigMap is not a role");
    };
    let message = err.to_string();
    assert!(
        message.contains("role.yaml") && message.contains("ConfigMap"),
        "{message}"
    );
}
