//! Per-controller reconcile metrics, named like controller-runtime's
//! (`controller_runtime_reconcile_total` → `kubeforge_reconcile_total`) so
//! existing dashboards translate with a prefix change.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// Outcome label of `kubeforge_reconcile_total`.
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

fn duration_histogram() -> Histogram {
    // 5 ms .. ~82 s: reconcilers range from cache-only checks to slow cloud APIs.
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

/// The metric families the manager owns, registered once and shared by
/// every controller through [`ControllerMetrics`].
#[derive(Clone)]
pub(crate) struct ManagerMetrics {
    reconcile_total: Family<ResultLabels, Counter>,
    reconcile_duration: Family<ControllerLabels, Histogram, fn() -> Histogram>,
    leader: Family<LeaseLabels, Gauge>,
}

impl ManagerMetrics {
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let metrics = ManagerMetrics {
            reconcile_total: Family::default(),
            reconcile_duration: Family::new_with_constructor(duration_histogram),
            leader: Family::default(),
        };
        registry.register(
            "kubeforge_reconcile",
            "Total number of reconciliations per controller and result",
            metrics.reconcile_total.clone(),
        );
        registry.register_with_unit(
            "kubeforge_reconcile_duration",
            "Length of time per reconciliation per controller",
            Unit::Seconds,
            metrics.reconcile_duration.clone(),
        );
        registry.register(
            "kubeforge_leader_election_status",
            "1 while this instance holds the leader-election lease, else 0",
            metrics.leader.clone(),
        );
        metrics
    }

    pub(crate) fn for_controller(&self, controller: &str) -> ControllerMetrics {
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

    /// Records one reconciliation and how long it took; for reconcilers that
    /// time themselves, otherwise prefer [`ControllerMetrics::measure`].
    pub fn record(&self, result: ReconcileResult, duration: Duration) {
        self.families
            .reconcile_total
            .get_or_create(&ResultLabels {
                controller: self.controller.to_string(),
                result,
            })
            .inc();
        self.families
            .reconcile_duration
            .get_or_create(&ControllerLabels {
                controller: self.controller.to_string(),
            })
            .observe(duration.as_secs_f64());
    }

    /// Runs a reconcile future, recording its duration and whether it
    /// returned `Ok` or `Err`. Wrap the body of a reconciler in it:
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
        let app = metrics.for_controller("myapp");
        let other = metrics.for_controller("other");

        let ok: Result<(), ()> = app.measure(async { Ok(()) }).await;
        assert!(ok.is_ok());
        let err: Result<(), &str> = app.measure(async { Err("boom") }).await;
        assert_eq!(err, Err("boom"));
        app.record(ReconcileResult::Success, Duration::from_millis(3));
        other.record(ReconcileResult::Error, Duration::from_secs(1));

        let text = exposition(&registry);
        assert!(
            text.contains(r#"kubeforge_reconcile_total{controller="myapp",result="success"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"kubeforge_reconcile_total{controller="myapp",result="error"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"kubeforge_reconcile_total{controller="other",result="error"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"kubeforge_reconcile_duration_seconds_count{controller="myapp"} 3"#),
            "{text}"
        );
        assert!(
            text.contains(r#"kubeforge_reconcile_duration_seconds_count{controller="other"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn leader_gauge_follows_leadership() {
        let mut registry = Registry::default();
        let metrics = ManagerMetrics::register(&mut registry);
        metrics.set_leader("myapp.example.com", true);
        assert!(
            exposition(&registry)
                .contains(r#"kubeforge_leader_election_status{name="myapp.example.com"} 1"#)
        );
        metrics.set_leader("myapp.example.com", false);
        assert!(
            exposition(&registry)
                .contains(r#"kubeforge_leader_election_status{name="myapp.example.com"} 0"#)
        );
    }
}
