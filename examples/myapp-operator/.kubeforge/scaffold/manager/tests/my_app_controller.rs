// Copyright the project authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

//! Runs the MyApp controller against a real API server (etcd and
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
use std::time::Duration;

use kubeforge::kube::Api;
use kubeforge::kube::api::PostParams;
use kubeforge::manager::{Manager, ManagerArgs, WatchNamespaces};
use kubeforge_envtest::Environment;

use myapp_api::apps::v1::MyApp;
use myapp_manager::controller;

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A new MyApp gets its status.observedGeneration set by the controller.
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
    // The operator's own ServiceAccount and role, not cluster-admin.
    let operator = env
        .service_account_client(
            "myapp-system",
            "controller-manager",
            &root.join("config/rbac/role.yaml"),
        )
        .await?;
    let args = ManagerArgs {
        metrics_bind_address: "0".into(),
        health_probe_bind_address: "0".into(),
        // Only this test's namespace, as WATCH_NAMESPACE does in a
        // namespace-scoped deployment: tests sharing the control plane never
        // see each other's objects.
        watch_namespace: WatchNamespaces::new([namespace]).map_err(anyhow::Error::msg)?,
        ..ManagerArgs::default()
    };
    let mut manager = Manager::with_client(args, "myapp.example.com", operator)?;
    manager.add_controller("my_app", controller::my_app::run);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(manager.run_until(async {
        let _ = stopped.await;
    }));

    let name = "sample";
    // TODO(user): set the spec fields your kind requires.
    let sample: MyApp = serde_json::from_value(serde_json::json!({
        "apiVersion": "apps.example.com/v1",
        "kind": "MyApp",
        "metadata": { "name": name, "namespace": namespace },
        "spec": {},
    }))?;
    let api: Api<MyApp> = Api::namespaced(env.client(), namespace);
    let created = api.create(&PostParams::default(), &sample).await?;

    let mut observed = None;
    for _ in 0..300 {
        let current = api.get(name).await?;
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
    // Deletes the test's namespace and everything in it; the control plane
    // stays up for the other tests and stops when the test binary exits.
    env.stop().await;
    Ok(())
}
