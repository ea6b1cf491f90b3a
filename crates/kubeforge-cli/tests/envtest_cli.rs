//! `kubeforge envtest`: where the control-plane binaries come from, without
//! building anything (the real build is exercised by CI's first run).

mod common;

use std::path::Path;

use common::*;

const BINARIES: [&str; 3] = ["etcd", "kube-apiserver", "kubectl"];

fn fill(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for name in BINARIES {
        std::fs::write(dir.join(name), "#!/bin/sh\n").unwrap();
    }
}

/// An environment with an empty store, no Go on PATH and an unreachable
/// release index (a closed local port: no test depends on the internet).
fn isolated(dir: &Path) -> assert_cmd::Command {
    let mut cmd = kubeforge(dir);
    cmd.arg("envtest")
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("HOME", dir)
        .env("PATH", dir.join("no-bin"))
        .env(
            "KUBEFORGE_ENVTEST_INDEX_URL",
            "http://127.0.0.1:1/envtest-releases.yaml",
        )
        .env_remove("KUBEFORGE_ENVTEST_BIN_DIR")
        .env_remove("KUBEFORGE_ENVTEST_SOURCE")
        .env_remove("KUBEBUILDER_ASSETS")
        .env_remove("TEST_ASSET_KUBE_APISERVER")
        .env_remove("TEST_ASSET_ETCD")
        .env_remove("TEST_ASSET_KUBECTL");
    cmd
}

/// `kubeforge envtest` succeeded and printed `dir`, the binaries' directory.
#[track_caller]
fn assert_prints_dir(output: &std::process::Output, dir: &Path) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        dir.to_string_lossy()
    );
}

#[test]
fn without_go_says_so_and_how_to_use_kubebuilder_assets() {
    let dir = tempfile::tempdir().unwrap();
    let output = isolated(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("Go is required"), "{stderr}");
    assert!(stderr.contains("KUBEBUILDER_ASSETS"), "{stderr}");
    assert!(
        !dir.path()
            .join("data/kubebuilder-envtest/k8s")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some()),
        "no half-filled store"
    );
}

#[test]
fn kubebuilder_assets_wins() {
    let dir = tempfile::tempdir().unwrap();
    let assets = dir.path().join("assets");
    fill(&assets);
    let output = isolated(dir.path())
        .env("KUBEBUILDER_ASSETS", &assets)
        .output()
        .unwrap();
    assert_prints_dir(&output, &assets);
}

#[test]
fn a_filled_store_is_used_as_is() {
    let dir = tempfile::tempdir().unwrap();
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let store = dir.path().join(format!(
        "data/kubebuilder-envtest/k8s/1.37.2-{}-{arch}",
        std::env::consts::OS
    ));
    fill(&store);
    let output = isolated(dir.path()).output().unwrap();
    assert_prints_dir(&output, &store);
}
