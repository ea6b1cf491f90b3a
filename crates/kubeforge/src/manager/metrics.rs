//! The manager's metrics, under controller-runtime's names and labels
//! (`controller_runtime_reconcile_total{controller,result}` and friends), so
//! the Grafana dashboards and alerts people run for Go operators work on a
//! kubeforge operator unchanged. What each series means is in
//! docs/manager.md; the process, runtime and API-request series are in
//! [`super::process_metrics`] and [`super::request_metrics`].

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Outcome label of `controller_runtime_reconcile_total`.
///
/// An enum rather than a free string so the label keeps controller-runtime's
/// two values: dashboards and alerts written for Go operators keep working,
/// and a typo cannot create a new time series.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum ReconcileResult {
    /// The reconciler returned `Ok`.
    Success,
    /// The reconciler returned `Err`.
    Error,
}

impl ReconcileResult {
    /// The label value: `"success"` or `"error"`, as in controller-runtime.
    pub fn as_str(self) -> &'static str {
        match self {
            ReconcileResult::Success => "success",
            ReconcileResult::Error => "error",
        }
    }
}

impl EncodeLabelValue for ReconcileResult {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    controller: String,
    result: ReconcileResult,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LeaseLabels {
    name: String,
}

/// controller-runtime's buckets for `controller_runtime_reconcile_time_seconds`
/// (5 ms to 60 s): the same `le` values, so a dashboard's
/// `histogram_quantile` over a Go operator and a kubeforge one agree.
const RECONCILE_TIME_BUCKETS: [f64; 40] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
    1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0,
    25.0, 30.0, 40.0, 50.0, 60.0,
];

fn reconcile_time_histogram() -> Histogram {
    Histogram::new(RECONCILE_TIME_BUCKETS)
}

/// The metric families the manager owns, registered once and shared by
/// every controller through [`ControllerMetrics`].
#[derive(Clone)]
pub(crate) struct ManagerMetrics {
    reconcile_total: Family<ResultLabels, Counter>,
    reconcile_errors: Family<ControllerLabels, Counter>,
    reconcile_time: Family<ControllerLabels, Histogram, fn() -> Histogram>,
    max_concurrent_reconciles: Family<ControllerLabels, Gauge>,
    active_workers: Family<ControllerLabels, Gauge>,
    leader: Family<LeaseLabels, Gauge>,
    /// `rest_client_requests_total`, counted by the client's middleware.
    pub(crate) requests: super::request_metrics::RequestFamily,
}

impl ManagerMetrics {
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let metrics = ManagerMetrics {
            reconcile_total: Family::default(),
            reconcile_errors: Family::default(),
            reconcile_time: Family::new_with_constructor(reconcile_time_histogram),
            max_concurrent_reconciles: Family::default(),
            active_workers: Family::default(),
            leader: Family::default(),
            requests: Family::default(),
        };
        registry.register(
            "controller_runtime_reconcile",
            "Total number of reconciliations per controller",
            metrics.reconcile_total.clone(),
        );
        registry.register(
            "controller_runtime_reconcile_errors",
            "Total number of reconciliation errors per controller",
            metrics.reconcile_errors.clone(),
        );
        registry.register_with_unit(
            "controller_runtime_reconcile_time",
            "Length of time per reconciliation per controller",
            Unit::Seconds,
            metrics.reconcile_time.clone(),
        );
        registry.register(
            "controller_runtime_max_concurrent_reconciles",
            "Maximum number of concurrent reconciles per controller (0: no limit)",
            metrics.max_concurrent_reconciles.clone(),
        );
        registry.register(
            "controller_runtime_active_workers",
            "Number of currently used workers (reconciles in flight) per controller",
            metrics.active_workers.clone(),
        );
        registry.register(
            "leader_election_master_status",
            "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease.",
            metrics.leader.clone(),
        );
        registry.register(
            "rest_client_requests",
            "Number of HTTP requests to the API server, partitioned by status code, method, and host",
            metrics.requests.clone(),
        );
        super::process_metrics::register(registry);
        metrics
    }

    /// The metrics of controller `controller`, which runs at most
    /// `max_concurrent_reconciles` reconciles at once (0: no limit).
    pub(crate) fn for_controller(
        &self,
        controller: &str,
        max_concurrent_reconciles: u16,
    ) -> ControllerMetrics {
        let labels = ControllerLabels {
            controller: controller.to_owned(),
        };
        self.max_concurrent_reconciles
            .get_or_create(&labels)
            .set(i64::from(max_concurrent_reconciles));
        // Present from the start, as in controller-runtime, so a dashboard
        // shows 0 rather than no data before the first reconcile.
        self.active_workers.get_or_create(&labels).set(0);
        drop(self.reconcile_errors.get_or_create(&labels));
        ControllerMetrics {
            controller: Arc::from(controller),
            families: self.clone(),
        }
    }

    pub(crate) fn set_leader(&self, lease: &str, leader: bool) {
        self.leader
            .get_or_create(&LeaseLabels {
                name: lease.to_owned(),
            })
            .set(i64::from(leader));
    }
}

/// Reconcile metrics of one controller, obtained from
/// [`Context::metrics`](super::Context::metrics).
///
/// Cheap to clone: keep one in the reconciler's state.
#[derive(Clone)]
pub struct ControllerMetrics {
    controller: Arc<str>,
    families: ManagerMetrics,
}

impl ControllerMetrics {
    /// The controller name used as the `controller` label.
    pub fn controller(&self) -> &str {
        &self.controller
    }

    fn labels(&self) -> ControllerLabels {
        ControllerLabels {
            controller: self.controller.to_string(),
        }
    }

    /// Records one reconciliation and how long it took; for reconcilers that
    /// time themselves, otherwise prefer [`ControllerMetrics::measure`].
    pub fn record(&self, result: ReconcileResult, duration: Duration) {
        let labels = self.labels();
        self.families
            .reconcile_total
            .get_or_create(&ResultLabels {
                controller: labels.controller.clone(),
                result,
            })
            .inc();
        if result == ReconcileResult::Error {
            self.families.reconcile_errors.get_or_create(&labels).inc();
        }
        self.families
            .reconcile_time
            .get_or_create(&labels)
            .observe(duration.as_secs_f64());
    }

    /// Runs a reconcile future, recording its duration and whether it
    /// returned `Ok` or `Err`, and counting it in
    /// `controller_runtime_active_workers` while it runs. Wrap the body of a
    /// reconciler in it:
    ///
    /// ```no_run
    /// # async fn example(metrics: kubeforge::manager::ControllerMetrics) {
    /// // in a reconciler: `state.metrics.measure(async { ... }).await`
    /// let outcome: Result<u32, std::io::Error> = metrics.measure(async { Ok(42) }).await;
    /// # let _ = outcome;
    /// # }
    /// ```
    pub async fn measure<F, T, E>(&self, reconcile: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        let _active = ActiveWorker::start(self.families.active_workers.clone(), self.labels());
        let start = Instant::now();
        let result = reconcile.await;
        let outcome = if result.is_ok() {
            ReconcileResult::Success
        } else {
            ReconcileResult::Error
        };
        self.record(outcome, start.elapsed());
        result
    }
}

/// One reconcile in flight: counted in `controller_runtime_active_workers`
/// until dropped, so a reconcile cut short (shutdown aborts it) is not
/// counted forever.
struct ActiveWorker {
    family: Family<ControllerLabels, Gauge>,
    labels: ControllerLabels,
}

impl ActiveWorker {
    fn start(family: Family<ControllerLabels, Gauge>, labels: ControllerLabels) -> Self {
        family.get_or_create(&labels).inc();
        ActiveWorker { family, labels }
    }
}

impl Drop for ActiveWorker {
    fn drop(&mut self) {
        self.family.get_or_create(&self.labels).dec();
    }
}

impl std::fmt::Debug for ControllerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerMetrics")
            .field("controller", &self.controller)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exposition(registry: &Registry) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, registry).unwrap();
        out
    }

    #[tokio::test]
    async fn records_results_per_controller() {
        let mut registry = Registry::default();
        let metrics = ManagerMetrics::register(&mut registry);
        let app = metrics.for_controller("myapp", 4);
        let other = metrics.for_controller("other", 0);

        let ok: Result<(), ()> = app.measure(async { Ok(()) }).await;
        assert!(ok.is_ok());
        let err: Result<(), &str> = app.measure(async { Err("boom") }).await;
        assert_eq!(err, Err("boom"));
        app.record(ReconcileResult::Success, Duration::from_millis(3));
        other.record(ReconcileResult::Error, Duration::from_secs(1));

        let text = exposition(&registry);
        assert!(
            text.contains(
                r#"controller_runtime_reconcile_total{controller="myapp",result="success"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"controller_runtime_reconcile_total{controller="myapp",result="error"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"controller_runtime_reconcile_total{controller="other",result="error"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"controller_runtime_reconcile_time_seconds_count{controller="myapp"} 3"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"controller_runtime_reconcile_time_seconds_count{controller="other"} 1"#
            ),
            "{text}"
        );
        for expected in [
            r#"controller_runtime_reconcile_errors_total{controller="myapp"} 1"#,
            r#"controller_runtime_reconcile_errors_total{controller="other"} 1"#,
            r#"controller_runtime_max_concurrent_reconciles{controller="myapp"} 4"#,
            r#"controller_runtime_max_concurrent_reconciles{controller="other"} 0"#,
            r#"controller_runtime_active_workers{controller="myapp"} 0"#,
            // controller-runtime's bucket bounds, so dashboards' quantiles agree.
            r#"controller_runtime_reconcile_time_seconds_bucket{le="0.005",controller="myapp"} 3"#,
            r#"controller_runtime_reconcile_time_seconds_bucket{le="60.0",controller="other"} 1"#,
        ] {
            assert!(text.contains(expected), "{expected} missing from:\n{text}");
        }
    }

    #[tokio::test]
    async fn active_workers_count_reconciles_in_flight() {
        let mut registry = Registry::default();
        let metrics = ManagerMetrics::register(&mut registry);
        let app = metrics.for_controller("myapp", 4);
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn({
            let app = app.clone();
            async move {
                app.measure(async {
                    started_tx.send(()).unwrap();
                    finish_rx.await.unwrap();
                    Ok::<_, ()>(())
                })
                .await
            }
        });
        started_rx.await.unwrap();
        let active = r#"controller_runtime_active_workers{controller="myapp"}"#;
        assert!(exposition(&registry).contains(&format!("{active} 1")));
        finish_tx.send(()).unwrap();
        running.await.unwrap().unwrap();
        assert!(exposition(&registry).contains(&format!("{active} 0")));

        // A reconcile cut short (the task aborted at shutdown) is no longer counted.
        let aborted = tokio::spawn({
            let app = app.clone();
            async move { app.measure(std::future::pending::<Result<(), ()>>()).await }
        });
        for _ in 0..100 {
            if exposition(&registry).contains(&format!("{active} 1")) {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(exposition(&registry).contains(&format!("{active} 1")));
        aborted.abort();
        let _ = aborted.await;
        assert!(exposition(&registry).contains(&format!("{active} 0")));
    }

    #[test]
    fn leader_gauge_follows_leadership() {
        let mut registry = Registry::default();
        let metrics = ManagerMetrics::register(&mut registry);
        metrics.set_leader("myapp.example.com", true);
        assert!(
            exposition(&registry)
                .contains(r#"leader_election_master_status{name="myapp.example.com"} 1"#)
        );
        metrics.set_leader("myapp.example.com", false);
        assert!(
            exposition(&registry)
                .contains(r#"leader_election_master_status{name="myapp.example.com"} 0"#)
        );
    }
}
