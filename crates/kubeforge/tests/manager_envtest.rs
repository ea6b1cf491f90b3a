//! The manager against a real API server (kubeforge-envtest): client from a
//! kubeconfig path, leader election through a Lease, hand-over on shutdown
//! and exit on lost leadership.
//!
//! Waits are for observable events (a controller starting, the Lease being
//! renewed) with a generous upper bound only so a broken build fails instead
//! of hanging; nothing asserts how fast anything happens.

#![cfg(feature = "runtime")]

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use kubeforge::manager::{Context, Manager, ManagerArgs, ManagerError};
use kubeforge_envtest::Environment;
use tokio::sync::{mpsc, oneshot};

mod support;
use support::get;

/// Upper bound for any single wait, so a regression fails rather than hangs.
const WAIT_LIMIT: Duration = Duration::from_secs(120);

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT_LIMIT, future)
        .await
        .unwrap_or_else(|_| panic!("gave up waiting for {what}"))
}

fn args(env: &Environment, leader_elect: bool) -> ManagerArgs {
    ManagerArgs {
        metrics_bind_address: "127.0.0.1:0".into(),
        // Plain HTTP keeps these tests about the manager; HTTPS and
        // authorization have their own (metrics_envtest.rs).
        metrics_secure: false,
        health_probe_bind_address: "127.0.0.1:0".into(),
        leader_elect,
        leader_election_namespace: Some("default".into()),
        lease_duration: Duration::from_secs(3),
        lease_renew_grace: Some(Duration::from_secs(1)),
        graceful_shutdown_timeout: Duration::from_secs(10),
        log_level: Some("off".into()),
        kubeconfig: Some(env.kubeconfig_path().to_owned()),
        ..ManagerArgs::default()
    }
}

/// A controller that proves it can use the client, reports that it started
/// and runs until the manager tells it to stop.
fn reporting_controller(
    label: &'static str,
    started: mpsc::UnboundedSender<&'static str>,
) -> impl FnOnce(Context) -> std::pin::Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>
+ Send
+ 'static {
    move |ctx: Context| {
        Box::pin(async move {
            let namespaces: Api<Namespace> = Api::all(ctx.client());
            namespaces.list(&ListParams::default()).await?;
            let _ = started.send(label);
            ctx.shutdown_signal().await;
            Ok(())
        })
    }
}

async fn lease(env: &Environment, name: &str) -> Lease {
    Api::<Lease>::namespaced(env.client(), "default")
        .get(name)
        .await
        .unwrap()
}

fn renew_time(lease: &Lease) -> Option<Timestamp> {
    lease.spec.as_ref()?.renew_time.as_ref().map(|t| t.0)
}

fn holder(lease: &Lease) -> Option<String> {
    lease.spec.as_ref()?.holder_identity.clone()
}

#[tokio::test]
async fn serves_endpoints_with_a_real_client_and_stops_on_request() {
    let env = Environment::start().await.unwrap();
    let mut manager = Manager::new(args(&env, true), "endpoints.example.com")
        .await
        .unwrap();
    let (started_tx, mut started_rx) = mpsc::unbounded_channel();
    manager.add_controller("widgets", reporting_controller("widgets", started_tx));
    manager.bind().await.unwrap();
    let probes = manager.health_probe_addr().unwrap();
    let metrics = manager.metrics_addr().unwrap();

    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let run = tokio::spawn(manager.run_until(async {
        let _ = stop_rx.await;
    }));

    assert_eq!(
        within("controller start", started_rx.recv()).await,
        Some("widgets")
    );
    assert_eq!(get(probes, "/healthz").await, (200, "ok".to_owned()));
    assert_eq!(get(probes, "/readyz").await.0, 200);
    let (status, body) = get(metrics, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.contains(r#"leader_election_master_status{name="endpoints.example.com"} 1"#),
        "{body}"
    );
    assert!(holder(&lease(&env, "endpoints.example.com").await).is_some());

    stop_tx.send(()).unwrap();
    within("manager exit", run).await.unwrap().unwrap();
    // Released on the way out, so a successor need not wait for expiry.
    assert_eq!(holder(&lease(&env, "endpoints.example.com").await), None);
    assert!(std::net::TcpStream::connect(probes).is_err());
    env.stop().await;
}

#[tokio::test]
async fn only_the_leader_runs_controllers_and_a_follower_takes_over() {
    const LEASE: &str = "handover.example.com";
    let env = Environment::start().await.unwrap();
    let (started_tx, mut started_rx) = mpsc::unbounded_channel();

    let mut first = Manager::new(args(&env, true), LEASE).await.unwrap();
    first.add_controller("widgets", reporting_controller("first", started_tx.clone()));
    let (stop_first_tx, stop_first_rx) = oneshot::channel::<()>();
    let first_run = tokio::spawn(first.run_until(async {
        let _ = stop_first_rx.await;
    }));
    assert_eq!(
        within("first leader", started_rx.recv()).await,
        Some("first")
    );
    let first_holder = holder(&lease(&env, LEASE).await).expect("lease held");

    let mut second = Manager::new(args(&env, true), LEASE).await.unwrap();
    second.add_controller("widgets", reporting_controller("second", started_tx));
    let (stop_second_tx, stop_second_rx) = oneshot::channel::<()>();
    let second_run = tokio::spawn(second.run_until(async {
        let _ = stop_second_rx.await;
    }));

    // Let the leader renew three times while the follower competes: each renewal
    // outlives the lease duration the follower waits on, so a follower that
    // wrongly took over would have started its controller by then.
    let mut renewals = 0;
    let mut last = renew_time(&lease(&env, LEASE).await);
    within("three renewals by the leader", async {
        while renewals < 3 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let current = lease(&env, LEASE).await;
            assert_eq!(holder(&current).as_ref(), Some(&first_holder));
            let renewed = renew_time(&current);
            if renewed != last {
                renewals += 1;
                last = renewed;
            }
        }
    })
    .await;
    assert!(
        started_rx.try_recv().is_err(),
        "follower must not run controllers"
    );

    stop_first_tx.send(()).unwrap();
    within("first manager exit", first_run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(within("takeover", started_rx.recv()).await, Some("second"));
    let second_holder = holder(&lease(&env, LEASE).await).expect("lease held");
    assert_ne!(second_holder, first_holder);

    stop_second_tx.send(()).unwrap();
    within("second manager exit", second_run)
        .await
        .unwrap()
        .unwrap();
    env.stop().await;
}

#[tokio::test]
async fn losing_the_lease_stops_controllers_and_fails_run() {
    const LEASE: &str = "lost.example.com";
    let env = Environment::start().await.unwrap();
    let mut manager = Manager::new(args(&env, true), LEASE).await.unwrap();
    let (started_tx, mut started_rx) = mpsc::unbounded_channel();
    manager.add_controller("widgets", reporting_controller("widgets", started_tx));
    let (stopped_tx, stopped_rx) = oneshot::channel::<()>();
    manager.add_controller("watcher", move |ctx: Context| async move {
        ctx.shutdown_signal().await;
        let _ = stopped_tx.send(());
        Ok(())
    });
    let run = tokio::spawn(manager.run_until(std::future::pending()));
    assert_eq!(
        within("controller start", started_rx.recv()).await,
        Some("widgets")
    );

    // Another party takes the lease over, as a replica would after a network
    // partition.
    let intruder = serde_json::json!({
        "spec": {
            "holderIdentity": "intruder",
            "renewTime": MicroTime(Timestamp::now()),
            "acquireTime": MicroTime(Timestamp::now()),
            "leaseDurationSeconds": 3600,
        }
    });
    Api::<Lease>::namespaced(env.client(), "default")
        .patch(LEASE, &PatchParams::default(), &Patch::Merge(&intruder))
        .await
        .unwrap();

    let result = within("manager exit", run).await.unwrap();
    assert!(
        matches!(&result, Err(ManagerError::LeadershipLost(lease)) if lease == LEASE),
        "{result:?}"
    );
    within("controllers stopped", stopped_rx).await.unwrap();
    // The intruder keeps the lease: a manager that lost it must not release it.
    assert_eq!(
        holder(&lease(&env, LEASE).await).as_deref(),
        Some("intruder")
    );
    env.stop().await;
}

/// A controller told to stop before its first list is in: kube-runtime's
/// graceful shutdown alone would wait for that list forever (here until
/// --graceful-shutdown-timeout, and `run_until` would fail);
/// `shutdown_before_ready`, as generated controllers use it, ends it cleanly.
#[tokio::test]
async fn a_controller_stopped_before_its_first_list_ends_cleanly() {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::controller::{Action, Controller};
    use kube::runtime::watcher;
    use std::sync::Arc;

    async fn run(ctx: Context) -> anyhow::Result<()> {
        let controller = Controller::new(
            Api::<ConfigMap>::all(ctx.client()),
            watcher::Config::default(),
        );
        let not_started = ctx.shutdown_before_ready(controller.store());
        controller
            .graceful_shutdown_on(ctx.shutdown_signal())
            .run(
                |_, _| async { Ok::<_, kube::Error>(Action::await_change()) },
                |_, _, _| Action::await_change(),
                Arc::new(()),
            )
            .take_until(not_started)
            .for_each(|_| async {})
            .await;
        Ok(())
    }

    let env = Environment::start().await.unwrap();
    let mut manager = Manager::new(args(&env, false), "early.example.com")
        .await
        .unwrap();
    manager.add_controller("configmaps", run);
    // Shut down at once: the controller's first list cannot be in yet.
    within("manager exit", manager.run_until(std::future::ready(())))
        .await
        .expect("the manager stops without waiting out the timeout");
    env.stop().await;
}

/// The pattern generated controllers use: a kube-runtime `Controller` with
/// `graceful_shutdown_on(ctx.shutdown_signal())` and `metrics().measure`.
#[tokio::test]
async fn kube_runtime_controller_runs_and_stops_gracefully() {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{ObjectMeta, PostParams};
    use kube::runtime::controller::{Action, Controller};
    use kube::runtime::watcher;
    use kubeforge::manager::ControllerMetrics;
    use std::sync::Arc;

    struct State {
        metrics: ControllerMetrics,
        seen: mpsc::UnboundedSender<String>,
    }

    async fn reconcile(obj: Arc<ConfigMap>, state: Arc<State>) -> Result<Action, kube::Error> {
        state
            .metrics
            .measure(async {
                let _ = state
                    .seen
                    .send(obj.metadata.name.clone().unwrap_or_default());
                Ok(Action::await_change())
            })
            .await
    }

    fn error_policy(_obj: Arc<ConfigMap>, _error: &kube::Error, _state: Arc<State>) -> Action {
        Action::requeue(Duration::from_secs(1))
    }

    async fn run(ctx: Context, seen: mpsc::UnboundedSender<String>) -> anyhow::Result<()> {
        let api = Api::<ConfigMap>::namespaced(ctx.client(), "default");
        let state = Arc::new(State {
            metrics: ctx.metrics(),
            seen,
        });
        let controller = Controller::new(api, watcher::Config::default());
        let not_started = ctx.shutdown_before_ready(controller.store());
        controller
            .graceful_shutdown_on(ctx.shutdown_signal())
            .run(reconcile, error_policy, state)
            .take_until(not_started)
            .for_each(|_| async {})
            .await;
        Ok(())
    }

    let env = Environment::start().await.unwrap();
    let mut manager = Manager::new(args(&env, false), "runtime.example.com")
        .await
        .unwrap();
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
    manager.add_controller("configmaps", move |ctx| run(ctx, seen_tx));
    manager.bind().await.unwrap();
    let metrics = manager.metrics_addr().unwrap();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let run = tokio::spawn(manager.run_until(async {
        let _ = stop_rx.await;
    }));

    let config_map = ConfigMap {
        metadata: ObjectMeta {
            name: Some("reconcile-me".into()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    Api::<ConfigMap>::namespaced(env.client(), "default")
        .create(&PostParams::default(), &config_map)
        .await
        .unwrap();
    within("reconcile of the new ConfigMap", async {
        while let Some(name) = seen_rx.recv().await {
            if name == "reconcile-me" {
                return;
            }
        }
        panic!("controller stopped before reconciling");
    })
    .await;

    let (_, body) = get(metrics, "/metrics").await;
    assert!(
        body.contains(
            r#"controller_runtime_reconcile_total{controller="configmaps",result="success"}"#
        ),
        "{body}"
    );
    // controller-runtime's and client_golang's names, so dashboards built for
    // Go operators find them: the client's own requests (counted by the
    // middleware Manager::new puts in its client), the process, the runtime.
    for series in [
        r#"rest_client_requests_total{code="200",method="GET",host="127.0.0.1:"#,
        r#"controller_runtime_max_concurrent_reconciles{controller="configmaps"} "#,
        r#"controller_runtime_active_workers{controller="configmaps"} "#,
        r#"controller_runtime_reconcile_time_seconds_bucket{le="0.005",controller="configmaps"} "#,
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "tokio_runtime_alive_tasks ",
    ] {
        assert!(body.contains(series), "{series} missing from:\n{body}");
    }
    stop_tx.send(()).unwrap();
    within("manager exit", run).await.unwrap().unwrap();
    env.stop().await;
}
