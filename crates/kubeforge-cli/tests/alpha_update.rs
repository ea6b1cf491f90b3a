//! `kubeforge alpha update`: re-scaffolding keeps the user's edits, takes
//! the new scaffold's changes, and is all-or-nothing on conflicts.

mod common;

use std::path::Path;

use common::*;

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap()
}

fn write(root: &Path, rel: &str, text: &str) {
    std::fs::write(root.join(rel), text).unwrap();
}

/// Pretends the project was made by an older kubeforge whose Makefile had no
/// `lint` target: both the file and the record of the pristine scaffold
/// lack it.
fn age_the_makefile(root: &Path) {
    let lint = "\n.PHONY: lint\nlint: ## Run clippy with warnings as errors, and check formatting.\n\t$(CARGO) fmt --check\n\t$(CARGO) clippy --workspace --all-targets -- -D warnings\n";
    for rel in ["Makefile", ".kubeforge/scaffold/Makefile"] {
        let text = read(root, rel);
        assert!(text.contains(lint), "the lint target in {rel}");
        write(root, rel, &text.replacen(lint, "", 1));
    }
}

#[test]
fn scaffold_record_matches_the_files() {
    let dir = project();
    let root = dir.path();
    let recorded = tree(&root.join(".kubeforge/scaffold"));
    assert!(recorded.len() > 30, "{} files recorded", recorded.len());
    for (rel, bytes) in recorded {
        if root.join(".kubeforge/scaffold").join(&rel).is_dir() {
            continue;
        }
        assert_eq!(
            std::fs::read(root.join(&rel)).unwrap(),
            bytes,
            "{}",
            rel.display()
        );
    }
    kubeforge(root)
        .args(["alpha", "update"])
        .assert()
        .success()
        .stdout("already up to date\n");
}

#[test]
fn update_keeps_user_edits_and_takes_scaffold_changes() {
    let dir = project();
    let root = dir.path();
    age_the_makefile(root);
    // The user's own edits, in a scaffold-owned file and in their types.
    let makefile = read(root, "Makefile").replace(
        "IMG ?= controller:latest",
        "IMG ?= registry.example.com/myapp:v1",
    );
    write(root, "Makefile", &makefile);
    let types = read(root, "api/src/apps/v1/my_app.rs").replace(
        "    pub replicas: i32,\n",
        "    pub replicas: i32,\n    /// The image to run.\n    pub image: String,\n",
    );
    write(root, "api/src/apps/v1/my_app.rs", &types);

    kubeforge(root).args(["alpha", "update"]).assert().success();

    let makefile = read(root, "Makefile");
    assert!(
        makefile.contains("IMG ?= registry.example.com/myapp:v1"),
        "user edit kept"
    );
    assert!(
        makefile.contains("\nlint: ## Run clippy"),
        "scaffold change taken"
    );
    assert_eq!(
        read(root, "api/src/apps/v1/my_app.rs"),
        types,
        "untouched by the scaffold"
    );
    assert!(
        read(root, ".kubeforge/scaffold/Makefile").contains("\nlint: "),
        "the new scaffold is the next ancestor"
    );
    kubeforge(root)
        .args(["alpha", "update"])
        .assert()
        .success()
        .stdout("already up to date\n");
}

#[test]
fn conflicts_write_nothing_unless_asked() {
    let dir = project();
    let root = dir.path();
    age_the_makefile(root);
    // The user added their own lint target exactly where the new scaffold
    // adds its own.
    let makefile = read(root, "Makefile");
    let edited = makefile.replacen(
        "\n.PHONY: envtest\n",
        "\n.PHONY: lint\nlint:\n\tmy-own-linter\n\n.PHONY: envtest\n",
        1,
    );
    assert_ne!(makefile, edited);
    write(root, "Makefile", &edited);
    let before = tree(root);

    let output = kubeforge(root).args(["alpha", "update"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("overlap in Makefile") && stderr.contains("nothing was written"),
        "{stderr}"
    );
    assert_eq!(tree(root), before, "nothing written on conflict");

    let output = kubeforge(root)
        .args(["alpha", "update", "--write-conflicts"])
        .output()
        .unwrap();
    assert!(!output.status.success(), "conflicts still fail the command");
    assert!(
        read(root, "Makefile").contains("<<<<<<<"),
        "markers written"
    );
}
