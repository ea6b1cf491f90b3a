{{ license_header }}//! Runs the {{ kind }} controller against a real API server (etcd and
//! kube-apiserver from kubeforge-envtest) with only the permissions that its
//! `#[rbac]` attributes grant, so a missing permission fails here with 403
//! instead of in production. Needs the control-plane binaries: `make test`
//! (or `KUBEBUILDER_ASSETS=$(kubeforge envtest) cargo test`).
//!
//! The tests of this file share one control plane (`start_shared`): starting
//! etcd and kube-apiserver takes seconds, so this binary pays for it once,
//! and each test works in a namespace of its own (`env.namespace()`) that
//! `env.stop()` deletes; a namespaced kind's manager watches only that
//! namespace (`--watch-namespace`). Cluster-scoped objects (CRDs,
//! ClusterRoles, the operator's namespace) are shared. A test that restarts
//! the API server or needs cluster-scoped state to itself starts a private
//! plane: `Environment::builder()...start()`.

use std::path::{Path, PathBuf};
{% if builtin %}
use kubeforge::kube::Api;
{% if external %}use kubeforge::kube::CustomResourceExt as _;
{% endif %}use kubeforge::kube::api::ListParams;
use kubeforge_envtest::Environment;

use {{ type_path }};

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The controller lists and watches {{ kind }} objects; the operator's
/// role must allow both.
#[tokio::test]
async fn operator_role_can_list_and_watch_{{ kind_snake }}() -> anyhow::Result<()> {
    let root = project_root();
{% if external %}    // {{ kind }} is another crate's kind: no #[crd] of this project defines
    // it, so its CRD is installed from the type, through kube's
    // CustomResourceExt (which kube-derive's CustomResource implements).
    // A type without it: install the CRD its owner publishes instead, with
    // `Environment::builder().crd_dir(...)`.
    let env = Environment::builder()
        .crds([{{ kind }}::crd()])
        .start_shared()
        .await?;
{% else %}    let env = Environment::shared().await?;
{% endif %}{% if namespaced_manager %}    // A namespace-scoped manager: its ServiceAccount and Role live in the
    // namespace it watches, here the test's own.
    let namespace = env.namespace().await?;
{% endif %}    let client = env
        .service_account_client(
            {% if namespaced_manager %}namespace{% else %}"{{ namespace }}"{% endif %},
            "controller-manager",
            &root.join("config/rbac/role.yaml"),
        )
        .await?;
    let api = {% if namespaced_manager %}Api::<{{ kind }}>::namespaced(client, namespace){% else %}Api::<{{ kind }}>::all(client){% endif %};
    api.list(&ListParams::default().limit(1)).await?;
    let _events = api.watch(&Default::default(), "0").await?;
    env.stop().await;
    Ok(())
}{% else %}use std::time::Duration;

use kubeforge::kube::Api;
use kubeforge::kube::api::PostParams;
use kubeforge::manager::{Manager, ManagerArgs{% if namespaced %}, WatchNamespaces{% endif %}};
use kubeforge_envtest::Environment;

use {{ type_path }};
use {{ manager_lib }}::controller;

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A new {{ kind }} gets its status.observedGeneration set by the controller.
#[tokio::test]
async fn reconcile_records_the_observed_generation() -> anyhow::Result<()> {
    let root = project_root();
    let env = Environment::builder()
        // The CRDs as the code defines them: what `kubeforge manifests` writes
        // to config/crd/bases, so this passes before the first `make manifests`
        // (`make lint` fails if those files drift from the code).
        .crds(kubeforge::manifests::all_crds()?)
        .start_shared()
        .await?;
    let namespace = env.namespace().await?;
    // The operator's own ServiceAccount and role, not cluster-admin{% if namespaced_manager %}: a
    // namespace-scoped manager's Role and ServiceAccount live in the
    // namespace it watches, here the test's own{% endif %}.
    let operator = env
        .service_account_client(
            {% if namespaced_manager %}namespace{% else %}"{{ namespace }}"{% endif %},
            "controller-manager",
            &root.join("config/rbac/role.yaml"),
        )
        .await?;
    let args = ManagerArgs {
        metrics_bind_address: "0".into(),
        health_probe_bind_address: "0".into(),
{% if namespaced %}        // Only this test's namespace, as WATCH_NAMESPACE does in a
        // namespace-scoped deployment: tests sharing the control plane never
        // see each other's objects.
        watch_namespace: WatchNamespaces::new([namespace]).map_err(anyhow::Error::msg)?,
{% endif %}        ..ManagerArgs::default()
    };
    let mut manager = Manager::with_client(args, "{{ leader_election_id }}", operator)?;
    manager.add_controller("{{ controller_name }}", controller::{{ controller_module }}::run);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(manager.run_until(async {
        let _ = stopped.await;
    }));

{% if namespaced %}    let name = "sample";
{% else %}    // {{ kind }} is cluster-scoped: named after the test's namespace so that
    // tests sharing the control plane do not collide, and deleted at the end.
    let name = format!("sample-{namespace}");
{% endif %}    // TODO(user): set the spec fields your kind requires.
    let sample: {{ kind }} = serde_json::from_value(serde_json::json!({
        "apiVersion": "{{ api_version }}",
        "kind": "{{ kind }}",
        "metadata": { "name": name{% if namespaced %}, "namespace": namespace{% endif %} },
        "spec": {},
    }))?;
    let api: Api<{{ kind }}> = {% if namespaced %}Api::namespaced(env.client(), namespace){% else %}Api::all(env.client()){% endif %};
    let created = api.create(&PostParams::default(), &sample).await?;

    let mut observed = None;
    for _ in 0..300 {
        let current = api.get({% if namespaced %}name{% else %}&name{% endif %}).await?;
        observed = current.status.as_ref().and_then(|s| s.observed_generation);
        if observed.is_some() && observed == created.metadata.generation {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        observed, created.metadata.generation,
        "status.observedGeneration"
    );

    let _ = stop.send(());
    running.await??;
{% if namespaced %}{% else %}    api.delete(&name, &Default::default()).await?;
{% endif %}    // Deletes the test's namespace and everything in it; the control plane
    // stays up for the other tests and stops when the test binary exits.
    env.stop().await;
    Ok(())
}{% endif %}
