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
//! let admin = env.client();
//! // Acts as the operator's ServiceAccount with exactly its generated RBAC:
//! let sa = env
//!     .service_account_client("default", "controller-manager", "config/rbac/role.yaml".as_ref())
//!     .await?;
//! # let _ = (admin, sa);
//! env.stop().await;
//! # Ok(()) }
//! ```
//!
//! Admission and conversion webhooks can be installed pointing at a webhook server the test
//! runs itself: see [`WebhookInstall`] and [`Environment::webhook_server`].
//!
//! Binaries come from [`assets::find`]; `kubeforge envtest` ([`assets::ensure`]) builds them.
//! Unix only: processes are managed with process groups and signals.

#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod assets;
mod certs;
mod control_plane;
mod crds;
mod environment;
mod error;
mod kubeconfig;
mod manifests;
mod process;
mod rbac;
mod webhooks;

pub use assets::{Assets, KUBERNETES_VERSION};
pub use environment::{Environment, EnvironmentBuilder, ProcessIds};
pub use error::Error;
pub use webhooks::{CONVERSION_PATH, WebhookInstall, WebhookServer};

/// Server-side apply field manager for everything this crate writes, so its fields are
/// told apart from the operator's under test.
pub(crate) const FIELD_MANAGER: &str = "kubeforge-envtest";
