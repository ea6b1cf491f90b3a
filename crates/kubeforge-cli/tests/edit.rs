//! `kubeforge init --namespaced` and `kubeforge edit`: what a namespace-scoped
//! manager's project holds, and that changing the scope later carries the
//! change through the scaffold while keeping the user's edits. (The
//! namespaced operator running with only its Role, on a real API server, is
//! in e2e.rs.)

mod common;

use std::path::Path;

use common::*;

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap()
}

fn edit(root: &Path, args: &[&str]) -> std::process::Output {
    let output = kubeforge(root).arg("edit").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "edit {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A namespace-scoped manager: a Role and RoleBinding, WATCH_NAMESPACE, and
/// Roles for the kind's admin/editor/viewer.
fn assert_namespaced(root: &Path) {
    assert!(read(root, "PROJECT").contains("\nnamespaced: true\n"));
    let role = read(root, "config/rbac/role.yaml");
    assert!(!role.contains("ClusterRole"), "{role}");
    assert!(
        role.contains("kind: Role\n") && role.contains("namespace: system"),
        "{role}"
    );
    // The controller's rules are in the Role.
    assert!(role.contains("- myapps/status"), "{role}");
    let binding = read(root, "config/rbac/role_binding.yaml");
    assert!(
        binding.contains("kind: RoleBinding") && binding.contains("  kind: Role\n"),
        "{binding}"
    );
    assert!(read(root, "config/manager/manager.yaml").contains("WATCH_NAMESPACE"));
    assert!(read(root, "config/rbac/apps_myapp_editor_role.yaml").contains("kind: Role\n"));
}

fn assert_cluster_wide(root: &Path) {
    assert!(!read(root, "PROJECT").contains("\nnamespaced: true\n"));
    let role = read(root, "config/rbac/role.yaml");
    assert!(
        role.contains("kind: ClusterRole") && !role.contains("kind: Role\n"),
        "{role}"
    );
    assert!(role.contains("- myapps/status"), "{role}");
    let binding = read(root, "config/rbac/role_binding.yaml");
    assert!(binding.contains("kind: ClusterRoleBinding"), "{binding}");
    assert!(!read(root, "config/manager/manager.yaml").contains("WATCH_NAMESPACE"));
    assert!(read(root, "config/rbac/apps_myapp_editor_role.yaml").contains("kind: ClusterRole\n"));
}

#[test]
fn init_namespaced_scaffolds_a_role_and_watch_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    init(root, &["--project-name", "myapp", "--namespaced"]);
    create_api(root, "--group apps --version v1 --kind MyApp");
    assert_namespaced(root);
    // The test runs the operator in its own namespace, as its ServiceAccount.
    let test = read(root, "manager/tests/my_app_controller.rs");
    assert!(
        test.contains("watch_namespace: WatchNamespaces::new([namespace])"),
        "{test}"
    );
    // Replaying PROJECT gives the same files: nothing to update.
    kubeforge(root)
        .args(["alpha", "update"])
        .assert()
        .success()
        .stdout("already up to date\n");
}

#[test]
fn edit_moves_a_project_between_scopes_and_keeps_user_edits() {
    let dir = project();
    let root = dir.path();
    assert_cluster_wide(root);
    let original = tree(root);

    // A user's edit in a file the change also touches, away from its lines.
    let manager_yaml = read(root, "config/manager/manager.yaml").replace(
        "- --log-format=json\n",
        "- --log-format=json\n        - --max-concurrent-reconciles=8\n",
    );
    std::fs::write(root.join("config/manager/manager.yaml"), &manager_yaml).unwrap();

    edit(root, &["--namespaced"]);
    assert_namespaced(root);
    assert!(read(root, "config/manager/manager.yaml").contains("--max-concurrent-reconciles=8"));
    let again = edit(root, &["--namespaced"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to change"));

    edit(root, &["--namespaced=false"]);
    assert_cluster_wide(root);
    // Back where it started, with the user's edit still there.
    std::fs::write(
        root.join("config/manager/manager.yaml"),
        read(root, "config/manager/manager.yaml")
            .replace("        - --max-concurrent-reconciles=8\n", ""),
    )
    .unwrap();
    assert_eq!(tree(root), original);
}

#[test]
fn edit_changes_the_licence_of_every_source() {
    let dir = project();
    let root = dir.path();
    edit(root, &["--license", "mit", "--owner", "The MyApp Authors"]);
    for rel in [
        "manager/src/main.rs",
        "manager/src/controller/my_app.rs",
        "api/src/apps/v1/my_app.rs",
    ] {
        let text = read(root, rel);
        assert!(
            text.starts_with("// Copyright The MyApp Authors.\n// SPDX-License-Identifier: MIT\n"),
            "{rel}: {}",
            &text[..120.min(text.len())]
        );
    }
    assert!(read(root, "Cargo.toml").contains("license = \"MIT\""));
    assert!(read(root, "PROJECT").contains("license: mit"));
}

/// One line, nothing written: bad values, a change that overlaps the user's
/// edits, a cluster-scoped controller in a namespaced project, and a project
/// on other templates.
#[test]
fn edit_refuses_what_it_cannot_do_cleanly() {
    let rejects = |root: &Path, args: &[&str], needles: &[&str]| {
        let before = tree(root);
        let output = kubeforge(root).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        for needle in needles {
            assert!(stderr.contains(needle), "{args:?}: {needle:?} in {stderr}");
        }
        assert_eq!(tree(root), before, "{args:?} changed the project");
    };
    let dir = project();
    let root = dir.path();
    rejects(
        root,
        &["edit", "--owner", "a \"quoted\" name"],
        &["--owner", "double quotes"],
    );
    // clap's own usage error (several lines, with the allowed values).
    let before = tree(root);
    kubeforge(root)
        .args(["edit", "--license", "gpl"])
        .assert()
        .failure()
        .stderr(predicates::str::contains(
            "possible values: apache2, mit, none",
        ));
    assert_eq!(tree(root), before);

    // The user rewrote the very lines the change rewrites.
    let binding = read(root, "config/rbac/role_binding.yaml").replace(
        "kind: ClusterRoleBinding",
        "kind: ClusterRoleBinding # ours",
    );
    std::fs::write(root.join("config/rbac/role_binding.yaml"), binding).unwrap();
    rejects(
        root,
        &["edit", "--namespaced"],
        &[
            "config/rbac/role_binding.yaml",
            "nothing was written",
            "--write-conflicts",
        ],
    );

    // A controller for a cluster-scoped kind cannot run on a Role.
    let dir = project();
    let root = dir.path();
    create_api(
        root,
        "--group infra --version v1 --kind Cache --namespaced=false",
    );
    rejects(
        root,
        &["edit", "--namespaced"],
        &["Cache is cluster-scoped", "--controller=false"],
    );

    // And in a namespaced project, such a controller is refused up front.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    init(root, &["--project-name", "myapp", "--namespaced"]);
    rejects(
        root,
        &[
            "create",
            "api",
            "--group",
            "infra",
            "--version",
            "v1",
            "--kind",
            "Cache",
            "--namespaced=false",
        ],
        &[
            "Cache is cluster-scoped",
            "kubeforge edit --namespaced=false",
        ],
    );
    rejects(
        root,
        &[
            "create",
            "api",
            "--group",
            "core",
            "--version",
            "v1",
            "--kind",
            "Node",
            "--resource=false",
        ],
        &["Node is cluster-scoped"],
    );
    // Without a controller, the kind itself is fine.
    create_api(
        root,
        "--group infra --version v1 --kind Cache --namespaced=false --controller=false",
    );

    // A project whose record is from other templates: alpha update first.
    let dir = project();
    let root = dir.path();
    let record = root.join(".kubeforge/scaffold/Makefile");
    std::fs::write(
        &record,
        read(root, ".kubeforge/scaffold/Makefile") + "# older\n",
    )
    .unwrap();
    rejects(root, &["edit", "--namespaced"], &["kubeforge alpha update"]);
}

/// `--plugins`: anything but grafana and helm (in Kubebuilder's spellings)
/// is one line naming what is allowed, and nothing is written, even when
/// another named plugin is fine.
#[test]
fn edit_refuses_unknown_plugins() {
    let dir = project();
    let root = dir.path();
    let before = tree(root);
    for args in [
        &["--plugins", "prometheus"][..],
        &["--plugins", "grafana,helm/v1-alpha"],
        &[
            "--plugins",
            "helm",
            "--plugins",
            "deploy-image.go.kubebuilder.io/v1-alpha",
        ],
        &["--plugins", ""],
    ] {
        let output = kubeforge(root).arg("edit").args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains(
                "allowed: grafana (grafana.kubebuilder.io/v1-alpha, grafana/v1-alpha), helm (helm.kubebuilder.io/v2-alpha, helm/v2-alpha)"
            ),
            "{args:?}: {stderr}"
        );
        assert_eq!(tree(root), before, "{args:?} changed the project");
    }
}

/// Kubebuilder's spellings, repeated or comma-separated, record Kubebuilder's
/// keys in PROJECT; asking again changes nothing and says so.
#[test]
fn edit_records_plugins_as_kubebuilder_does() {
    let dir = project();
    let root = dir.path();
    edit(
        root,
        &[
            "--plugins",
            "helm.kubebuilder.io/v2-alpha",
            "--plugins",
            "grafana/v1-alpha",
        ],
    );
    let project = read(root, "PROJECT");
    assert!(
        project.contains(
            "plugins:\n  grafana.kubebuilder.io/v1-alpha: {}\n  helm.kubebuilder.io/v2-alpha: {}\n"
        ),
        "{project}"
    );
    assert!(
        root.join("grafana/controller-runtime-metrics.json")
            .is_file()
    );
    assert!(root.join("dist/chart/Chart.yaml").is_file());
    let before = tree(root);
    let again = edit(root, &["--plugins", "grafana,helm"]);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.starts_with("nothing to change"), "{stdout}");
    assert!(stdout.contains("helm.kubebuilder.io/v2-alpha"), "{stdout}");
    assert_eq!(tree(root), before);
    // Replaying PROJECT gives the same files.
    kubeforge(root)
        .args(["alpha", "update"])
        .assert()
        .success()
        .stdout("already up to date\n");
}

/// The chart follows the project: a later `create api` adds the kind's
/// roles and its #[rbac] rules, `create webhook` the webhooks' values and
/// files, `edit --namespaced` the scope; the user's values.yaml edit
/// survives all of it.
#[test]
fn the_chart_follows_the_project_and_keeps_values_edits() {
    let dir = project();
    let root = dir.path();
    edit(root, &["--plugins", "helm"]);
    let values = read(root, "dist/chart/values.yaml");
    assert!(!values.contains("\nwebhook:\n"), "{values}");
    let edited = values.replace("replicas: 1\n", "replicas: 3\n").replace(
        "  repository: controller\n",
        "  repository: ghcr.io/me/myapp\n",
    );
    std::fs::write(root.join("dist/chart/values.yaml"), &edited).unwrap();
    let role = read(root, "dist/chart/templates/rbac/role.yaml");
    assert!(role.contains("  - myapps/status\n"), "{role}");

    create_api(root, "--group infra --version v1 --kind Cache");
    assert_eq!(read(root, "dist/chart/values.yaml"), edited);
    let editor = read(
        root,
        "dist/chart/templates/rbac/infra_cache_editor_role.yaml",
    );
    assert!(
        editor.contains("-infra-cache-editor-role\n") && editor.contains("  - caches\n"),
        "{editor}"
    );
    // The new controller's #[rbac] rules are in the chart's role at once.
    let role = read(root, "dist/chart/templates/rbac/role.yaml");
    assert!(role.contains("  - caches/status\n"), "{role}");
    assert_eq!(
        role.replace("{{- include \"chart.labels\" . | nindent 4 }}\n", "")
            .lines()
            .filter(|l| l.starts_with("  - "))
            .count(),
        read(root, "config/rbac/role.yaml")
            .lines()
            .filter(|l| l.starts_with("  - "))
            .count(),
        "the chart's role has the rules of config/rbac/role.yaml"
    );

    create_webhook(
        root,
        "--group apps --version v1 --kind MyApp --defaulting --programmatic-validation",
    );
    let values = read(root, "dist/chart/values.yaml");
    assert!(values.contains("replicas: 3\n") && values.contains("ghcr.io/me/myapp"));
    assert!(
        values.contains("webhook:\n  enable: true\n")
            && values.contains("certManager:\n  enable: true\n"),
        "{values}"
    );
    for rel in [
        "dist/chart/templates/webhook/service.yaml",
        "dist/chart/templates/certmanager/certificate.yaml",
        "dist/chart/templates/selfmanaged-certs/role.yaml",
    ] {
        assert!(root.join(rel).is_file(), "{rel}");
    }
    let webhooks = read(root, "dist/chart/templates/webhook/manifests.yaml");
    assert!(
        webhooks.contains("name: {{ include \"chart.name\" . }}-validating-webhook-configuration"),
        "{webhooks}"
    );
    // A second kind's webhooks share those files and values.
    create_webhook(root, "--group infra --version v1 --kind Cache --defaulting");
    assert_eq!(read(root, "dist/chart/values.yaml"), values);

    edit(root, &["--namespaced"]);
    let helpers = read(root, "dist/chart/templates/_helpers.tpl");
    assert!(
        helpers.contains("{{- define \"chart.namespaced\" -}}\ntrue\n{{- end }}"),
        "{helpers}"
    );
    let role = read(root, "dist/chart/templates/rbac/role.yaml");
    assert!(
        role.contains("kind: Role\n") && role.contains("  namespace: {{ .Release.Namespace }}\n"),
        "{role}"
    );
    assert_eq!(read(root, "dist/chart/values.yaml"), values);
    kubeforge(root)
        .args(["alpha", "update"])
        .assert()
        .success()
        .stdout("already up to date\n");
}

/// Turning the chart on copies the CRDs `kubeforge manifests` last wrote
/// into it (`edit` builds nothing); vendored CRDs of other groups stay out.
#[test]
fn the_chart_starts_with_the_crds_in_config() {
    let dir = project();
    let root = dir.path();
    let bases = root.join("config/crd/bases");
    std::fs::create_dir_all(&bases).unwrap();
    let crd = |group: &str, plural: &str| {
        format!(
            "---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {plural}.{group}\nspec:\n  group: {group}\n"
        )
    };
    std::fs::write(
        bases.join("apps.example.com_myapps.yaml"),
        crd("apps.example.com", "myapps"),
    )
    .unwrap();
    std::fs::write(
        bases.join("vendor.io_things.yaml"),
        crd("vendor.io", "things"),
    )
    .unwrap();
    edit(root, &["--plugins", "helm"]);
    let chart = read(
        root,
        "dist/chart/templates/crd/apps.example.com_myapps.yaml",
    );
    assert!(
        chart.contains("{{- if .Values.crd.enable }}\n---\n")
            && chart.contains("    helm.sh/resource-policy: keep\n")
            && chart.contains("  name: myapps.apps.example.com\n"),
        "{chart}"
    );
    assert!(
        !root
            .join("dist/chart/templates/crd/vendor.io_things.yaml")
            .exists()
    );
}
