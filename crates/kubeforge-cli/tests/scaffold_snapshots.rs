//! Snapshots of whole generated trees: any change to what kubeforge writes
//! shows up in review as a diff of these files.

mod common;

use common::*;

#[test]
fn init_then_create_api() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("myapp");
    std::fs::create_dir(&root).unwrap();
    init(&root, &["--owner", "The MyApp Authors"]);
    create_api(&root, "--group apps --version v1 --kind MyApp");
    insta::assert_snapshot!("myapp_tree", render_tree(&root));
}

/// Every kind of webhook, with a conversion through two spokes: what
/// `create webhook` adds to the manager, the API crate and config/.
#[test]
fn webhooks() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("myapp");
    std::fs::create_dir(&root).unwrap();
    init(&root, &["--owner", "The MyApp Authors"]);
    create_api(&root, "--group apps --version v1 --kind MyApp");
    create_api(
        &root,
        "--group apps --version v1beta1 --kind MyApp --controller=false",
    );
    create_api(
        &root,
        "--group apps --version v2 --kind MyApp --controller=false",
    );
    create_webhook(
        &root,
        "--group apps --version v1 --kind MyApp --defaulting --programmatic-validation --conversion --spoke v1beta1 --spoke v2",
    );
    insta::assert_snapshot!("webhooks_tree", render_tree(&root));
}

/// Unusual names: a dotted domain, a beta version, an acronym-free
/// CamelCase kind, cluster scope, MIT licence.
#[test]
fn cluster_scoped_kind_with_unusual_names() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("infra-operator");
    kubeforge(dir.path())
        .args([
            "init",
            "--domain",
            "corp.example",
            "--license",
            "mit",
            "--owner",
            "Infra Team",
            "--kubeforge-version",
            "0.1.0",
            "infra-operator",
        ])
        .assert()
        .success();
    create_api(
        &root,
        "--group infra --version v1beta2 --kind CacheCluster --namespaced=false",
    );
    insta::assert_snapshot!("cachecluster_tree", render_tree(&root));
}

/// A controller for a built-in kind only, in a project with no licence.
#[test]
fn controller_for_a_builtin_kind() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("deploy-watcher");
    std::fs::create_dir(&root).unwrap();
    init(&root, &["--license", "none"]);
    create_api(
        &root,
        "--group apps --version v1 --kind Deployment --resource=false",
    );
    create_api(
        &root,
        "--group core --version v1 --kind ConfigMap --resource=false --controller",
    );
    insta::assert_snapshot!("builtin_controllers_tree", render_tree(&root));
}

/// A namespace-scoped manager (`init --namespaced`), with a controller for
/// its own kind and one for a built-in kind: only the files that differ
/// from a cluster-wide project's (the rest are in the other snapshots).
#[test]
fn namespaced_manager() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("myapp");
    std::fs::create_dir(&root).unwrap();
    init(&root, &["--namespaced"]);
    create_api(&root, "--group apps --version v1 --kind MyApp");
    create_api(
        &root,
        "--group apps --version v1 --kind Deployment --resource=false",
    );
    let rendered = render_tree(&root);
    let differing = [
        "PROJECT",
        "config/manager/manager.yaml",
        "config/rbac/",
        "manager/src/controller/deployment.rs",
        "manager/tests/",
    ];
    let mut out = String::new();
    for file in rendered.split("=== ").filter(|f| !f.is_empty()) {
        if differing.iter().any(|d| file.starts_with(d)) {
            out.push_str("=== ");
            out.push_str(file);
        }
    }
    insta::assert_snapshot!("namespaced_manager_tree", out);
}

/// `edit --plugins helm` (dist/chart) for a kind with every kind of
/// webhook, a conversion through a second version included. `edit` builds
/// nothing, so the chart's CRD is copied from config/crd/bases, where a
/// (trimmed) CRD stands in for what `kubeforge manifests` would write.
#[test]
fn helm_chart() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("myapp");
    std::fs::create_dir(&root).unwrap();
    init(&root, &[]);
    create_api(&root, "--group apps --version v1 --kind MyApp");
    create_api(
        &root,
        "--group apps --version v2 --kind MyApp --controller=false",
    );
    create_webhook(
        &root,
        "--group apps --version v1 --kind MyApp --defaulting --programmatic-validation --conversion --spoke v2",
    );
    let bases = root.join("config/crd/bases");
    std::fs::create_dir_all(&bases).unwrap();
    std::fs::write(
        bases.join("apps.example.com_myapps.yaml"),
        "---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: myapps.apps.example.com
spec:
  conversion:
    strategy: Webhook
    webhook:
      clientConfig:
        service:
          name: webhook-service
          namespace: system
          path: /convert
      conversionReviewVersions:
      - v1
  group: apps.example.com
  names:
    kind: MyApp
    listKind: MyAppList
    plural: myapps
    singular: myapp
  scope: Namespaced
  versions:
  - name: v1
    schema:
      openAPIV3Schema:
        type: object
    served: true
    storage: true
    subresources:
      status: {}
",
    )
    .unwrap();
    kubeforge(&root)
        .args(["edit", "--plugins", "helm"])
        .assert()
        .success();
    let rendered = render_tree(&root);
    let mut out = String::new();
    for file in rendered.split("=== ").filter(|f| f.starts_with("dist/")) {
        out.push_str("=== ");
        out.push_str(file);
    }
    insta::assert_snapshot!("helm_chart_tree", out);
}

/// Kubebuilder's other `create api` flags: a second, named controller for
/// a kind (`--controller-name`), and controllers for another crate's kinds
/// (`--external-api-path`), namespaced and cluster-scoped, one of them with
/// its crate added to the manager (`--external-api-crate`). Only the files
/// these touch (the rest are in the other snapshots).
#[test]
fn named_and_external_controllers() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("myapp");
    std::fs::create_dir(&root).unwrap();
    init(&root, &[]);
    create_api(&root, "--group apps --version v1 --kind MyApp");
    create_api(
        &root,
        "--group cert-manager --version v1 --kind Certificate --resource=false \
         --external-api-path cert_manager_api::v1::Certificate --external-api-domain io \
         --external-api-crate cert-manager-api@1.18",
    );
    create_api(
        &root,
        "--group apps --version v1 --kind MyApp --resource=false --controller-name myapp-backup",
    );
    create_api(
        &root,
        "--group cert-manager --version v1 --kind ClusterIssuer --resource=false --namespaced=false \
         --external-api-path cert_manager_api::v1::ClusterIssuer --external-api-domain io",
    );
    let rendered = render_tree(&root);
    let differing = [
        "PROJECT",
        "config/rbac/role.yaml",
        "manager/Cargo.toml",
        "manager/src/controller/",
        "manager/src/main.rs",
        "manager/tests/",
    ];
    let mut out = String::new();
    for file in rendered.split("=== ").filter(|f| !f.is_empty()) {
        if differing.iter().any(|d| file.starts_with(d)) {
            out.push_str("=== ");
            out.push_str(file);
        }
    }
    insta::assert_snapshot!("named_and_external_controllers_tree", out);
}

/// The same commands give byte-identical trees.
#[test]
fn output_is_deterministic() {
    let run = || {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("myapp");
        std::fs::create_dir(&root).unwrap();
        init(&root, &[]);
        create_api(&root, "--group apps --version v1 --kind MyApp");
        create_api(
            &root,
            "--group apps --version v2 --kind MyApp --controller=false",
        );
        create_api(
            &root,
            "--group batch --version v1alpha1 --kind DNSRecord --namespaced=false",
        );
        (tree(&root), dir)
    };
    let (a, _keep_a) = run();
    let (b, _keep_b) = run();
    assert_eq!(a, b);
}

/// Kubebuilder's naming: plurals, CRD file names, snake_case modules, and a
/// second version of a kind sharing the group's modules.
#[test]
fn names_follow_kubebuilder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("names");
    std::fs::create_dir(&root).unwrap();
    init(&root, &[]);
    create_api(&root, "--group net --version v1 --kind Ingress");
    create_api(&root, "--group net --version v1 --kind Policy");
    create_api(&root, "--group net --version v1 --kind DNSRecord");
    create_api(
        &root,
        "--group net --version v2 --kind DNSRecord --controller=false",
    );
    let project = std::fs::read_to_string(root.join("PROJECT")).unwrap();
    for plural in [
        "plural: ingresses",
        "plural: policies",
        "plural: dnsrecords",
    ] {
        assert!(project.contains(plural), "{plural} in\n{project}");
    }
    assert!(root.join("api/src/net/v1/dns_record.rs").is_file());
    assert!(root.join("api/src/net/v2/dns_record.rs").is_file());
    assert!(root.join("manager/src/controller/dns_record.rs").is_file());
    let crd_kustomization =
        std::fs::read_to_string(root.join("config/crd/kustomization.yaml")).unwrap();
    assert_eq!(
        crd_kustomization
            .matches("- bases/net.example.com_dnsrecords.yaml")
            .count(),
        1,
        "one CRD file for both versions:\n{crd_kustomization}"
    );
    let net_mod = std::fs::read_to_string(root.join("api/src/net/mod.rs")).unwrap();
    assert!(net_mod.contains("pub mod v1;\npub mod v2;\n"), "{net_mod}");
    let main = std::fs::read_to_string(root.join("manager/src/main.rs")).unwrap();
    assert_eq!(
        main.matches("controller::dns_record::run").count(),
        1,
        "{main}"
    );
}

/// Every generated Rust file is already as rustfmt would write it: fast
/// feedback, before the end-to-end test compiles anything.
#[test]
fn generated_rust_is_rustfmt_clean() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("fmt");
    std::fs::create_dir(&root).unwrap();
    init(&root, &[]);
    create_api(&root, "--group apps --version v1 --kind MyApp");
    create_api(
        &root,
        "--group infra --version v1beta2 --kind CacheCluster --namespaced=false",
    );
    create_api(
        &root,
        "--group apps --version v1 --kind Deployment --resource=false",
    );
    create_api(
        &root,
        "--group core --version v1 --kind ConfigMap --resource=false",
    );
    // Named controllers and external kinds, of both scopes.
    create_api(
        &root,
        "--group apps --version v1 --kind MyApp --resource=false --controller-name my-app-backup",
    );
    create_api(
        &root,
        "--group cert-manager --version v1 --kind Certificate --resource=false \
         --external-api-path cert_manager_api::v1::Certificate --external-api-domain io \
         --external-api-crate cert-manager-api@1.18",
    );
    create_api(
        &root,
        "--group cert-manager --version v1 --kind ClusterIssuer --resource=false --namespaced=false \
         --external-api-path cert_manager_api::v1::ClusterIssuer --external-api-domain io",
    );
    // Webhooks of every kind, for a short and a longer kind name.
    create_api(
        &root,
        "--group apps --version v2 --kind MyApp --controller=false",
    );
    create_api(
        &root,
        "--group apps --version v3 --kind MyApp --controller=false",
    );
    create_webhook(
        &root,
        "--group apps --version v1 --kind MyApp --defaulting --programmatic-validation --conversion --spoke v2,v3",
    );
    create_webhook(
        &root,
        "--group infra --version v1beta2 --kind CacheCluster --defaulting --programmatic-validation",
    );
    let files: Vec<_> = tree(&root)
        .into_keys()
        .filter(|p| p.extension().is_some_and(|e| e == "rs") && !p.starts_with(".kubeforge"))
        .map(|p| root.join(p))
        .collect();
    assert!(files.len() > 10, "{files:?}");
    let output = std::process::Command::new("rustfmt")
        .args(["--edition", "2024", "--check"])
        .args(&files)
        .output()
        .expect("rustfmt");
    assert!(
        output.status.success(),
        "generated code is not rustfmt-clean:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// `init` alone writes Kubebuilder's three workflows and the action they
/// share, with GitHub's own `${{ ... }}` expressions left for GitHub (the
/// templates wrap them in `raw`) and the project's names filled in.
#[test]
fn init_writes_github_workflows() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("myapp");
    std::fs::create_dir(&root).unwrap();
    init(&root, &[]);
    let read = |file: &str| std::fs::read_to_string(root.join(".github").join(file)).unwrap();
    for file in [
        "workflows/lint.yml",
        "workflows/test.yml",
        "workflows/test-e2e.yml",
        "actions/setup-kubeforge/action.yml",
    ] {
        let text = read(file);
        assert!(!text.contains("{%"), "{file} has a template tag:\n{text}");
        assert_eq!(
            text.matches("{{").count(),
            text.matches("${{").count(),
            "{file} has a template variable left:\n{text}"
        );
    }
    let test = read("workflows/test.yml");
    assert!(
        test.contains(
            "key: envtest-${{ steps.kubeforge.outputs.kubernetes_version }}-${{ runner.os }}-${{ runner.arch }}"
        ),
        "{test}"
    );
    let e2e = read("workflows/test-e2e.yml");
    assert!(
        e2e.contains(
            "kubectl --namespace myapp-system rollout status deployment/myapp-controller-manager"
        ),
        "{e2e}"
    );
}
