//! [`Context`]: what the manager hands each controller when it starts it.

use std::future::Future;
use std::sync::Arc;

use kube::Client;
use tokio::sync::watch;

use super::{ControllerMetrics, Scope};

/// What every controller receives: the shared client, its own metrics and
/// the manager's shutdown signal. Cheap to clone.
///
/// Controllers get these through one value rather than globals so that two
/// managers in one process (tests) never share state, and so a controller
/// can be started by anything that builds a `Context`, not only `main`.
#[derive(Clone)]
pub struct Context {
    name: Arc<str>,
    client: Client,
    shutdown: watch::Receiver<bool>,
    metrics: ControllerMetrics,
    max_concurrent_reconciles: u16,
    scopes: Arc<[Scope]>,
}

impl Context {
    /// The context of controller `name`, stopping when `shutdown` turns
    /// `true` (or its sender is dropped), allowed `max_concurrent_reconciles`
    /// reconciles at once (0: no limit), watching `scopes`.
    pub(super) fn new(
        name: &str,
        client: Client,
        shutdown: watch::Receiver<bool>,
        metrics: ControllerMetrics,
        max_concurrent_reconciles: u16,
        scopes: Arc<[Scope]>,
    ) -> Self {
        Context {
            name: Arc::from(name),
            client,
            shutdown,
            metrics,
            max_concurrent_reconciles,
            scopes,
        }
    }

    /// Where this controller watches: `[Scope::Cluster]`, or one
    /// [`Scope::Namespace`] per namespace in `--watch-namespace`.
    pub fn scopes(&self) -> &[Scope] {
        &self.scopes
    }

    /// Runs `run` once per [`Context::scopes`] entry, concurrently, and
    /// returns when all have returned; the first error ends the others and
    /// is returned (the manager then shuts down, as for any failing
    /// controller).
    ///
    /// This is how a scaffolded controller honours `--watch-namespace`:
    ///
    /// ```ignore
    /// pub async fn run(ctx: Context) -> anyhow::Result<()> {
    ///     ctx.for_each_scope(|scope| run_in(ctx.clone(), scope)).await
    /// }
    /// ```
    pub async fn for_each_scope<F, Fut>(&self, run: F) -> anyhow::Result<()>
    where
        F: FnMut(Scope) -> Fut,
        Fut: Future<Output = anyhow::Result<()>>,
    {
        futures::future::try_join_all(self.scopes.iter().cloned().map(run)).await?;
        Ok(())
    }

    /// The name the controller was added under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The manager's Kubernetes client (clones share one connection pool).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// This controller's reconcile metrics.
    pub fn metrics(&self) -> ControllerMetrics {
        self.metrics.clone()
    }

    /// How many reconciles this controller may run at once
    /// (`--max-concurrent-reconciles`; 0 means no limit).
    pub fn max_concurrent_reconciles(&self) -> u16 {
        self.max_concurrent_reconciles
    }

    /// kube-runtime's controller configuration for this controller: pass it
    /// to `Controller::with_config` (as [`crate::lean::controller`] does) so
    /// a burst of objects is reconciled a few at a time, not all at once.
    ///
    /// Override it per controller by building your own, e.g.
    /// `ctx.controller_config().concurrency(1)` for a controller whose
    /// reconciles must not overlap.
    pub fn controller_config(&self) -> kube::runtime::controller::Config {
        kube::runtime::controller::Config::default().concurrency(self.max_concurrent_reconciles)
    }

    /// Resolves once the manager is shutting down (or leadership was lost).
    ///
    /// Pass it to `Controller::graceful_shutdown_on` so in-flight
    /// reconciliations finish before the controller stream ends.
    pub fn shutdown_signal(&self) -> impl Future<Output = ()> + Send + Sync + 'static {
        let mut shutdown = self.shutdown.clone();
        async move {
            // An error means the manager is gone, which is a shutdown too.
            let _ = shutdown.wait_for(|stopping| *stopping).await;
        }
    }

    /// Resolves at shutdown only if the controller owning `store`
    /// (`Controller::store()`) has not finished its first list by then.
    ///
    /// kube-runtime starts reconciling only once that list is in, and its
    /// graceful shutdown stops the watches that would deliver it, so a
    /// controller told to stop in its first moments waits forever (here:
    /// until --graceful-shutdown-timeout, then the manager fails). End the
    /// controller's stream with it; nothing was reconciled yet, so nothing is
    /// cut short:
    ///
    /// ```ignore
    /// let controller = Controller::new(api, watcher::Config::default());
    /// let not_started = ctx.shutdown_before_ready(controller.store());
    /// controller
    ///     .graceful_shutdown_on(ctx.shutdown_signal())
    ///     .run(reconcile, error_policy, state)
    ///     .take_until(not_started)
    /// ```
    pub fn shutdown_before_ready<K>(
        &self,
        store: kube::runtime::reflector::Store<K>,
    ) -> impl Future<Output = ()> + Send + Sync + 'static
    where
        K: kube::runtime::reflector::Lookup + Clone + Send + Sync + 'static,
        K::DynamicType: Eq + std::hash::Hash + Clone + Send + Sync,
    {
        use futures::FutureExt as _;
        let shutdown = self.shutdown_signal();
        async move {
            shutdown.await;
            // Checked in the same poll that ends the stream, so no reconcile
            // can start in between.
            if store.wait_until_ready().now_or_never().is_none() {
                return;
            }
            std::future::pending::<()>().await;
        }
    }

    /// Whether shutdown has begun; for loops that poll instead of awaiting
    /// [`Context::shutdown_signal`].
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow() || self.shutdown.has_changed().is_err()
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("name", &self.name)
            .field("max_concurrent_reconciles", &self.max_concurrent_reconciles)
            .field("scopes", &self.scopes)
            .field("shutting_down", &self.is_shutting_down())
            .finish_non_exhaustive()
    }
}
