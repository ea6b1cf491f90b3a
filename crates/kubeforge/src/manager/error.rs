//! [`ManagerError`], every way a manager can fail, and [`error_chain`] to log
//! one on a single line.

use std::path::PathBuf;
use std::time::Duration;

use kube_lease_manager::LeaseManagerError;

use super::TlsError;

/// Everything that can stop a manager from starting or make it exit.
///
/// One enum for the whole manager so a generated `main` can report any
/// failure with `?` and the process exit status says the manager failed; the
/// variants keep their causes as `source` so nothing is lost in the message.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// `--log-level` (or `RUST_LOG`) is not a valid tracing filter.
    #[error("invalid log filter {filter:?}")]
    LogFilter {
        /// The rejected filter.
        filter: String,
        /// Why it was rejected.
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// `--kubeconfig` could not be read or used.
    #[error("cannot load kubeconfig {}", path.display())]
    Kubeconfig {
        /// The path given with `--kubeconfig`.
        path: PathBuf,
        /// Why loading failed.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// Neither a kubeconfig nor an in-cluster configuration was found.
    #[error("cannot find a Kubernetes configuration (KUBECONFIG, ~/.kube/config or in-cluster)")]
    InferConfig(#[source] kube::config::InferConfigError),
    /// The Kubernetes client could not be built from the configuration.
    #[error("cannot build the Kubernetes client")]
    Client(#[source] kube::Error),
    /// The webhook server could not start (no certificate, port in use, a
    /// registration mistake).
    #[error("cannot start the webhook server")]
    Webhook(#[source] crate::webhook::WebhookError),
    /// A metrics or probe listener could not bind.
    #[error("cannot bind the {what} server to {address}")]
    Bind {
        /// Which server ("metrics" or "health probe").
        what: &'static str,
        /// The address from the flag.
        address: String,
        /// The bind error.
        #[source]
        source: std::io::Error,
    },
    /// Controllers were still running when --graceful-shutdown-timeout ran
    /// out, and were aborted.
    #[error(
        "controllers {controllers:?} did not stop within {timeout:?} of shutdown and were aborted"
    )]
    ShutdownTimeout {
        /// The aborted controllers, sorted.
        controllers: Vec<String>,
        /// --graceful-shutdown-timeout.
        timeout: Duration,
    },
    /// The metrics server's certificate could not be loaded or generated.
    #[error("cannot set up TLS for the metrics server")]
    MetricsTls(#[source] TlsError),
    /// The lease duration / renew grace combination is unusable.
    #[error("invalid leader election settings: {0}")]
    LeaderElectionConfig(String),
    /// The leader-election Lease could not be created or read.
    #[error("leader election with Lease {namespace}/{lease} failed")]
    LeaderElection {
        /// Lease name (the id passed to [`Manager::new`](super::Manager::new)).
        lease: String,
        /// Lease namespace.
        namespace: String,
        /// The underlying error.
        #[source]
        source: LeaseManagerError,
    },
    /// Another instance took the Lease over, or it could not be renewed in
    /// time. The manager exits so the pod restarts as a follower, exactly as
    /// controller-runtime does, rather than risk two active leaders.
    #[error("lost leadership of Lease {0}")]
    LeadershipLost(String),
    /// Two controllers were added under the same name, which would merge
    /// their metrics and logs.
    #[error("controller {0:?} was added more than once")]
    DuplicateController(String),
    /// A controller returned an error.
    #[error("controller {name:?} failed")]
    Controller {
        /// The controller's name.
        name: String,
        /// The error it returned.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A controller task panicked.
    #[error("controller {0:?} panicked")]
    ControllerPanicked(String),
}

/// "outer: inner: innermost", because log lines show only `Display`.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chain_includes_sources() {
        let error = ManagerError::Bind {
            what: "metrics",
            address: "1.2.3.4:5".into(),
            source: std::io::Error::other("address in use"),
        };
        assert_eq!(
            error_chain(&error),
            "cannot bind the metrics server to 1.2.3.4:5: address in use"
        );
    }
}
