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
