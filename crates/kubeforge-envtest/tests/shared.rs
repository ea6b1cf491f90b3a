//! The shared control plane: one per test process, a namespace per test, cleaned up by
//! `stop()`, gone when the process exits; and a private plane beside it.

// Everything here goes through kube clients.
#![cfg(feature = "client")]

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use common::{assert_torn_down, process_alive, start};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, ObjectMeta, PostParams};
use kube::core::GroupVersionKind;
use kubeforge_envtest::{Environment, ProcessIds, WebhookInstall};

fn config_map(name: &str, finalizer: Option<&str>) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            finalizers: finalizer.map(|f| vec![f.to_string()]),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    }
}

fn gadget_crd() -> CustomResourceDefinition {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": "gadgets.shared.kubeforge.dev" },
        "spec": {
            "group": "shared.kubeforge.dev",
            "names": { "kind": "Gadget", "plural": "gadgets", "singular": "gadget", "listKind": "GadgetList" },
            "scope": "Namespaced",
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } }
            }]
        }
    }))
    .expect("CRD")
}

fn gadgets(client: kube::Client, namespace: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("shared.kubeforge.dev", "v1", "Gadget");
    Api::namespaced_with(
        client,
        namespace,
        &ApiResource::from_gvk_with_plural(&gvk, "gadgets"),
    )
}

async fn shared() -> Environment {
    kubeforge_envtest::assets::find().unwrap_or_else(|e| panic!("{e}"));
    Environment::builder()
        .crds([gadget_crd()])
        .start_shared()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn status_code(err: kube::Error) -> u16 {
    match err {
        kube::Error::Api(status) => status.code,
        other => panic!("expected an API error, got {other}"),
    }
}

/// What each of the two `test_*_records_its_plane` tests saw; the second to finish compares.
static SEEN: Mutex<Vec<(ProcessIds, String, String)>> = Mutex::new(Vec::new());

async fn record_and_compare() {
    let env = shared().await;
    let namespace = env.namespace().await.expect("namespace").to_owned();
    // The namespace is real and this handle's client works in it.
    Api::<ConfigMap>::namespaced(env.client(), &namespace)
        .create(&PostParams::default(), &config_map("mine", None))
        .await
        .expect("create in the test's namespace");
    let mine = (env.pids(), env.server_url().to_owned(), namespace);
    let seen = {
        let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
        seen.push(mine.clone());
        seen.clone()
    };
    if let [first, second] = seen.as_slice() {
        assert_eq!(first.0, second.0, "one etcd and kube-apiserver per process");
        assert_eq!(first.1, second.1, "one server URL per process");
        assert_ne!(first.2, second.2, "a namespace per test");
    }
    env.stop().await;
}

#[tokio::test]
async fn test_a_records_its_plane() {
    record_and_compare().await;
}

#[tokio::test]
async fn test_b_records_its_plane() {
    record_and_compare().await;
}

#[tokio::test]
async fn handles_share_the_processes_but_not_namespaces_or_clients() {
    let a = shared().await;
    let b = Environment::shared().await.expect("second handle");
    assert!(a.is_shared() && b.is_shared());
    assert_eq!(a.pids(), b.pids());
    assert!(process_alive(a.pids().etcd) && process_alive(a.pids().kube_apiserver));
    assert_eq!(a.server_url(), b.server_url());
    assert_eq!(a.kubeconfig_path(), b.kubeconfig_path());
    let (na, nb) = (
        a.namespace().await.expect("a").to_owned(),
        b.namespace().await.expect("b").to_owned(),
    );
    assert_ne!(na, nb);
    assert_eq!(
        a.namespace().await.expect("again"),
        na,
        "the same namespace on every call"
    );
    assert!(
        na.contains("handles-share-the-processes"),
        "named after the test: {na}"
    );
    // The shared kubeconfig works for a client built from the file.
    let kubeconfig = kube::config::Kubeconfig::read_from(a.kubeconfig_path()).expect("read");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    let from_file = kube::Client::try_from(config).expect("client");
    Api::<Namespace>::all(from_file)
        .get(&nb)
        .await
        .expect("b's namespace exists");
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn stop_deletes_the_tests_namespaces_and_everything_in_them_and_nothing_else() {
    let env = shared().await;
    let other = shared().await;
    let namespace = env.namespace().await.expect("namespace").to_owned();
    let second = env.new_namespace().await.expect("second namespace");
    let other_namespace = other.namespace().await.expect("other").to_owned();
    let client = env.client();
    for ns in [&namespace, &second, &other_namespace] {
        Api::<ConfigMap>::namespaced(client.clone(), ns)
            .create(&PostParams::default(), &config_map("plain", None))
            .await
            .expect("configmap");
    }
    // A finalizer nobody will remove (its controller stopped with the test).
    Api::<ConfigMap>::namespaced(client.clone(), &namespace)
        .create(
            &PostParams::default(),
            &config_map("held", Some("example.com/never-removed")),
        )
        .await
        .expect("configmap with finalizer");
    let mut gadget = DynamicObject::new(
        "g",
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("shared.kubeforge.dev", "v1", "Gadget"),
            "gadgets",
        ),
    );
    gadget.data = serde_json::json!({ "spec": { "size": 1 } });
    gadgets(client.clone(), &namespace)
        .create(&PostParams::default(), &gadget)
        .await
        .expect("custom object");
    env.stop().await;

    let admin = other.client();
    for ns in [&namespace, &second] {
        let err = Api::<Namespace>::all(admin.clone())
            .get(ns)
            .await
            .expect_err("namespace deleted");
        assert_eq!(status_code(err), 404, "{ns}");
        let left = Api::<ConfigMap>::namespaced(admin.clone(), ns)
            .list(&ListParams::default())
            .await
            .expect("list");
        assert!(left.items.is_empty(), "{:?}", left.items);
    }
    assert!(
        gadgets(admin.clone(), &namespace)
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
    // The other test's namespace and the plane are untouched.
    Api::<ConfigMap>::namespaced(admin.clone(), &other_namespace)
        .get("plain")
        .await
        .expect("the other test's object survives");
    let crds: Api<CustomResourceDefinition> = Api::all(admin);
    crds.get("gadgets.shared.kubeforge.dev")
        .await
        .expect("cluster-scoped objects are shared and stay");
    other.stop().await;
}

const ROLE_YAML: &str = r#"apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: shared-manager-role
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, create]
"#;

#[tokio::test]
async fn two_tests_binding_one_service_account_at_once_both_succeed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let role_yaml: PathBuf = dir.path().join("role.yaml");
    std::fs::write(&role_yaml, ROLE_YAML).expect("write");
    let (a, b) = (shared().await, shared().await);
    let (ca, cb) = futures::join!(
        a.service_account_client("operator-system", "controller-manager", &role_yaml),
        b.service_account_client("operator-system", "controller-manager", &role_yaml),
    );
    let (ca, cb) = (ca.expect("first"), cb.expect("second"));
    for (env, client) in [(&a, ca), (&b, cb)] {
        let ns = env.namespace().await.expect("namespace");
        Api::<ConfigMap>::namespaced(client.clone(), ns)
            .create(&PostParams::default(), &config_map("by-operator", None))
            .await
            .expect("the role allows configmaps");
        let denied = Api::<Secret>::namespaced(client, ns)
            .list(&ListParams::default())
            .await
            .expect_err("the role does not allow secrets");
        assert_eq!(status_code(denied), 403);
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_private_plane_is_separate_and_only_it_restarts() {
    let began = Instant::now();
    let handle = shared().await;
    let first_handle = began.elapsed();
    let began = Instant::now();
    let second = shared().await;
    let second_handle = began.elapsed();
    let began = Instant::now();
    let namespace = second.namespace().await.expect("namespace").to_owned();
    let namespace_took = began.elapsed();
    let began = Instant::now();
    let mut private = start().await;
    let private_start = began.elapsed();
    eprintln!(
        "envtest timings: private start {private_start:?}; shared handle {second_handle:?} \
         (first in this test {first_handle:?}, which includes the plane's start if no test \
         started it before); a namespace {namespace_took:?}"
    );

    assert!(!private.is_shared());
    assert_ne!(private.pids(), handle.pids());
    assert_ne!(private.server_url(), handle.server_url());
    let err = Api::<Namespace>::all(private.client())
        .get(&namespace)
        .await
        .expect_err("the shared plane's namespace is not in the private one");
    assert_eq!(status_code(err), 404);

    let mut handle = handle;
    let refused = handle
        .restart_api_server()
        .await
        .expect_err("a shared plane is not restarted");
    assert!(refused.to_string().contains("private"), "{refused}");
    private
        .restart_api_server()
        .await
        .expect("a private plane restarts");

    let (pids, dir) = (private.pids(), private.data_dir().to_owned());
    private.stop().await;
    assert_torn_down(pids, &dir);
    assert!(
        process_alive(handle.pids().kube_apiserver),
        "the shared plane outlives a private one"
    );
    handle.stop().await;
    second.stop().await;
}

/// Set for the child process of `nothing_is_left_after_the_test_process_exits`.
const EXIT_HELPER: &str = "KUBEFORGE_ENVTEST_EXIT_HELPER";

/// Not a test of its own: run in a child process by the test below, it starts the shared
/// plane (with a webhook server, whose certificates go in the data dir), prints where
/// everything is, and then passes or panics as told.
#[tokio::test]
async fn exit_helper() {
    let Ok(mode) = std::env::var(EXIT_HELPER) else {
        return;
    };
    let env = Environment::builder()
        .webhooks(WebhookInstall::new())
        .start_shared()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let pids = env.pids();
    let webhook_dir = env
        .webhook_server()
        .expect("webhooks")
        .cert_dir()
        .to_owned();
    println!(
        "PLANE {} {} {} {}",
        pids.etcd,
        pids.kube_apiserver,
        env.data_dir().display(),
        webhook_dir.display()
    );
    // Left to the exit handler on purpose: no stop(), a namespace left behind.
    env.namespace().await.expect("namespace");
    assert_eq!(mode, "pass", "the helper was told to fail");
}

/// The Rust test harness ends the process when the tests are done, passed or failed; the
/// shared plane must go with it: no etcd, no kube-apiserver, no data dir.
///
/// The test binary runs itself, with only `exit_helper` selected: the child is a real
/// test process exiting the way `cargo test` processes do, which nothing in-process can
/// imitate (statics are never dropped). The processes alone would also die by
/// `PR_SET_PDEATHSIG`; the data dir is only removed by the exit handler.
#[test]
fn nothing_is_left_after_the_test_process_exits() {
    for (mode, passes) in [("pass", true), ("fail", false)] {
        let output = Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", "exit_helper", "--nocapture", "--test-threads=1"])
            .env(EXIT_HELPER, mode)
            .stdin(Stdio::null())
            .output()
            .expect("run the helper");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.success(),
            passes,
            "{mode}: {}\n{stdout}\n{stderr}",
            output.status
        );
        assert!(
            stdout.contains("1 passed") || stdout.contains("1 failed"),
            "{mode}: the helper test ran: {stdout}"
        );
        let line = stdout
            .lines()
            // libtest prints "test exit_helper ... " before the test's own output.
            .find_map(|l| l.split_once("PLANE ").map(|(_, rest)| rest))
            .unwrap_or_else(|| panic!("{mode}: no PLANE line in {stdout}\n{stderr}"));
        let fields: Vec<&str> = line.split(' ').collect();
        let [etcd, kube_apiserver, data_dir, webhook_dir] = fields[..] else {
            panic!("{mode}: unexpected PLANE line {line:?}");
        };
        let pids = ProcessIds {
            etcd: etcd.parse().expect("etcd pid"),
            kube_apiserver: kube_apiserver.parse().expect("kube-apiserver pid"),
        };
        assert_torn_down(pids, data_dir.as_ref());
        assert!(
            !std::path::Path::new(webhook_dir).exists(),
            "{mode}: {webhook_dir} still exists"
        );
    }
}
