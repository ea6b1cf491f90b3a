//! A real local Kubernetes control plane (etcd + kube-apiserver) for tests and
//! `kubeforge run`: the Rust counterpart of controller-runtime's envtest.
//!
//! A mock API server accepts whatever a controller sends; a real one applies CRD schemas,
//! defaulting, RBAC, resource versions and watch semantics, so tests against it fail where
//! production would.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kubeforge_envtest::Error> {
//! use kubeforge_envtest::Environment;
//! let env = Environment::builder().crd_dir("config/crd/bases").start().await?;
//! # #[cfg(feature = "client")] {
//! let admin = env.client();
//! // Acts as the operator's ServiceAccount with exactly its generated RBAC:
//! let sa = env
//!     .service_account_client("default", "controller-manager", "config/rbac/role.yaml".as_ref())
//!     .await?;
//! # let _ = (admin, sa);
//! # }
//! env.stop().await;
//! # Ok(()) }
//! ```
//!
//! Starting etcd and kube-apiserver takes seconds, so a test binary can share one control
//! plane among its tests: [`EnvironmentBuilder::start_shared`] hands each test a handle with
//! its own client and namespace (`Environment::namespace`), and `stop()` deletes that
//! namespace; the plane stops when the test process exits. `start()` gives a test a plane of
//! its own, for API server restarts or cluster-scoped state it must not share.
//!
//! Admission and conversion webhooks can be installed pointing at a webhook server the test
//! runs itself: see [`WebhookInstall`] and [`Environment::webhook_server`].
//!
//! Binaries come from [`assets::find`]; `kubeforge envtest` ([`assets::ensure`]) downloads
//! them (setup-envtest's release archives) or builds them with Go. When the store lacks them,
//! [`Environment::builder`]'s start downloads them too.
//! Unix only: processes are managed with process groups and signals.
//!
//! # Features
//!
//! - `client` (default): kube clients of the environment (`Environment::client`, `config`,
//!   `kubeconfig`, `service_account_client`), a namespace per test on the shared plane, and
//!   CRDs and webhook configurations given as k8s-openapi types. It compiles kube and
//!   k8s-openapi.
//!
//! Without `client` (what `kubeforge run` uses, so the CLI installs quickly), everything else
//! is here and works the same way: finding, downloading or building the binaries, starting and
//! stopping the plane, the kubeconfig file (for kubectl or a separately started operator),
//! installing CRDs and webhook configurations from directories and waiting until they are
//! served, and the local webhook server's certificate. The crate makes those few API calls
//! itself, over HTTPS with the admin certificate, with or without `client`.
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod api;
pub mod assets;
mod background;
mod certs;
mod control_plane;
mod crds;
mod download;
mod environment;
mod error;
mod kubeconfig;
mod manifests;
#[cfg(feature = "client")]
mod namespaces;
mod process;
#[cfg(feature = "client")]
mod rbac;
mod shared;
mod webhooks;

pub use assets::{Assets, KUBERNETES_VERSION};
pub use background::{BoxError, Ready, once_per_process};
pub use environment::{Environment, EnvironmentBuilder, ProcessIds};
pub use error::Error;
pub use webhooks::{CONVERSION_PATH, WebhookInstall, WebhookServer};

/// Server-side apply field manager for everything this crate writes, so its fields are
/// told apart from the operator's under test.
pub(crate) const FIELD_MANAGER: &str = "kubeforge-envtest";
