//! Shared helpers for the integration tests (they need the real binaries: run
//! `kubeforge envtest` or set KUBEBUILDER_ASSETS; missing binaries fail the tests).

#![allow(dead_code)] // each test binary uses a subset

use std::path::Path;

use kubeforge_envtest::{Environment, EnvironmentBuilder, ProcessIds};

pub async fn start() -> Environment {
    start_with(Environment::builder()).await
}

pub async fn start_with(builder: EnvironmentBuilder) -> Environment {
    // Fails (not skips) with the one-line "run `kubeforge envtest`" message.
    kubeforge_envtest::assets::find().unwrap_or_else(|e| panic!("{e}"));
    builder.start().await.unwrap_or_else(|e| panic!("{e}"))
}

pub fn process_alive(pid: u32) -> bool {
    // Teardown reaps its children, so a gone process has no /proc entry (not even a zombie).
    Path::new("/proc").join(pid.to_string()).exists()
}

pub fn assert_torn_down(pids: ProcessIds, dir: &Path) {
    assert!(pids.etcd != 0 && pids.kube_apiserver != 0, "{pids:?}");
    assert!(
        !process_alive(pids.kube_apiserver),
        "kube-apiserver {} still running",
        pids.kube_apiserver
    );
    assert!(
        !process_alive(pids.etcd),
        "etcd {} still running",
        pids.etcd
    );
    assert!(!dir.exists(), "{} still exists", dir.display());
}
