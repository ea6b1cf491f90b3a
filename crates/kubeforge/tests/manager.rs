//! Manager behaviour that needs no API server: HTTP endpoints, controller
//! lifecycle, shutdown and error propagation. The client points at a closed
//! port; nothing here talks to Kubernetes (leader election is off).

#![cfg(feature = "runtime")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kubeforge::manager::prometheus_client::metrics::counter::Counter;
use kubeforge::manager::{Context, Manager, ManagerArgs, ManagerError, ReconcileResult};
use std::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

mod support;
use support::get;

fn test_args() -> ManagerArgs {
    ManagerArgs {
        metrics_bind_address: "127.0.0.1:0".into(),
        // Plain HTTP keeps these tests about the manager; HTTPS and
        // authorization have their own (metrics_envtest.rs).
        metrics_secure: false,
        health_probe_bind_address: "127.0.0.1:0".into(),
        // Errors logged on purpose by these tests would only be noise.
        log_level: Some("off".into()),
        ..ManagerArgs::default()
    }
}

/// A client for an address where no API server listens: these tests must
/// not need one.
fn offline_client() -> kube::Client {
    let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
    kube::Client::try_from(config).unwrap()
}

#[tokio::test]
async fn serves_probes_and_metrics_then_shuts_down() {
    let mut manager =
        Manager::with_client(test_args(), "test.example.com", offline_client()).unwrap();

    let custom = Counter::<u64>::default();
    manager.registry_mut().register(
        "my_custom_events",
        "Events seen by the test",
        custom.clone(),
    );
    custom.inc_by(7);

    let (started_tx, mut started_rx) = mpsc::unbounded_channel::<Context>();
    let (stopped_tx, stopped_rx) = oneshot::channel::<bool>();
    manager.add_controller("widgets", move |ctx: Context| async move {
        ctx.metrics().record(
            ReconcileResult::Success,
            std::time::Duration::from_millis(2),
        );
        let _ = ctx.metrics().measure(async { Err::<(), _>("nope") }).await;
        started_tx.send(ctx.clone()).unwrap();
        ctx.shutdown_signal().await;
        let _ = stopped_tx.send(ctx.is_shutting_down());
        Ok(())
    });

    manager.bind().await.unwrap();
    let probes = manager.health_probe_addr().unwrap();
    let metrics = manager.metrics_addr().unwrap();
    assert_ne!(probes.port(), 0);
    assert_ne!(metrics.port(), 0);

    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let run = tokio::spawn(manager.run_until(async {
        let _ = shutdown_rx.await;
    }));

    let ctx = started_rx.recv().await.unwrap();
    assert_eq!(ctx.name(), "widgets");
    assert!(!ctx.is_shutting_down());

    assert_eq!(get(probes, "/healthz").await, (200, "ok".to_owned()));
    assert_eq!(get(probes, "/readyz").await.0, 200);
    assert_eq!(get(probes, "/nope").await.0, 404);

    let (status, body) = get(metrics, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.contains(
            r#"controller_runtime_reconcile_total{controller="widgets",result="success"} 1"#
        ),
        "{body}"
    );
    assert!(
        body.contains(
            r#"controller_runtime_reconcile_total{controller="widgets",result="error"} 1"#
        ),
        "{body}"
    );
    assert!(
        body.contains(r#"controller_runtime_reconcile_time_seconds_count{controller="widgets"} 2"#),
        "{body}"
    );
    assert!(body.contains("my_custom_events_total 7"), "{body}");

    shutdown_tx.send(()).unwrap();
    assert!(stopped_rx.await.unwrap(), "controller saw the shutdown");
    run.await.unwrap().unwrap();
    assert!(ctx.is_shutting_down());
    assert!(TcpStream::connect(probes).is_err(), "probe server stopped");
}

#[tokio::test]
async fn readyz_fails_while_shutting_down() {
    let mut manager =
        Manager::with_client(test_args(), "test.example.com", offline_client()).unwrap();
    let (draining_tx, draining_rx) = oneshot::channel::<()>();
    let (release_tx, release_rx) = oneshot::channel::<()>();
    manager.add_controller("slow", move |ctx: Context| async move {
        ctx.shutdown_signal().await;
        // Hold the shutdown open until the test has probed /readyz.
        let _ = draining_tx.send(());
        let _ = release_rx.await;
        Ok(())
    });
    manager.bind().await.unwrap();
    let probes = manager.health_probe_addr().unwrap();
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let run = tokio::spawn(manager.run_until(async {
        let _ = shutdown_rx.await;
    }));

    assert_eq!(get(probes, "/readyz").await.0, 200);
    shutdown_tx.send(()).unwrap();
    draining_rx.await.unwrap();
    assert_eq!(get(probes, "/readyz").await.0, 503);
    assert_eq!(get(probes, "/healthz").await.0, 200);
    release_tx.send(()).unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn failing_controller_stops_the_others_and_fails_run() {
    let mut manager =
        Manager::with_client(test_args(), "test.example.com", offline_client()).unwrap();
    let stopped = Arc::new(AtomicUsize::new(0));
    for name in ["steady-a", "steady-b"] {
        let stopped = stopped.clone();
        manager.add_controller(name, move |ctx: Context| async move {
            ctx.shutdown_signal().await;
            stopped.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
    }
    manager.add_controller("broken", |_ctx: Context| async {
        Err(anyhow::anyhow!("watch failed: forbidden"))
    });

    // Never asked to shut down: the failure alone must end the run.
    let result = manager.run_until(std::future::pending()).await;
    match result {
        Err(ManagerError::Controller { name, source }) => {
            assert_eq!(name, "broken");
            assert!(source.to_string().contains("forbidden"), "{source}");
        }
        other => panic!("expected a controller error, got {other:?}"),
    }
    assert_eq!(stopped.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn panicking_controller_fails_run() {
    let mut manager =
        Manager::with_client(test_args(), "test.example.com", offline_client()).unwrap();
    manager.add_controller("boom", |_ctx: Context| async {
        if std::hint::black_box(true) {
            panic!("controller bug");
        }
        Ok(())
    });
    let result = manager.run_until(std::future::pending()).await;
    assert!(
        matches!(&result, Err(ManagerError::ControllerPanicked(name)) if name == "boom"),
        "{result:?}"
    );
}

#[tokio::test]
async fn duplicate_controller_names_are_rejected() {
    let mut manager =
        Manager::with_client(test_args(), "test.example.com", offline_client()).unwrap();
    manager
        .add_controller("same", |_ctx: Context| async { Ok(()) })
        .add_controller("same", |_ctx: Context| async { Ok(()) });
    let result = manager.run_until(async {}).await;
    assert!(
        matches!(&result, Err(ManagerError::DuplicateController(name)) if name == "same"),
        "{result:?}"
    );
}

#[tokio::test]
async fn disabled_endpoints_bind_nothing() {
    let args = ManagerArgs {
        metrics_bind_address: "0".into(),
        health_probe_bind_address: "0".into(),
        ..ManagerArgs::default()
    };
    let mut manager = Manager::with_client(args, "test.example.com", offline_client()).unwrap();
    manager.bind().await.unwrap();
    assert_eq!(manager.metrics_addr(), None);
    assert_eq!(manager.health_probe_addr(), None);
    manager.run_until(async {}).await.unwrap();
}

#[tokio::test]
async fn taken_port_is_reported_with_its_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let args = ManagerArgs {
        health_probe_bind_address: address.clone(),
        ..test_args()
    };
    let manager = Manager::with_client(args, "test.example.com", offline_client()).unwrap();
    let error = manager.run_until(async {}).await.unwrap_err();
    assert!(matches!(error, ManagerError::Bind { .. }), "{error:?}");
    assert!(error.to_string().contains(&address), "{error}");
}

#[tokio::test]
async fn invalid_log_filter_is_rejected() {
    let args = ManagerArgs {
        log_level: Some("info,[[[".into()),
        ..test_args()
    };
    let error = Manager::with_client(args, "test.example.com", offline_client()).unwrap_err();
    assert!(matches!(error, ManagerError::LogFilter { .. }), "{error:?}");
}

#[tokio::test]
async fn kubeconfig_errors_name_the_path() {
    let args = ManagerArgs {
        kubeconfig: Some("/nonexistent/kubeforge/kubeconfig".into()),
        ..test_args()
    };
    let error = Manager::new(args, "test.example.com").await.unwrap_err();
    assert!(
        matches!(error, ManagerError::Kubeconfig { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("/nonexistent/kubeforge/kubeconfig"),
        "{error}"
    );
}
