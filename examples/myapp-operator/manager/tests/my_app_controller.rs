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
//! The tests share one control plane (`Cluster::start`), each in a
//! namespace of its own that its operator alone watches, so they run in
//! parallel without seeing each other's MyApps.

mod common;

use std::sync::Arc;

use common::{Cluster, app_where, condition, eventually};
use futures::StreamExt as _;
use kubeforge::k8s_openapi::api::apps::v1::Deployment;
use kubeforge::k8s_openapi::api::core::v1::{ConfigMap, Service};
use kubeforge::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kubeforge::kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kubeforge::kube::runtime::reflector::ObjectRef;
use kubeforge::kube::{Api, Client, Resource as _, ResourceExt as _};
use kubeforge::lean::Compact;
use kubeforge::manager::Scope;
use myapp_api::apps::v1::MyApp;
use myapp_manager::controller::my_app::{
    self, AVAILABLE, Caches, DEGRADED, FINALIZER, MANAGED_BY, PROGRESSING, State,
    registry_namespace,
};
use serde_json::json;

/// The controller's caches for a reconcile run by hand, seen through
/// `client`, and filled before they are returned. Their watches run until
/// the test ends.
async fn caches(cluster: &Cluster, client: &Client) -> anyhow::Result<Caches> {
    let scope = Scope::Namespace(cluster.namespace.clone());
    let (caches, feeds) = Caches::watch(client, &scope);
    tokio::spawn(feeds.deployments.for_each(|_| async {}));
    tokio::spawn(feeds.services.for_each(|_| async {}));
    tokio::spawn(feeds.registry.for_each(|_| async {}));
    eventually("the caches' first lists", || async {
        Ok(caches.is_ready().then_some(()))
    })
    .await?;
    Ok(caches)
}

/// Waits for the controller to create the MyApp's Deployment, then
/// plays the Deployment controller: all `replicas` pods are up and ready.
async fn roll_out(cluster: &Cluster, name: &str, replicas: i32) -> anyhow::Result<MyApp> {
    let deployments = cluster.api::<Deployment>();
    eventually("the Deployment", || async {
        Ok(deployments.get_opt(name).await?)
    })
    .await?;
    cluster.simulate_rollout(name, replicas).await?;
    app_where(cluster, name, "the MyApp to become Available", |app| {
        condition(app, AVAILABLE).as_deref() == Some("True")
    })
    .await
}

fn registry(cluster: &Cluster) -> Api<ConfigMap> {
    Api::namespaced(cluster.admin.clone(), &registry_namespace())
}

// ANCHOR: creates
/// A new MyApp gets a Deployment and a Service shaped by its spec and
/// controlled by it, an entry in the registry and the finalizer guarding
/// that entry; a spec change reaches the Deployment and Service.
#[tokio::test]
async fn creates_and_updates_the_deployment_service_and_registry_entry() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let operator = cluster.start_operator()?;
    let app = cluster
        .create_app("web", json!({ "replicas": 2, "image": "nginx:1.27" }))
        .await?;

    let deployments = cluster.api::<Deployment>();
    let deployment = eventually("the Deployment", || async {
        Ok(deployments.get_opt("web").await?)
    })
    .await?;
    assert_eq!(deployment.spec.replicas, Some(2));
    let pod = deployment.spec.template.spec.as_ref().expect("pod spec");
    assert_eq!(pod.containers[0].image.as_deref(), Some("nginx:1.27"));
    let ports = pod.containers[0].ports.as_ref().expect("container ports");
    assert_eq!(ports[0].container_port, 8080, "the default port");

    let services = cluster.api::<Service>();
    let service = eventually("the Service", || async {
        Ok(services.get_opt("web").await?)
    })
    .await?;
    let port = &service
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .expect("ports")[0];
    assert_eq!(port.port, 8080);
    assert_eq!(port.target_port, Some(IntOrString::String("http".into())));

    for owners in [deployment.owner_references(), service.owner_references()] {
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0].uid, app.uid().expect("uid"));
        assert_eq!(owners[0].controller, Some(true));
    }

    let entry_name = cluster.registry_entry("web");
    let registry = registry(&cluster);
    let entry = eventually("the registry entry", || async {
        Ok(registry.get_opt(&entry_name).await?)
    })
    .await?;
    assert_eq!(
        entry
            .data
            .as_ref()
            .and_then(|d| d.get("image"))
            .map(String::as_str),
        Some("nginx:1.27")
    );
    let app = cluster.api::<MyApp>().get("web").await?;
    assert!(app.finalizers().iter().any(|f| f == FINALIZER));

    cluster
        .api::<MyApp>()
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "image": "nginx:1.28", "port": 9090 } })),
        )
        .await?;
    eventually("the new image in the Deployment", || async {
        let d = deployments.get("web").await?;
        let image = d
            .spec
            .template
            .spec
            .and_then(|p| p.containers[0].image.clone());
        Ok((image.as_deref() == Some("nginx:1.28")).then_some(()))
    })
    .await?;
    eventually("the new port in the Service", || async {
        let s = services.get("web").await?;
        let port = s.spec.and_then(|s| s.ports).map(|p| p[0].port);
        Ok((port == Some(9090)).then_some(()))
    })
    .await?;

    operator.stop().await?;
    cluster.env.stop().await;
    Ok(())
}
// ANCHOR_END: creates

/// Once everything is in place, a reconcile writes nothing. Proven with a
/// ServiceAccount that may only read: any write (apply, status, event)
/// would fail the reconcile with 403. Resource versions confirm it. What
/// the reconcile compares with comes from the caches the read-only account
/// watches.
#[tokio::test]
async fn a_reconcile_with_nothing_to_change_writes_nothing() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let operator = cluster.start_operator()?;
    cluster
        .create_app("web", json!({ "replicas": 1, "image": "nginx:1.27" }))
        .await?;
    roll_out(&cluster, "web", 1).await?;
    app_where(&cluster, "web", "the status to settle", |app| {
        condition(app, PROGRESSING).as_deref() == Some("False")
    })
    .await?;
    // Nothing else may write while versions are compared.
    operator.stop().await?;

    let read_only_role = cluster.env.data_dir().join("read-only-role.yaml");
    std::fs::write(
        &read_only_role,
        r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: myapp-read-only
rules:
- apiGroups: ["apps.example.com"]
  resources: ["myapps", "myapps/status"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["services", "configmaps"]
  verbs: ["get", "list", "watch"]
"#,
    )?;
    let read_only = cluster
        .env
        .service_account_client("myapp-system", "read-only", &read_only_role)
        .await?;

    let versions = || async {
        anyhow::Ok([
            cluster.api::<MyApp>().get("web").await?.resource_version(),
            cluster
                .api::<Deployment>()
                .get("web")
                .await?
                .resource_version(),
            cluster
                .api::<Service>()
                .get("web")
                .await?
                .resource_version(),
            registry(&cluster)
                .get(&cluster.registry_entry("web"))
                .await?
                .resource_version(),
        ])
    };
    let events = cluster.events_for("web").await?.len();
    let before = versions().await?;
    let app = cluster.api::<MyApp>().get("web").await?;
    let caches = caches(&cluster, &read_only).await?;
    let state = Arc::new(State::new(read_only, caches));
    my_app::reconcile(Arc::new(app), state.clone()).await?;
    assert_eq!(versions().await?, before, "nothing was written");
    assert_eq!(cluster.events_for("web").await?.len(), events, "no events");

    // The same reconcile does want to write once there is something to do,
    // so the check above could fail.
    let app = cluster
        .api::<MyApp>()
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "replicas": 3 } })),
        )
        .await?;
    let error = my_app::reconcile(Arc::new(app), state)
        .await
        .expect_err("scaling needs a write");
    assert!(error.to_string().contains("forbidden"), "{error}");

    cluster.env.stop().await;
    Ok(())
}

/// Hand-made changes to owned objects are undone: a Deployment scaled by
/// hand is scaled back, a deleted Service comes back. Both reach the
/// controller through its watches on owned objects.
#[tokio::test]
async fn corrects_drift_of_owned_objects() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let operator = cluster.start_operator()?;
    cluster
        .create_app("web", json!({ "replicas": 2, "image": "nginx:1.27" }))
        .await?;
    roll_out(&cluster, "web", 2).await?;

    let deployments = cluster.api::<Deployment>();
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "replicas": 5 } })),
        )
        .await?;
    eventually("the Deployment to be scaled back to 2", || async {
        let replicas = deployments.get("web").await?.spec.replicas;
        Ok((replicas == Some(2)).then_some(()))
    })
    .await?;

    let services = cluster.api::<Service>();
    let old_uid = services.get("web").await?.uid();
    services.delete("web", &DeleteParams::default()).await?;
    let recreated = eventually("a new Service", || async {
        Ok(services
            .get_opt("web")
            .await?
            .filter(|s| s.uid() != old_uid))
    })
    .await?;
    assert_eq!(recreated.owner_references().len(), 1);

    operator.stop().await?;
    cluster.env.stop().await;
    Ok(())
}

/// The controller caches and hears about only the Deployments it made: a
/// Deployment without the operator's managed-by label never reaches it,
/// even one that names a MyApp as its owner. The watch is the one
/// `my_app::run` starts, as the operator's ServiceAccount; a single watch
/// delivers events in order, so had the unlabelled Deployment (created
/// first) matched, it would have arrived before the labelled one. The
/// cached copy is the whole object but its managedFields, as JSON.
#[tokio::test]
async fn deployments_without_the_operators_label_are_not_cached() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let (cache, owned) = kubeforge::lean::cached::<Compact<Deployment>>(
        Api::namespaced(cluster.operator.clone(), &cluster.namespace),
        MANAGED_BY,
    );
    let mut owned = std::pin::pin!(owned);
    let app = cluster
        .create_app("web", json!({ "replicas": 1, "image": "nginx:1.27" }))
        .await?;
    // Made by someone else, owned by the MyApp, without the label.
    let stray: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "stray", "namespace": cluster.namespace },
        "spec": {
            "selector": { "matchLabels": { "app": "stray" } },
            "template": {
                "metadata": { "labels": { "app": "stray" } },
                "spec": { "containers": [{ "name": "main", "image": "nginx:1.27" }] },
            },
        },
    }))?;
    let stray = Deployment {
        metadata: ObjectMeta {
            owner_references: Some(vec![
                app.controller_owner_ref(&())
                    .ok_or_else(|| anyhow::anyhow!("the MyApp has no uid"))?,
            ]),
            ..stray.metadata
        },
        ..stray
    };
    cluster
        .api::<Deployment>()
        .create(&PostParams::default(), &stray)
        .await?;

    let operator = cluster.start_operator()?;
    let seen = tokio::time::timeout(common::WAIT, async {
        let mut seen = Vec::new();
        while let Some(event) = owned.next().await {
            let name = event?.name_any();
            let done = name == "web";
            seen.push(name);
            if done {
                break;
            }
        }
        anyhow::Ok(seen)
    })
    .await??;
    assert_eq!(seen.last().map(String::as_str), Some("web"), "{seen:?}");
    assert!(!seen.iter().any(|name| name == "stray"), "{seen:?}");
    let cached = |name: &str| cache.get(&ObjectRef::new(name).within(&cluster.namespace));
    assert!(cached("stray").is_none());
    let cached_web = cached("web").ok_or_else(|| anyhow::anyhow!("web is not cached"))?;
    assert!(!cached_web.json().contains("managedFields"));
    let cached_web = cached_web.object()?;
    assert_eq!(
        cached_web.spec.replicas,
        Some(1),
        "the whole object is cached"
    );
    let web = cluster.api::<Deployment>().get("web").await?;
    assert_eq!(
        web.labels()
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some(MANAGED_BY)
    );

    operator.stop().await?;
    cluster.env.stop().await;
    Ok(())
}

/// The status follows the Deployment's: ready replicas, the observed
/// generation, and Available / Progressing / Degraded, whose
/// lastTransitionTime changes only when their status does.
#[tokio::test]
async fn status_follows_the_deployment() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let operator = cluster.start_operator()?;
    let created = cluster
        .create_app("web", json!({ "replicas": 2, "image": "nginx:1.27" }))
        .await?;

    let rolling = app_where(&cluster, "web", "Progressing", |app| {
        condition(app, PROGRESSING).as_deref() == Some("True")
    })
    .await?;
    let status = rolling.status.clone().expect("status");
    assert_eq!(status.observed_generation, created.metadata.generation);
    assert_eq!(condition(&rolling, AVAILABLE).as_deref(), Some("False"));
    assert_eq!(condition(&rolling, DEGRADED).as_deref(), Some("False"));
    let degraded_since = |app: &MyApp| {
        let conditions = &app.status.as_ref().expect("status").conditions;
        kubeforge::conditions::find_condition(conditions, DEGRADED)
            .expect("Degraded")
            .last_transition_time
            .clone()
    };
    let first_transition = degraded_since(&rolling);

    cluster.simulate_rollout("web", 1).await?;
    let half = app_where(&cluster, "web", "one ready replica", |app| {
        app.status.as_ref().and_then(|s| s.ready_replicas) == Some(1)
    })
    .await?;
    assert_eq!(condition(&half, AVAILABLE).as_deref(), Some("False"));

    cluster.simulate_rollout("web", 2).await?;
    let done = app_where(&cluster, "web", "Available and rolled out", |app| {
        condition(app, AVAILABLE).as_deref() == Some("True")
            && condition(app, PROGRESSING).as_deref() == Some("False")
    })
    .await?;
    assert_eq!(done.status.as_ref().and_then(|s| s.ready_replicas), Some(2));
    assert_eq!(
        degraded_since(&done),
        first_transition,
        "Degraded never flipped"
    );

    // A new generation is observed too.
    let scaled = cluster
        .api::<MyApp>()
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "replicas": 3 } })),
        )
        .await?;
    app_where(&cluster, "web", "the new generation observed", |app| {
        app.status.as_ref().and_then(|s| s.observed_generation) == scaled.metadata.generation
            && condition(app, AVAILABLE).as_deref() == Some("False")
    })
    .await?;

    operator.stop().await?;
    cluster.env.stop().await;
    Ok(())
}

/// Creating and updating owned objects is recorded as events on the MyApp.
#[tokio::test]
async fn records_events_for_what_it_creates_and_updates() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let operator = cluster.start_operator()?;
    cluster
        .create_app("web", json!({ "replicas": 1, "image": "nginx:1.27" }))
        .await?;

    let notes = |reason: &'static str| {
        let cluster = &cluster;
        async move {
            let events = cluster.events_for("web").await?;
            let notes: Vec<String> = events
                .into_iter()
                .filter(|e| e.reason.as_deref() == Some(reason))
                .filter_map(|e| e.note)
                .collect();
            anyhow::Ok(notes)
        }
    };
    let created = eventually("Created events for all three objects", || async {
        let notes = notes("Created").await?;
        Ok((notes.len() == 3).then_some(notes))
    })
    .await?;
    for kind in ["Deployment", "Service", "ConfigMap"] {
        assert!(
            created.iter().any(|n| n.contains(kind)),
            "{kind} in {created:?}"
        );
    }

    cluster
        .api::<MyApp>()
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "replicas": 2 } })),
        )
        .await?;
    let updated = eventually("an Updated event", || async {
        let notes = notes("Updated").await?;
        Ok((!notes.is_empty()).then_some(notes))
    })
    .await?;
    let deployment = format!("Deployment {}/web", cluster.namespace);
    assert!(
        updated.iter().any(|n| n.contains(&deployment)),
        "{updated:?}"
    );

    operator.stop().await?;
    cluster.env.stop().await;
    Ok(())
}

/// Deleting a MyApp runs the finalizer: the registry entry is removed, then
/// the MyApp is gone. The Deployment and Service are left to the garbage
/// collector through their owner references; envtest runs no garbage
/// collector (no kube-controller-manager), so the test checks the owner
/// references instead of waiting for the objects to disappear.
#[tokio::test]
async fn deleting_a_myapp_removes_its_registry_entry() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let operator = cluster.start_operator()?;
    let app = cluster
        .create_app("web", json!({ "image": "nginx:1.27" }))
        .await?;
    let registry = registry(&cluster);
    eventually("the registry entry", || async {
        Ok(registry.get_opt(&cluster.registry_entry("web")).await?)
    })
    .await?;
    let deployment = cluster.api::<Deployment>().get("web").await?;
    let service = cluster.api::<Service>().get("web").await?;
    for owners in [deployment.owner_references(), service.owner_references()] {
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0].uid, app.uid().expect("uid"));
        assert_eq!(owners[0].controller, Some(true));
        assert_eq!(owners[0].block_owner_deletion, Some(true));
    }

    let apps = cluster.api::<MyApp>();
    apps.delete("web", &DeleteParams::default()).await?;
    eventually("the registry entry to be deleted", || async {
        Ok(registry
            .get_opt(&cluster.registry_entry("web"))
            .await?
            .is_none()
            .then_some(()))
    })
    .await?;
    eventually("the MyApp to be gone", || async {
        Ok(apps.get_opt("web").await?.is_none().then_some(()))
    })
    .await?;

    operator.stop().await?;
    cluster.env.stop().await;
    Ok(())
}

/// A reconcile that fails (here: a stale registry entry, made immutable by
/// hand, is in the way) is reported as a Warning event and a Degraded
/// condition, and retried with backoff: nothing else triggers a reconcile
/// once the administrator deletes the entry, yet the MyApp recovers.
#[tokio::test]
async fn failures_are_reported_and_retried() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let stale: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": cluster.registry_entry("web") },
        "data": { "image": "stale" },
        "immutable": true,
    }))?;
    registry(&cluster)
        .create(&PostParams::default(), &stale)
        .await?;
    let operator = cluster.start_operator()?;
    cluster
        .create_app("web", json!({ "image": "nginx:1.27" }))
        .await?;

    let failed = app_where(&cluster, "web", "Degraded", |app| {
        condition(app, DEGRADED).as_deref() == Some("True")
    })
    .await?;
    let conditions = &failed.status.as_ref().expect("status").conditions;
    let degraded = kubeforge::conditions::find_condition(conditions, DEGRADED).expect("Degraded");
    assert_eq!(degraded.reason, "ReconcileFailed");
    assert!(
        degraded.message.contains("immutable"),
        "{}",
        degraded.message
    );
    let warning = eventually("a Warning event", || async {
        let events = cluster.events_for("web").await?;
        Ok(events
            .into_iter()
            .find(|e| e.type_.as_deref() == Some("Warning")))
    })
    .await?;
    assert_eq!(warning.reason.as_deref(), Some("ReconcileFailed"));

    registry(&cluster)
        .delete(&cluster.registry_entry("web"), &DeleteParams::default())
        .await?;
    app_where(&cluster, "web", "Degraded to clear", |app| {
        condition(app, DEGRADED).as_deref() == Some("False")
    })
    .await?;
    assert!(
        registry(&cluster)
            .get_opt(&cluster.registry_entry("web"))
            .await?
            .is_some()
    );

    operator.stop().await?;
    cluster.env.stop().await;
    Ok(())
}
