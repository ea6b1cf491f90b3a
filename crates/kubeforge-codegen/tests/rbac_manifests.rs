//! End to end: Rust sources with `#[rbac]` attributes -> scan -> merge ->
//! role.yaml, as `kubeforge manifests` runs it.

use kubeforge_codegen::rbac::{ManagerScope, merge, render_role_yaml};
use kubeforge_codegen::scan::scan_dir;
use std::path::Path;

fn write(root: &Path, rel: &str, contents: &str) {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, contents).unwrap();
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "src/main.rs",
        r#"
        #![allow(dead_code)]
        mod controller;

        #[kubeforge::rbac(groups = "coordination.k8s.io", resources = "leases", verbs = ["get", "create", "update"])]
        #[kubeforge::rbac(groups = "events.k8s.io", resources = "events", verbs = ["create", "patch"])]
        fn main() {}
        "#,
    );
    write(
        root,
        "src/controller/guestbook.rs",
        r#"
        use kubeforge::rbac;

        pub struct GuestbookReconciler;

        #[rbac(groups = "webapp.example.com", resources = ["guestbooks"], verbs = ["get", "list", "watch", "update", "patch"])]
        #[rbac(groups = "webapp.example.com", resources = "guestbooks/status", verbs = ["get", "update", "patch"])]
        #[rbac(groups = "webapp.example.com", resources = "guestbooks/finalizers", verbs = "update")]
        impl GuestbookReconciler {
            // Deployments and services need the same verbs: they merge into
            // one rule per group, and the core group is spelled two ways.
            #[rbac(groups = "apps", resources = "deployments", verbs = ["get", "list", "watch", "create", "update", "patch", "delete"])]
            #[rbac(groups = "core", resources = ["services"], verbs = ["get", "list", "watch", "create", "update", "patch", "delete"])]
            #[rbac(groups = "", resources = ["configmaps"], verbs = ["get", "list", "watch", "create", "update", "patch", "delete"])]
            pub async fn reconcile(&self) {}
        }
        "#,
    );
    write(
        root,
        "src/controller/mod.rs",
        r#"
        pub mod guestbook;

        mod metrics {
            #![kubeforge::rbac(urls = ["/metrics"], verbs = "get")]
        }

        #[rbac(groups = "", resources = "secrets", resource_names = "webhook-server-cert", verbs = ["get", "update"], namespace = "system")]
        #[rbac(groups = "", resources = "secrets", resource_names = "webhook-server-cert", verbs = "watch", namespace = "system")]
        pub struct Certs;
        "#,
    );
    // Build output and hidden directories are not part of the project.
    write(
        root,
        "target/debug/build/out/generated.rs",
        r#"#[rbac(groups = "", resources = "nodes", verbs = "*")] fn f() {}"#,
    );
    dir
}

#[test]
fn role_yaml_from_a_project() {
    let dir = project();
    let rules = scan_dir(dir.path()).unwrap();
    assert_eq!(rules.len(), 11);
    let yaml = render_role_yaml(&merge(&rules), "manager-role", ManagerScope::Cluster);
    insta::assert_snapshot!(yaml);
}

#[test]
fn role_yaml_reads_back_as_kubernetes_objects() {
    let dir = project();
    let yaml = render_role_yaml(
        &merge(&scan_dir(dir.path()).unwrap()),
        "manager-role",
        ManagerScope::Cluster,
    );
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&yaml).unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["kind"], "ClusterRole");
    assert_eq!(docs[1]["kind"], "Role");
    assert_eq!(docs[1]["metadata"]["namespace"], "system");
    let core = docs[0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["apiGroups"] == serde_json::json!([""]))
        .unwrap();
    assert_eq!(
        core["resources"],
        serde_json::json!(["configmaps", "services"])
    );
    assert_eq!(
        docs[1]["rules"][0]["verbs"],
        serde_json::json!(["get", "update", "watch"])
    );
}

#[test]
fn errors_name_the_file_and_position() {
    let dir = project();
    write(
        dir.path(),
        "src/controller/zz_bad.rs",
        "\n#[rbac(groups = \"\", resources = \"pods\", verbs = [\"get\", \"lst\"])]\nfn f() {}\n",
    );
    let err = scan_dir(dir.path()).unwrap_err().to_string();
    let file = dir.path().join("src/controller/zz_bad.rs");
    assert!(
        err.starts_with(&format!("{}:2:57: unknown verb `lst`", file.display())),
        "{err}"
    );
}

/// controller-gen's `roleName`: each role a rule names is its own Role or
/// ClusterRole, written byte for byte as controller-gen v0.22.0 writes the
/// equivalent markers (tests/controller_gen_rbac/).
#[test]
fn role_names_match_controller_gen() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "src/lib.rs",
        r#"
        #[kubeforge::rbac(groups = "apps", resources = "deployments", verbs = "get")]
        #[kubeforge::rbac(groups = "apps", resources = "deployments", verbs = "list", namespace = "infrastructure", role_name = "infra-manager")]
        #[kubeforge::rbac(groups = "", resources = "secrets", verbs = "get", namespace = "users", role_name = "user-secrets")]
        #[kubeforge::rbac(groups = "", resources = "nodes", verbs = "get", role_name = "a-nodes")]
        #[kubeforge::rbac(groups = "", resources = "pods", verbs = "get", namespace = "users")]
        pub struct Reconciler;
        "#,
    );
    let yaml = render_role_yaml(
        &merge(&scan_dir(dir.path()).unwrap()),
        "manager-role",
        ManagerScope::Cluster,
    );
    assert_eq!(yaml, include_str!("controller_gen_rbac/role.yaml"));
}
