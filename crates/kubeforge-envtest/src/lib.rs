//! A real local Kubernetes control plane (etcd + kube-apiserver) for tests and
//! `kubeforge run`: the Rust counterpart of controller-runtime's envtest.
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
//! Binaries come from [`assets::find`]; `kubeforge envtest` ([`assets::ensure`]) builds them.
//! Unix only: processes are managed with process groups and signals.

pub mod assets;
mod certs;
mod environment;
mod error;
mod manifests;
mod process;
mod rbac;

pub use assets::{Assets, KUBERNETES_VERSION};
pub use environment::{Environment, EnvironmentBuilder, ProcessIds};
pub use error::Error;
