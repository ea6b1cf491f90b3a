//! The manager: what a generated operator's `main` hands its controllers to.
//!
//! It plays the role of controller-runtime's `manager.Manager` for kube-rs
//! controllers: one shared [`kube::Client`], a Prometheus registry served at
//! `/metrics`, `/healthz` and `/readyz` probes, optional leader election via a
//! `coordination.k8s.io` Lease, and graceful shutdown on SIGTERM/SIGINT. The
//! controllers themselves stay plain `kube::runtime::Controller`s; each gets a
//! [`Context`] with the client, its metrics and a shutdown signal.
//!
//! ```no_run
//! use clap::Parser;
//! use kubeforge::manager::{Context, Manager, ManagerArgs};
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     manager: ManagerArgs,
//! }
//!
//! async fn run_my_app(ctx: Context) -> anyhow::Result<()> {
//!     ctx.shutdown_signal().await; // a real controller runs kube's Controller here
//!     Ok(())
//! }
//!
//! # async fn doc() -> anyhow::Result<()> {
//! let cli = Cli::parse();
//! let mut manager = Manager::new(cli.manager, "myapp.example.com").await?;
//! manager.add_controller("myapp", run_my_app);
//! manager.run().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Where things are
//!
//! | Module | One job |
//! | --- | --- |
//! | `args` | [`ManagerArgs`]: the flags every generated `main` flattens in |
//! | `setup` | [`Manager`] before it runs: client, controllers, listeners |
//! | `run` | [`Manager::run_until`]: the order things start and stop in |
//! | `context` | [`Context`]: what each controller is handed |
//! | `scope` | [`Scope`], [`WatchNamespaces`]: the namespaces controllers watch (`--watch-namespace`) |
//! | `controllers` | spawning, supervising and stopping controller tasks |
//! | `limits` | [`LimitArgs`]: reconcile concurrency and the client's rate limit |
//! | `leader_election` | the Lease: acquire, renew, lose, release |
//! | `client` | the client configuration from `--kubeconfig` or the environment |
//! | `logging` | the tracing subscriber from `--log-level` / `--log-format` |
//! | `process` | [`runtime`]: tokio's runtime, built after limiting malloc's arenas |
//! | `signals` | SIGTERM / SIGINT |
//! | `error` | [`ManagerError`] |
//! | `http` | the `/healthz`, `/readyz` and `/metrics` servers (TLS shared with webhooks in `crate::tls`) |
//! | `metrics` | controller-runtime's series: reconcile metrics ([`ControllerMetrics`]), workers, the leader gauge |
//! | `rate_limit` | the client's token bucket per API resource (client-go's per-kind budgets) |
//! | `request_metrics` | `rest_client_requests_total`: a tower layer in the client |
//! | `process_metrics` | `process_*` and `tokio_runtime_*`, read on each scrape |
//! | `metrics_auth` | who may read `/metrics` (TokenReview + SubjectAccessReview) |

mod args;
mod client;
mod context;
mod controllers;
mod error;
mod http;
mod leader_election;
mod limits;
mod logging;
mod metrics;
mod metrics_auth;
mod process;
mod process_metrics;
mod rate_limit;
mod request_metrics;
mod run;
mod scope;
mod setup;
mod signals;

// The crates a generated `main` needs to call the manager, so an operator
// depends on `kubeforge` alone and always gets matching versions.
pub use anyhow;
pub use clap;
pub use prometheus_client;

pub use crate::tls::TlsError;
pub use args::{
    DEFAULT_WEBHOOK_CERT_SECRET, LogFormat, ManagerArgs, WebhookCertMode, parse_duration,
};
pub use context::Context;
pub use error::ManagerError;
pub(crate) use error::error_chain;
pub use limits::{
    DEFAULT_KUBE_API_BURST, DEFAULT_KUBE_API_QPS, DEFAULT_MAX_CONCURRENT_RECONCILES, LimitArgs,
};
pub use metrics::{ControllerMetrics, ReconcileResult};
pub use process::{MALLOC_ARENA_MAX_ENV, runtime};
pub use scope::{Scope, WatchNamespaces};
pub use setup::Manager;
