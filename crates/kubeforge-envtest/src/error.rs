//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while finding/building binaries or running a control plane.
///
/// Messages are single lines on purpose: they end up in test failure output and CLI errors,
/// where a wall of text hides the actionable part.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A control-plane binary could not be found.
    #[error(
        "{binary} not found ({searched}); run `kubeforge envtest` to build the control-plane binaries, or set KUBEBUILDER_ASSETS to a setup-envtest directory"
    )]
    AssetsMissing {
        /// Which binary is missing (`kube-apiserver`, `etcd` or `kubectl`).
        binary: &'static str,
        /// Where it was looked for.
        searched: String,
    },

    /// `go` is not on PATH, so the binaries cannot be built.
    #[error(
        "Go is required to build the control-plane binaries (kube-apiserver, etcd, kubectl); install Go 1.26+ or set KUBEBUILDER_ASSETS to a directory holding them (e.g. from setup-envtest)"
    )]
    GoMissing,

    /// `go build` ran but failed.
    #[error("go build of the control-plane binaries failed ({status}): {output}")]
    GoBuild {
        /// Exit status of `go build`.
        status: String,
        /// The last lines of its output.
        output: String,
    },

    /// Neither HOME nor XDG_DATA_HOME is set, so there is no store directory.
    #[error("cannot locate the envtest store: neither XDG_DATA_HOME nor HOME is set")]
    NoStoreDir,

    /// A filesystem or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Generating certificates or keys failed.
    #[error("generating certificates: {0}")]
    Certificate(#[from] rcgen::Error),

    /// The generated kubeconfig could not be loaded by kube.
    #[error("loading the generated kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),

    /// A Kubernetes API call failed.
    #[error("{context}: {source}")]
    Kube {
        /// What was being done.
        context: String,
        /// The underlying error (match on `kube::Error::Api` for the HTTP status).
        #[source]
        source: kube::Error,
    },

    /// etcd or kube-apiserver exited or did not become ready in time.
    #[error("{0}")]
    Start(String),

    /// A manifest file (CRD directory or role.yaml) could not be read or parsed.
    #[error("{path}: {message}", path = path.display())]
    Manifest {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// The webhook install options do not fit the environment (e.g. conversion asked for
    /// a CRD that is not installed).
    #[error("{0}")]
    Webhook(String),

    /// Something did not happen within its deadline (CRD establishment, RBAC propagation).
    #[error("timed out: {0}")]
    Timeout(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn kube(context: impl Into<String>, source: kube::Error) -> Self {
        Error::Kube {
            context: context.into(),
            source,
        }
    }
}
