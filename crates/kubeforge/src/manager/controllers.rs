//! Controller supervision: spawning the added controllers as tasks, noticing
//! when one fails or panics, and stopping them all within
//! --graceful-shutdown-timeout.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use super::ManagerError;
use super::context::Context;
use super::metrics::ManagerMetrics;
use super::scope::Scope;

/// A controller as added with `Manager::add_controller`, type-erased so one
/// list holds controllers of different types until the manager starts them.
pub(super) type BoxedController =
    Box<dyn FnOnce(Context) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>> + Send>;

/// Waits for shutdown or a failing controller while not leader-elected.
pub(super) async fn supervise<S: Future<Output = ()>>(
    shutdown: &mut Pin<&mut S>,
    running: &mut RunningControllers,
) -> Result<(), ManagerError> {
    loop {
        tokio::select! {
            biased;
            () = shutdown.as_mut() => return Ok(()),
            exit = running.next_exit(), if !running.is_empty() => exit?,
        }
    }
}

/// The spawned controller tasks plus the sender of their shutdown signal.
pub(super) struct RunningControllers {
    tasks: JoinSet<anyhow::Result<()>>,
    names: HashMap<tokio::task::Id, String>,
    shutdown: watch::Sender<bool>,
    /// Handed to every controller's [`Context`]; see
    /// [`RunningControllers::max_concurrent_reconciles`].
    max_concurrent_reconciles: u16,
    /// Handed to every controller's [`Context`] (`--watch-namespace`).
    scopes: Arc<[Scope]>,
}

impl RunningControllers {
    pub(super) fn new() -> Self {
        RunningControllers {
            tasks: JoinSet::new(),
            names: HashMap::new(),
            shutdown: watch::channel(false).0,
            max_concurrent_reconciles: super::limits::DEFAULT_MAX_CONCURRENT_RECONCILES,
            scopes: Arc::from(vec![Scope::Cluster]),
        }
    }

    /// Sets the reconcile concurrency the controllers' [`Context`]s carry
    /// (`--max-concurrent-reconciles`; 0 means no limit).
    pub(super) fn max_concurrent_reconciles(mut self, limit: u16) -> Self {
        self.max_concurrent_reconciles = limit;
        self
    }

    /// Sets where the controllers' [`Context`]s say to watch.
    pub(super) fn scopes(mut self, scopes: Vec<Scope>) -> Self {
        self.scopes = Arc::from(scopes);
        self
    }

    pub(super) fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Spawns each controller with its own [`Context`].
    pub(super) fn start(
        &mut self,
        controllers: Vec<(String, BoxedController)>,
        client: &Client,
        metrics: &ManagerMetrics,
    ) {
        for (name, run) in controllers {
            let ctx = Context::new(
                &name,
                client.clone(),
                self.shutdown.subscribe(),
                metrics.for_controller(&name, self.max_concurrent_reconciles),
                self.max_concurrent_reconciles,
                self.scopes.clone(),
            );
            info!(controller = %name, "starting controller");
            let handle = self.tasks.spawn(run(ctx));
            self.names.insert(handle.id(), name);
        }
    }

    /// The next controller to finish: `Ok` if it returned `Ok`, else the
    /// error that should bring the manager down.
    pub(super) async fn next_exit(&mut self) -> Result<(), ManagerError> {
        let Some(joined) = self.tasks.join_next_with_id().await else {
            return std::future::pending().await;
        };
        self.exit_result(joined)
    }

    fn exit_result(
        &mut self,
        joined: Result<(tokio::task::Id, anyhow::Result<()>), tokio::task::JoinError>,
    ) -> Result<(), ManagerError> {
        match joined {
            Ok((id, Ok(()))) => {
                let name = self.names.remove(&id).unwrap_or_default();
                info!(controller = %name, "controller finished");
                Ok(())
            }
            Ok((id, Err(source))) => {
                let name = self.names.remove(&id).unwrap_or_default();
                error!(controller = %name, error = %format_args!("{source:#}"), "controller failed");
                Err(ManagerError::Controller {
                    name,
                    source: source.into(),
                })
            }
            Err(join_error) => {
                let name = self.names.remove(&join_error.id()).unwrap_or_default();
                if join_error.is_cancelled() {
                    warn!(controller = %name, "controller aborted");
                    Ok(())
                } else {
                    error!(controller = %name, "controller panicked");
                    Err(ManagerError::ControllerPanicked(name))
                }
            }
        }
    }

    /// Signals every controller and waits up to `timeout` for them, then
    /// aborts the stragglers. Returns the first controller error.
    pub(super) async fn stop(&mut self, timeout: Duration) -> Result<(), ManagerError> {
        self.shutdown.send_replace(true);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut first_error = None;
        while !self.tasks.is_empty() {
            match tokio::time::timeout_at(deadline, self.tasks.join_next_with_id()).await {
                Ok(Some(joined)) => {
                    if let Err(error) = self.exit_result(joined) {
                        first_error.get_or_insert(error);
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    let mut names: Vec<String> = self.names.values().cloned().collect();
                    names.sort();
                    warn!(controllers = ?names, ?timeout, "controllers did not stop in time; aborting them");
                    self.tasks.shutdown().await;
                    self.names.clear();
                    // As controller-runtime: a shutdown that had to cut work
                    // short is a failure, so the exit status says so.
                    first_error.get_or_insert(ManagerError::ShutdownTimeout {
                        controllers: names,
                        timeout,
                    });
                    break;
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
