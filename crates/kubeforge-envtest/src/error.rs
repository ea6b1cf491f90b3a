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
        "{binary} not found ({searched}); run `kubeforge envtest` to download or build the control-plane binaries, or set KUBEBUILDER_ASSETS to a setup-envtest directory"
    )]
    AssetsMissing {
        /// Which binary is missing (`kube-apiserver`, `etcd` or `kubectl`).
        binary: &'static str,
        /// Where it was looked for.
        searched: String,
    },

    /// `go` is not on PATH, so the binaries cannot be built.
    #[error(
        "Go is required to build the control-plane binaries (kube-apiserver, etcd, kubectl) and `go` is not on PATH; install Go 1.26+, let `kubeforge envtest --source download` download them, or set KUBEBUILDER_ASSETS to a directory holding them (e.g. from setup-envtest)"
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

    /// The release index or archive could not be fetched: the server was unreachable, answered
    /// with an error status, or its index does not list this version and platform. With
    /// [`crate::assets::Source::Auto`] this falls back to the Go build.
    #[error("envtest binaries not available from {url}: {reason}")]
    DownloadUnavailable {
        /// The index or archive URL.
        url: String,
        /// What went wrong.
        reason: String,
    },

    /// The index or archive was fetched but is unusable (not an index, a corrupt archive,
    /// an archive without the binaries). Never a reason to fall back: a mirror serving wrong
    /// bytes must be fixed, not silently bypassed.
    #[error("envtest download from {url} failed: {message}")]
    Download {
        /// The index or archive URL.
        url: String,
        /// What is wrong with what it served.
        message: String,
    },

    /// The downloaded archive's SHA-512 differs from the one the index lists; nothing was
    /// installed.
    #[error(
        "SHA-512 mismatch for {url}: the index says {expected}..., the download is {actual}...; nothing was installed (is the mirror serving the right file?)"
    )]
    HashMismatch {
        /// The archive URL.
        url: String,
        /// The first 16 hex digits of the hash the index lists.
        expected: String,
        /// The first 16 hex digits of the downloaded file's hash.
        actual: String,
    },

    /// Neither the download nor the Go build could provide the binaries.
    #[error(
        "cannot get the control-plane binaries: {download}; and Go is required to build them instead ({go}); set KUBEBUILDER_ASSETS to a directory holding kube-apiserver, etcd and kubectl, install Go 1.26+, or pass --index-url (KUBEFORGE_ENVTEST_INDEX_URL) pointing at a reachable mirror"
    )]
    NoBinarySource {
        /// Why the download failed.
        download: String,
        /// Why the Go build could not run.
        go: String,
    },

    /// A setting (environment variable) has a value outside what is allowed.
    #[error("{0}")]
    Config(String),

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
    #[cfg(feature = "client")]
    #[error("loading the generated kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),

    /// A Kubernetes API call made with kube failed (namespaces, RBAC, building clients).
    #[cfg(feature = "client")]
    #[error("{context}: {source}")]
    Kube {
        /// What was being done.
        context: String,
        /// The underlying error (match on `kube::Error::Api` for the HTTP status).
        #[source]
        source: kube::Error,
    },

    /// A request this crate makes itself (readiness, installing CRDs and webhook
    /// configurations) failed.
    #[error("{context}: {message}")]
    Api {
        /// What was being done.
        context: String,
        /// The HTTP status the API server answered with; `None` when there was no answer.
        code: Option<u16>,
        /// What went wrong: the status and the API server's message, or why nothing answered.
        message: String,
    },

    /// A CRD or webhook configuration given in code cannot be sent (it has no name, or does
    /// not encode), or the kubeconfig does not encode.
    #[error("{0}")]
    Object(String),

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

    #[cfg(feature = "client")]
    pub(crate) fn kube(context: impl Into<String>, source: kube::Error) -> Self {
        Error::Kube {
            context: context.into(),
            source,
        }
    }
}
