//! `kubeforge::lean` against a real API server (kubeforge-envtest): what a
//! lean controller caches and hands its reconciler, which owned objects it
//! hears about, and how many reconciles it runs at once.
//!
//! Waits are for observable events with a generous upper bound only so a
//! broken build fails instead of hanging; nothing asserts how fast anything
//! happens.

#![cfg(feature = "runtime")]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::watcher;
use kube::{Api, Resource as _, ResourceExt as _};
use kubeforge::lean::{self, LAST_APPLIED_ANNOTATION};
use kubeforge::manager::{Context, DEFAULT_MAX_CONCURRENT_RECONCILES, Manager, ManagerArgs};
use kubeforge_envtest::Environment;
use tokio::sync::{mpsc, oneshot};

const WAIT_LIMIT: Duration = Duration::from_secs(120);
const MANAGER: &str = "lean-test";

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT_LIMIT, future)
        .await
        .unwrap_or_else(|_| panic!("gave up waiting for {what}"))
}

fn args() -> ManagerArgs {
    ManagerArgs {
        metrics_bind_address: "0".into(),
        health_probe_bind_address: "0".into(),
        graceful_shutdown_timeout: Duration::from_secs(10),
        log_level: Some("off".into()),
        ..ManagerArgs::default()
    }
}

/// A ConfigMap written the way kubectl apply writes one: server-side apply
/// (so the API server records managedFields) plus the last-applied
/// annotation client-side apply leaves.
async fn apply_config_map(api: &Api<ConfigMap>, name: &str) -> ConfigMap {
    let object = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "annotations": {
                LAST_APPLIED_ANNOTATION: "{\"big\":\"copy of the object\"}",
                "keep": "me",
            },
        },
        "data": { "key": "value" },
    });
    api.patch(name, &PatchParams::apply("kubectl"), &Patch::Apply(object))
        .await
        .unwrap()
}

/// What each reconcile saw, sent by the test controller.
#[derive(Debug)]
struct Seen {
    name: String,
    managed_fields: bool,
    annotations: BTreeMap<String, String>,
}

#[tokio::test]
async fn lean_controller_caches_stripped_objects_and_hears_only_labelled_children() {
    let env = within("envtest", Environment::start()).await.unwrap();
    let client = env.client();
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let stored = apply_config_map(&config_maps, "app").await;
    assert!(
        stored.metadata.managed_fields.is_some(),
        "the API server keeps managedFields; only the cache drops them"
    );

    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel::<Seen>();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let mut manager = Manager::with_client(args(), "lean.example.com", client.clone()).unwrap();
    manager.add_controller("lean", move |ctx: Context| async move {
        let client = ctx.client();
        let controller = lean::controller(
            Api::<ConfigMap>::namespaced(client.clone(), "default"),
            watcher::Config::default(),
            &ctx,
        )
        .owns_stream(lean::owned::<Secret>(client, MANAGER));
        let seen_tx = Arc::new(seen_tx);
        controller
            .graceful_shutdown_on(ctx.shutdown_signal())
            .run(
                |object: Arc<ConfigMap>, seen: Arc<mpsc::UnboundedSender<Seen>>| async move {
                    let _ = seen.send(Seen {
                        name: object.name_any(),
                        managed_fields: object.metadata.managed_fields.is_some(),
                        annotations: object.annotations().clone(),
                    });
                    Ok::<_, kube::Error>(Action::await_change())
                },
                |_, _, _| Action::requeue(Duration::from_secs(1)),
                seen_tx,
            )
            .for_each(|_| async {})
            .await;
        Ok(())
    });
    let manager = tokio::spawn(async move {
        manager
            .run_until(async {
                let _ = stop_rx.await;
            })
            .await
    });

    let first = within("the first reconcile", seen_rx.recv()).await.unwrap();
    assert_eq!(first.name, "app");
    assert!(
        !first.managed_fields,
        "managedFields reached the reconciler"
    );
    assert_eq!(
        first.annotations,
        BTreeMap::from([("keep".to_owned(), "me".to_owned())]),
        "only the last-applied annotation is dropped"
    );

    // Two children of the ConfigMap: one without the operator's label,
    // created first, then one with it. Only the labelled one may trigger a
    // reconcile: the unlabelled one is filtered out by the API server.
    let owner = OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "app".into(),
        uid: stored.uid().unwrap(),
        ..OwnerReference::default()
    };
    let secrets: Api<Secret> = Api::namespaced(env.client(), "default");
    let secret = |name: &str, labels: Option<BTreeMap<String, String>>| Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels,
            owner_references: Some(vec![owner.clone()]),
            ..ObjectMeta::default()
        },
        ..Secret::default()
    };
    secrets
        .create(&PostParams::default(), &secret("stranger", None))
        .await
        .unwrap();
    // Give a wrongly unfiltered watch time to deliver the stranger first.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        seen_rx.try_recv().is_err(),
        "an unlabelled child triggered a reconcile"
    );
    let labels = BTreeMap::from([(lean::MANAGED_BY_LABEL.to_owned(), MANAGER.to_owned())]);
    secrets
        .create(&PostParams::default(), &secret("mine", Some(labels)))
        .await
        .unwrap();
    let again = within("the labelled child's reconcile", seen_rx.recv())
        .await
        .unwrap();
    assert_eq!(again.name, "app");
    assert!(!again.managed_fields);

    let _ = stop_tx.send(());
    within("the manager to stop", manager)
        .await
        .unwrap()
        .unwrap();
    env.stop().await;
}

#[tokio::test]
async fn owned_stream_is_metadata_only_stripped_and_label_filtered() {
    let env = within("envtest", Environment::start()).await.unwrap();
    let secrets: Api<Secret> = Api::namespaced(env.client(), "default");
    let labelled = |name: &str, manager: &str| Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([(
                lean::MANAGED_BY_LABEL.to_owned(),
                manager.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        string_data: Some(BTreeMap::from([("password".to_owned(), "x".to_owned())])),
        ..Secret::default()
    };
    // Created before the ones the watch selects, so an unfiltered watch
    // would deliver them first (the initial list is in name order, events
    // in resourceVersion order).
    for (name, manager) in [("a-other", "someone-else"), ("b-mine", MANAGER)] {
        secrets
            .create(&PostParams::default(), &labelled(name, manager))
            .await
            .unwrap();
    }
    let mut stream = Box::pin(lean::owned::<Secret>(env.client(), MANAGER));
    let first = within("the listed child", stream.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.name_any(), "b-mine");
    assert_eq!(first.metadata.managed_fields, None);
    secrets
        .create(&PostParams::default(), &labelled("c-other", "someone-else"))
        .await
        .unwrap();
    secrets
        .create(&PostParams::default(), &labelled("d-mine", MANAGER))
        .await
        .unwrap();
    let next = within("the watched child", stream.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.name_any(), "d-mine");
    assert_eq!(next.metadata.managed_fields, None);
    assert_eq!(
        next.meta()
            .labels
            .as_ref()
            .and_then(|l| l.get(lean::MANAGED_BY_LABEL)),
        Some(&MANAGER.to_owned())
    );
    env.stop().await;
}

#[tokio::test]
async fn lean_controller_bounds_reconciles_in_flight() {
    const OBJECTS: usize = 12;
    let env = within("envtest", Environment::start()).await.unwrap();
    let client = env.client();
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..OBJECTS {
        apply_config_map(&config_maps, &format!("app-{i}")).await;
    }

    #[derive(Default)]
    struct Counts {
        in_flight: AtomicUsize,
        peak: AtomicUsize,
        done: AtomicUsize,
    }
    let counts = Arc::new(Counts::default());
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<()>();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let mut manager = Manager::with_client(args(), "lean.example.com", client.clone()).unwrap();
    let state = Arc::clone(&counts);
    manager.add_controller("lean", move |ctx: Context| async move {
        assert_eq!(
            ctx.max_concurrent_reconciles(),
            DEFAULT_MAX_CONCURRENT_RECONCILES
        );
        lean::controller(
            Api::<ConfigMap>::namespaced(ctx.client(), "default"),
            watcher::Config::default(),
            &ctx,
        )
        .graceful_shutdown_on(ctx.shutdown_signal())
        .run(
            move |_object: Arc<ConfigMap>, counts: Arc<Counts>| {
                let done_tx = done_tx.clone();
                async move {
                    let now = counts.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    counts.peak.fetch_max(now, Ordering::SeqCst);
                    // Long enough that an unbounded controller would have
                    // every object in flight at once.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    counts.in_flight.fetch_sub(1, Ordering::SeqCst);
                    counts.done.fetch_add(1, Ordering::SeqCst);
                    let _ = done_tx.send(());
                    Ok::<_, kube::Error>(Action::await_change())
                }
            },
            |_, _, _| Action::requeue(Duration::from_secs(1)),
            state,
        )
        .for_each(|_| async {})
        .await;
        Ok(())
    });
    let manager = tokio::spawn(async move {
        manager
            .run_until(async {
                let _ = stop_rx.await;
            })
            .await
    });
    for _ in 0..OBJECTS {
        within("every reconcile", done_rx.recv()).await.unwrap();
    }
    let peak = counts.peak.load(Ordering::SeqCst);
    assert!(
        (1..=usize::from(DEFAULT_MAX_CONCURRENT_RECONCILES)).contains(&peak),
        "{peak} reconciles ran at once; the limit is {DEFAULT_MAX_CONCURRENT_RECONCILES}"
    );
    let _ = stop_tx.send(());
    within("the manager to stop", manager)
        .await
        .unwrap()
        .unwrap();
    env.stop().await;
}
