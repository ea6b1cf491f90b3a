//! `create api`'s Kubebuilder flags beyond group, version and kind:
//! `--controller-name`, the `--external-api-*` flags, `--force` and
//! `--make`, and that `alpha update` (which replays PROJECT) reproduces
//! what they scaffolded.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap()
}

/// Every file the record of the pristine scaffold holds is on disk with the
/// same bytes: what a replay of PROJECT writes is what the commands wrote.
fn assert_record_matches_files(root: &Path) {
    let recorded = tree(&root.join(".kubeforge/scaffold"));
    assert!(recorded.len() > 30, "{} files recorded", recorded.len());
    for (rel, bytes) in recorded {
        if root.join(".kubeforge/scaffold").join(&rel).is_dir() {
            continue;
        }
        assert_eq!(
            std::fs::read(root.join(&rel)).unwrap(),
            bytes,
            "{} differs from its record",
            rel.display()
        );
    }
}

/// Trees compared by the paths that differ, so a failure names them.
#[track_caller]
fn assert_same_files(after: &BTreeMap<PathBuf, Vec<u8>>, before: &BTreeMap<PathBuf, Vec<u8>>) {
    let differing: Vec<&PathBuf> = before
        .keys()
        .chain(after.keys())
        .filter(|rel| before.get(*rel) != after.get(*rel))
        .collect();
    assert!(differing.is_empty(), "differing: {differing:?}");
}

/// The project's files apart from the record and the Makefile.
fn files_but_makefile(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = tree(root);
    files.retain(|rel, _| !rel.starts_with(".kubeforge") && rel != Path::new("Makefile"));
    files
}

/// Makes the project look scaffolded by an older kubeforge whose Makefile
/// had no `lint` target, so `alpha update` has something to merge and
/// replays the whole scaffold.
fn age_the_makefile(root: &Path) {
    let lint = "\n.PHONY: lint\nlint: ## Run clippy with warnings as errors, and check formatting.\n\t$(CARGO) fmt --check\n\t$(CARGO) clippy --workspace --all-targets -- -D warnings\n";
    for rel in ["Makefile", ".kubeforge/scaffold/Makefile"] {
        let text = read(root, rel);
        assert!(text.contains(lint), "the lint target in {rel}");
        std::fs::write(root.join(rel), text.replacen(lint, "", 1)).unwrap();
    }
}

#[test]
fn named_controllers_are_recorded_and_replayed_as_written() {
    let dir = project();
    let root = dir.path();
    create_api(root, "--group infra --version v1 --kind Cache");
    create_api(
        root,
        "--group apps --version v1 --kind MyApp --resource=false --controller-name my-app-backup",
    );
    // A kind whose only controller is named.
    create_api(
        root,
        "--group apps --version v1 --kind Deployment --resource=false --controller-name rollout-watcher",
    );

    let project = read(root, "PROJECT");
    assert!(
        project.contains(
            "  controller: true\n  controllers:\n  - name: my_app\n  - name: my-app-backup\n"
        ),
        "{project}"
    );
    assert!(
        project.contains(
            "- controller: true\n  controllers:\n  - name: rollout-watcher\n  core: true\n"
        ),
        "{project}"
    );
    assert_eq!(
        project.matches("controllers:").count(),
        2,
        "not for Cache's single default controller:\n{project}"
    );
    // A kind's controllers stay together in main.rs, each under its name.
    let main = read(root, "manager/src/main.rs");
    assert!(
        main.contains(
            "    manager.add_controller(\"my_app\", controller::my_app::run);\n    manager.add_controller(\"my-app-backup\", controller::my_app_backup::run);\n    manager.add_controller(\"cache\", controller::cache::run);\n    manager.add_controller(\"rollout-watcher\", controller::rollout_watcher::run);\n"
        ),
        "{main}"
    );
    let modules = read(root, "manager/src/controller/mod.rs");
    assert!(
        modules.contains(
            "pub mod cache;\npub mod my_app;\npub mod my_app_backup;\npub mod rollout_watcher;\n"
        ),
        "{modules}"
    );
    // Its own field manager, so the two controllers of MyApp don't share
    // ownership of the fields they apply.
    for (file, manager) in [
        ("my_app", "myapp-myapp-controller"),
        ("my_app_backup", "myapp-myapp-my-app-backup-controller"),
    ] {
        let source = read(root, &format!("manager/src/controller/{file}.rs"));
        assert!(
            source.contains(&format!("pub const FIELD_MANAGER: &str = \"{manager}\";")),
            "{file}: {source}"
        );
    }
    let test = read(root, "manager/tests/my_app_backup_controller.rs");
    assert!(
        test.contains("manager.add_controller(\"my-app-backup\", controller::my_app_backup::run);"),
        "{test}"
    );
    assert!(
        root.join("manager/tests/rollout_watcher_controller.rs")
            .is_file()
    );

    assert_record_matches_files(root);
    // `alpha update` replays PROJECT: every controller comes back exactly
    // as it was written.
    let before = files_but_makefile(root);
    age_the_makefile(root);
    kubeforge(root).args(["alpha", "update"]).assert().success();
    assert_same_files(&files_but_makefile(root), &before);
    assert!(read(root, "Makefile").contains("\nlint: "));
    assert_record_matches_files(root);
    // The default controller can come after named ones.
    create_api(
        root,
        "--group apps --version v1 --kind Deployment --resource=false",
    );
    assert!(
        read(root, "PROJECT")
            .contains("  controllers:\n  - name: rollout-watcher\n  - name: deployment\n"),
    );
    assert_record_matches_files(root);
}

#[test]
fn external_kinds_are_recorded_as_kubebuilder_does_and_depended_on_once() {
    let dir = project();
    let root = dir.path();
    let crate_dir = root.join("vendor/cert-manager-api");
    std::fs::create_dir_all(&crate_dir).unwrap();
    std::fs::write(
        crate_dir.join("Cargo.toml"),
        "[package]\nname = \"cert-manager-api\"\nversion = \"1.18.0\"\n",
    )
    .unwrap();
    create_api(
        root,
        "--group cert-manager --version v1 --kind ClusterIssuer --resource=false --namespaced=false \
         --external-api-path cert_manager_api::v1::ClusterIssuer --external-api-domain io \
         --external-api-crate cert-manager-api --external-api-crate-path vendor/cert-manager-api/",
    );
    let project = read(root, "PROJECT");
    assert!(
        project.contains(
            "- controller: true\n  domain: io\n  external: true\n  group: cert-manager\n  kind: ClusterIssuer\n  module: cert-manager-api\n  modulePath: vendor/cert-manager-api\n  namespaced: false\n  path: cert_manager_api::v1::ClusterIssuer\n  plural: clusterissuers\n  version: v1\n"
        ),
        "{project}"
    );
    let dependency = "cert-manager-api = { path = \"../vendor/cert-manager-api\" }\n";
    let cargo_toml = read(root, "manager/Cargo.toml");
    assert!(
        cargo_toml.contains(&format!("{dependency}# +kubeforge:scaffold:dependencies\n")),
        "{cargo_toml}"
    );
    // RBAC as for a built-in kind, in <group>.<domain>.
    let controller = read(root, "manager/src/controller/cluster_issuer.rs");
    assert!(
        controller.contains(
            "#[kubeforge::rbac(groups = [\"cert-manager.io\"], resources = [\"clusterissuers\"], verbs = [\"get\", \"list\", \"watch\"])]"
        ),
        "{controller}"
    );
    assert!(controller.contains("use cert_manager_api::v1::ClusterIssuer;"));
    assert!(
        controller.contains("Api::<ClusterIssuer>::all(ctx.client())"),
        "cluster-scoped"
    );
    let test = read(root, "manager/tests/cluster_issuer_controller.rs");
    assert!(test.contains(".crds([ClusterIssuer::crd()])"), "{test}");
    assert!(
        read(root, "config/rbac/role.yaml")
            .contains("  - cert-manager.io\n  resources:\n  - clusterissuers\n")
    );

    // A second controller, and another kind of the same crate: the
    // dependency is there once.
    create_api(
        root,
        "--group cert-manager --version v1 --kind ClusterIssuer --resource=false --controller-name issuer-audit",
    );
    create_api(
        root,
        "--group cert-manager --version v1 --kind Certificate --resource=false \
         --external-api-path cert_manager_api::v1::Certificate --external-api-domain io \
         --external-api-crate cert-manager-api --external-api-crate-path vendor/cert-manager-api",
    );
    assert_eq!(read(root, "manager/Cargo.toml"), cargo_toml);
    // A dependency the user already has, in their own spelling, is theirs.
    let edited = cargo_toml.replace(
        dependency,
        "cert-manager-api = { path = \"../vendor/cert-manager-api\", features = [\"x\"] }\n",
    );
    std::fs::write(root.join("manager/Cargo.toml"), &edited).unwrap();
    create_api(
        root,
        "--group cert-manager --version v1 --kind Certificate --resource=false --controller-name certificate-audit",
    );
    assert_eq!(read(root, "manager/Cargo.toml"), edited);
    std::fs::write(root.join("manager/Cargo.toml"), &cargo_toml).unwrap();

    assert_record_matches_files(root);
    let before = files_but_makefile(root);
    age_the_makefile(root);
    kubeforge(root).args(["alpha", "update"]).assert().success();
    assert_same_files(&files_but_makefile(root), &before);
}

#[test]
fn force_rescaffolds_only_files_as_the_scaffold_wrote_them() {
    let dir = project();
    let root = dir.path();
    let force = "--group apps --version v1 --kind MyApp --force";
    // Nothing deleted, nothing changed: nothing to write.
    let before = tree(root);
    kubeforge(root)
        .args(["create", "api"])
        .args(force.split_whitespace())
        .assert()
        .success()
        .stdout(predicates::str::contains("nothing to write"));
    assert_same_files(&tree(root), &before);

    // A deleted file comes back; an unedited one written by an older
    // template (the file and its record alike) is written anew.
    let test = "manager/tests/my_app_controller.rs";
    let controller = "manager/src/controller/my_app.rs";
    let original = read(root, controller);
    std::fs::remove_file(root.join(test)).unwrap();
    for rel in [
        controller.to_string(),
        format!(".kubeforge/scaffold/{controller}"),
    ] {
        std::fs::write(root.join(rel), "// an older template\n").unwrap();
    }
    let sample = read(root, "config/samples/apps_v1_myapp.yaml");
    let output = kubeforge(root)
        .args(["create", "api"])
        .args(force.split_whitespace())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&format!("  create {test}")), "{stdout}");
    assert!(
        stdout.contains(&format!("  update {controller}")),
        "{stdout}"
    );
    assert_eq!(read(root, controller), original);
    assert_same_files(&tree(root), &before);
    assert_eq!(read(root, "config/samples/apps_v1_myapp.yaml"), sample);

    // A named controller too, and a new kind is created as without --force.
    create_api(
        root,
        "--group apps --version v1 --kind MyApp --resource=false --controller-name my-app-backup",
    );
    std::fs::remove_file(root.join("manager/src/controller/my_app_backup.rs")).unwrap();
    create_api(
        root,
        "--group apps --version v1 --kind MyApp --resource=false --controller-name my-app-backup --force",
    );
    assert!(
        root.join("manager/src/controller/my_app_backup.rs")
            .is_file()
    );
    create_api(root, "--group apps --version v1 --kind Other --force");
    assert!(root.join("api/src/apps/v1/other.rs").is_file());
    assert_record_matches_files(root);
}

/// `--make` runs `kubeforge manifests` after the scaffold is written; when
/// that fails, the scaffold stays and the last line says what to run.
/// (The e2e test covers a `--make` that writes the CRD.)
#[test]
fn make_failing_keeps_the_scaffold_and_says_to_run_make_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    init(root, &["--project-name", "broken"]);
    // A workspace Cargo cannot read: the build behind `manifests` fails at once.
    let cargo_toml = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&cargo_toml).unwrap();
    std::fs::write(&cargo_toml, format!("{text}[unclosed\n")).unwrap();
    let output = kubeforge(root)
        .args([
            "create",
            "api",
            "--group",
            "apps",
            "--version",
            "v1",
            "--kind",
            "Book",
            "--make",
        ])
        .env("CARGO_TARGET_DIR", root.join("target"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(
            "error: the scaffold was written, but `kubeforge manifests` (--make) failed: "
        ) && last.ends_with("fix that, then run `make manifests`"),
        "{stderr}"
    );
    assert!(root.join("api/src/apps/v1/book.rs").is_file());
    assert!(read(root, "PROJECT").contains("kind: Book"));
    assert!(!root.join("config/crd/bases").exists());
}
