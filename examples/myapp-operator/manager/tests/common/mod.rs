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

//! What every integration test needs: a control plane with the CRDs, the
//! operator's own client (its ServiceAccount, bound to exactly the role
//! `kubeforge manifests` generates), a running manager, and polling helpers.
//!
//! envtest runs only etcd and kube-apiserver: no kube-controller-manager (so
//! no Deployment controller and no garbage collector) and no kubelet (so no
//! pods). Where the operator needs what those would do, a test does it by
//! hand with the admin client and says so.

#![allow(dead_code)] // each test binary uses a subset

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use kubeforge::k8s_openapi::api::apps::v1::Deployment;
use kubeforge::k8s_openapi::api::events::v1::Event;
use kubeforge::kube::api::{Patch, PatchParams, PostParams};
use kubeforge::kube::{Api, Client};
use kubeforge::manager::{Manager, ManagerArgs, ManagerError, WatchNamespaces};
use kubeforge_envtest::Environment;
use myapp_api::apps::v1::MyApp;
use myapp_manager::controller;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long eventual state may take before a test fails. Generous on
/// purpose: it bounds a hang, it does not measure speed.
pub const WAIT: Duration = Duration::from_secs(30);

/// The namespace of the MyApps of a test with a control plane of its own.
pub const PRIVATE_NAMESPACE: &str = "default";

pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A control plane with the operator's CRDs and RBAC installed.
pub struct Cluster {
    pub env: Environment,
    /// Acts as a user or the cluster itself (bypasses RBAC).
    pub admin: Client,
    /// Acts as the operator: its ServiceAccount, with config/rbac/role.yaml.
    pub operator: Client,
    /// Where this test's MyApps live, and all its operator watches.
    pub namespace: String,
}

impl Cluster {
    /// A cluster set up as the operator's install (config/default) sets it
    /// up: the CRDs, and the operator's ServiceAccount with its role. The
    /// registry lives in the operator's namespace (`default` outside a
    /// cluster), so there is nothing else to create.
    ///
    /// The control plane is shared by this test binary's tests (starting
    /// one takes seconds); each test gets a namespace of its own, which
    /// `env.stop()` deletes, and its operator watches only that namespace
    /// (`--watch-namespace`), so tests never see each other's MyApps.
    /// Registry entries are named `<namespace>.<name>`, so they never clash.
    pub async fn start() -> anyhow::Result<Self> {
        let env = Environment::builder()
            .crd_dir(project_root().join("config/crd/bases"))
            .start_shared()
            .await?;
        let namespace = env.namespace().await?.to_owned();
        Self::with(env, namespace).await
    }

    /// A control plane of this test's own, for tests that restart the API
    /// server or elect leaders; MyApps live in [`PRIVATE_NAMESPACE`].
    pub async fn start_private() -> anyhow::Result<Self> {
        let env = Environment::builder()
            .crd_dir(project_root().join("config/crd/bases"))
            .start()
            .await?;
        Self::with(env, PRIVATE_NAMESPACE.to_owned()).await
    }

    async fn with(env: Environment, namespace: String) -> anyhow::Result<Self> {
        let root = project_root();
        let operator = env
            .service_account_client(
                "myapp-system",
                "controller-manager",
                &root.join("config/rbac/role.yaml"),
            )
            .await?;
        Ok(Cluster {
            admin: env.client(),
            env,
            operator,
            namespace,
        })
    }

    /// The admin's view of MyApps, Deployments, ... in the test's namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kubeforge::kube::Resource<Scope = kubeforge::k8s_openapi::NamespaceResourceScope>,
        <K as kubeforge::kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.admin.clone(), &self.namespace)
    }

    /// Creates a MyApp as a user would.
    pub async fn create_app(&self, name: &str, spec: serde_json::Value) -> anyhow::Result<MyApp> {
        let app: MyApp = serde_json::from_value(serde_json::json!({
            "apiVersion": "apps.example.com/v1",
            "kind": "MyApp",
            "metadata": { "name": name, "namespace": self.namespace },
            "spec": spec,
        }))?;
        Ok(self
            .api::<MyApp>()
            .create(&PostParams::default(), &app)
            .await?)
    }

    /// Writes the status the Deployment controller and kubelets would: every
    /// replica on the current template, `ready` of them ready. envtest has
    /// neither, so without this a Deployment never becomes ready.
    pub async fn simulate_rollout(&self, name: &str, ready: i32) -> anyhow::Result<()> {
        let api = self.api::<Deployment>();
        let deployment = api.get(name).await?;
        let replicas = deployment.spec.replicas.unwrap_or(1);
        let status = serde_json::json!({ "status": {
            "observedGeneration": deployment.metadata.generation,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
        }});
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(status))
            .await?;
        Ok(())
    }

    /// The events recorded about the MyApp `name`, oldest first.
    pub async fn events_for(&self, name: &str) -> anyhow::Result<Vec<Event>> {
        let events = self.api::<Event>().list(&Default::default()).await?;
        Ok(events
            .items
            .into_iter()
            .filter(|e| {
                e.regarding.as_ref().is_some_and(|r| {
                    r.kind.as_deref() == Some("MyApp") && r.name.as_deref() == Some(name)
                })
            })
            .collect())
    }

    /// Starts the operator's manager with the operator's client, watching
    /// the test's namespace.
    pub fn start_operator(&self) -> anyhow::Result<RunningManager> {
        let args = ManagerArgs {
            watch_namespace: WatchNamespaces::new([self.namespace.as_str()])
                .map_err(anyhow::Error::msg)?,
            ..manager_args()
        };
        RunningManager::start(self.operator.clone(), args)
    }

    /// The registry entry of the MyApp `name` of this test.
    pub fn registry_entry(&self, name: &str) -> String {
        format!("{}.{name}", self.namespace)
    }
}

/// Manager flags for tests: no listeners (they'd clash between parallel
/// tests), and no logs unless RUST_LOG asks for them (tests assert on
/// outcomes; logs are for finding out why one failed).
pub fn manager_args() -> ManagerArgs {
    ManagerArgs {
        metrics_bind_address: "0".into(),
        health_probe_bind_address: "0".into(),
        log_level: std::env::var("RUST_LOG").is_err().then(|| "off".into()),
        ..ManagerArgs::default()
    }
}

/// A manager running the MyApp controller, as main.rs wires it.
pub struct RunningManager {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), ManagerError>>,
}

impl RunningManager {
    pub fn start(client: Client, args: ManagerArgs) -> anyhow::Result<Self> {
        let manager = Manager::with_client(args, "myapp.example.com", client)?;
        Ok(Self::spawn(manager))
    }

    /// Runs a manager built by the caller (e.g. bound to learn its metrics
    /// address), after adding the MyApp controller.
    pub fn spawn(mut manager: Manager) -> Self {
        manager.add_controller("my_app", controller::my_app::run);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(manager.run_until(async {
            let _ = stopped.await;
        }));
        RunningManager { stop, task }
    }

    /// Shuts the manager down gracefully and returns how it ended.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await?.context("manager failed")
    }
}

/// Polls `check` until it returns `Some`, for at most [`WAIT`]. Errors count
/// as "not yet" (the API server may be restarting) and the last one is
/// reported if time runs out.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    eventually_within(WAIT, what, check).await
}

/// [`eventually`] with a different upper bound.
pub async fn eventually_within<T, F, Fut>(
    limit: Duration,
    what: &str,
    mut check: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + limit;
    let mut last_error = None;
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(error) => last_error = Some(error),
        }
        if Instant::now() >= deadline {
            let detail = last_error.map(|e| format!(" (last error: {e:#})"));
            anyhow::bail!("gave up waiting for {what}{}", detail.unwrap_or_default());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `status` of the MyApp's condition `type_`, if it has one.
pub fn condition(app: &MyApp, type_: &str) -> Option<String> {
    let status = app.status.as_ref()?;
    kubeforge::conditions::find_condition(&status.conditions, type_).map(|c| c.status.clone())
}

/// Waits until the MyApp `name` satisfies `ready`, and returns it.
pub async fn app_where(
    cluster: &Cluster,
    name: &str,
    what: &str,
    ready: impl Fn(&MyApp) -> bool,
) -> anyhow::Result<MyApp> {
    let api = cluster.api::<MyApp>();
    eventually(what, || {
        let api = api.clone();
        let ready = &ready;
        async move { Ok(Some(api.get(name).await?).filter(|app| ready(app))) }
    })
    .await
}
