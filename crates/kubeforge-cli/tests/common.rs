//! Helpers shared by the CLI's integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The built `kubeforge` binary, run in `dir`.
pub fn kubeforge(dir: &Path) -> Command {
    // Where cargo built it for this test run, whatever the target directory.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubeforge"));
    cmd.current_dir(dir).env_remove("KUBECONFIG");
    cmd
}

/// Every file under `root` (skipping target/ and Cargo.lock), path -> bytes.
pub fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.expect("walk");
        let rel = entry
            .path()
            .strip_prefix(root)
            .expect("prefix")
            .to_path_buf();
        if rel.starts_with("target") || rel == Path::new("Cargo.lock") {
            continue;
        }
        if entry.file_type().is_file() {
            out.insert(rel, std::fs::read(entry.path()).expect("read"));
        } else if entry.file_type().is_dir() {
            out.insert(rel.join(""), Vec::new());
        }
    }
    out
}

/// A tree as one text: each file's path, then its contents. The record of
/// the pristine scaffold (.kubeforge/scaffold) is left out: it repeats the
/// files, and `scaffold_record_matches_the_files` checks it.
pub fn render_tree(root: &Path) -> String {
    let mut out = String::new();
    for (path, bytes) in tree(root) {
        if path.starts_with(".kubeforge") {
            continue;
        }
        if bytes.is_empty() && path.to_string_lossy().ends_with('/') {
            continue;
        }
        out.push_str(&format!("=== {}\n", path.display()));
        out.push_str(&String::from_utf8_lossy(&bytes));
        if !bytes.ends_with(b"\n") {
            out.push('\n');
        }
    }
    out
}

/// `kubeforge init` with a crates.io dependency, so output doesn't depend
/// on where the checkout is.
pub fn init(dir: &Path, extra: &[&str]) {
    let mut args = vec![
        "init",
        "--domain",
        "example.com",
        "--kubeforge-version",
        "0.1.0",
    ];
    args.extend_from_slice(extra);
    kubeforge(dir).args(&args).assert().success();
}

/// `kubeforge create webhook` with its flags written as on a command line.
pub fn create_webhook(dir: &Path, flags: &str) {
    kubeforge(dir)
        .args(["create", "webhook"])
        .args(flags.split_whitespace())
        .assert()
        .success();
}

/// `kubeforge create api` with its flags written as on a command line.
pub fn create_api(dir: &Path, flags: &str) {
    kubeforge(dir)
        .args(["create", "api"])
        .args(flags.split_whitespace())
        .assert()
        .success();
}

/// A project "myapp" with the kind MyApp (apps/v1) and its controller.
pub fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    init(dir.path(), &["--project-name", "myapp"]);
    create_api(dir.path(), "--group apps --version v1 --kind MyApp");
    dir
}

/// The repository root (for path dependencies and the shared target dir).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// This workspace's target directory as cargo resolves it (CARGO_TARGET_DIR,
/// `build.target-dir`, or `target/` in the checkout): generated projects
/// share `<it>/e2e`. Asked once per test binary.
pub fn target_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        cargo_metadata::MetadataCommand::new()
            .manifest_path(repo_root().join("Cargo.toml"))
            .no_deps()
            .exec()
            .expect("cargo metadata for this workspace")
            .target_directory
            .into_std_path_buf()
    })
    .clone()
}
