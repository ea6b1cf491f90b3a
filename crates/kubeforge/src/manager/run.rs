//! [`Manager::run`] and [`Manager::run_until`]: the order a manager starts
//! and stops things in. Probes and metrics come up first, then the
//! controllers (after leader election, if enabled); at shutdown the
//! controllers drain, the Lease is released, and the HTTP servers (probes,
//! metrics, webhooks) stop last so probes, scrapes and admission requests
//! see the whole shutdown.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{error, info, warn};

use super::controllers::{RunningControllers, supervise};
use super::error::error_chain;
use super::http::{self, Health, Phase};
use super::leader_election::{LeaderElection, lease_timing};
use super::signals::os_shutdown_signal;
use super::{Manager, ManagerError};
use crate::tls;

/// How long the HTTP servers get to finish in-flight requests at shutdown.
const HTTP_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

impl Manager {
    /// Runs until SIGTERM or SIGINT, then shuts down gracefully. A second
    /// signal exits the process immediately (like controller-runtime).
    pub async fn run(self) -> Result<(), ManagerError> {
        self.run_until(async {
            os_shutdown_signal().await;
            info!("shutdown signal received; a second signal forces exit");
            tokio::spawn(async {
                os_shutdown_signal().await;
                error!("second shutdown signal received, exiting immediately");
                std::process::exit(1);
            });
        })
        .await
    }

    /// Runs until `shutdown` resolves, a controller fails, or leadership is
    /// lost; then stops the controllers (bounded by
    /// `--graceful-shutdown-timeout`), releases the Lease and stops the HTTP
    /// servers.
    ///
    /// Tests and embedders use it to decide themselves when to stop;
    /// [`Manager::run`] is this with the OS signals.
    pub async fn run_until<S>(mut self, shutdown: S) -> Result<(), ManagerError>
    where
        S: Future<Output = ()>,
    {
        if let Some(name) = self.duplicate.take() {
            return Err(ManagerError::DuplicateController(name));
        }
        let lease_timing = if self.args.leader_elect {
            Some(lease_timing(&self.args)?)
        } else {
            None
        };
        self.bind().await?;

        let mut health = Health::new();
        if let Some(webhooks) = &self.webhook_server {
            // Not ready before the webhook server can present a certificate
            // (self-managed ones are read from their Secret after start).
            health = health.require(webhooks.certificate_ready());
        }
        let health = Arc::new(health);
        let (http_stop, http_stop_rx) = watch::channel(false);
        let mut servers = self.spawn_http_servers(&health, &http_stop_rx);
        if let Some(webhooks) = self.webhook_server.take() {
            let stop = wait_until_true(http_stop_rx.clone());
            servers.push(tokio::spawn(async move {
                if let Err(error) = webhooks.serve(stop).await {
                    error!(error = %error_chain(&error), "webhook server failed");
                }
            }));
        }
        health.set(Phase::Running);

        let mut running = RunningControllers::new()
            .max_concurrent_reconciles(self.args.limits.max_concurrent_reconciles)
            .scopes(self.args.watch_namespace.scopes());
        let pending = std::mem::take(&mut self.controllers);
        let mut shutdown = pin!(shutdown);

        let result = match lease_timing {
            None => {
                running.start(pending, &self.client, &self.metrics);
                let outcome = supervise(&mut shutdown, &mut running).await;
                health.set(Phase::ShuttingDown);
                let stopped = running.stop(self.args.graceful_shutdown_timeout).await;
                outcome.and(stopped)
            }
            Some(timing) => {
                let election =
                    LeaderElection::new(&self.id, &self.args, timing, &self.client, &self.metrics);
                election
                    .run(&mut shutdown, &mut running, pending, &health)
                    .await
            }
        };

        let _ = http_stop.send(true);
        for server in servers {
            if tokio::time::timeout(HTTP_SHUTDOWN_TIMEOUT, server)
                .await
                .is_err()
            {
                warn!("HTTP server did not stop in time");
            }
        }
        match &result {
            Ok(()) => info!("manager stopped"),
            Err(error) => error!(error = %error_chain(error), "manager stopped with an error"),
        }
        result
    }

    /// Starts the probe and metrics servers on the bound listeners; they stop
    /// when `http_stop` turns `true`.
    fn spawn_http_servers(
        &mut self,
        health: &Arc<Health>,
        http_stop: &watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let registry = Arc::new(std::mem::take(&mut self.registry));
        let mut servers = Vec::new();
        if let Some((listener, addr)) = self.probe_listener.take() {
            info!(%addr, "serving health probes");
            servers.push(http::spawn_server(
                "health probe",
                listener,
                http::probe_router(health.clone()),
                wait_until_true(http_stop.clone()),
            ));
        }
        if let Some((listener, addr)) = self.metrics_listener.take() {
            let stop = wait_until_true(http_stop.clone());
            servers.push(match self.metrics_tls.take() {
                Some(config) => {
                    info!(%addr, "serving metrics over HTTPS to authorized callers");
                    let router = http::metrics_router(registry, Some(self.client.clone()));
                    let listener = tls::TlsListener::new("metrics", listener, addr, config);
                    http::spawn_server("metrics", listener, router, stop)
                }
                None => {
                    warn!(%addr, "serving metrics over plain HTTP without authentication");
                    http::spawn_server(
                        "metrics",
                        listener,
                        http::metrics_router(registry, None),
                        stop,
                    )
                }
            });
        }
        servers
    }
}

/// Resolves once `rx` holds `true` (or its sender is gone).
async fn wait_until_true(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}
