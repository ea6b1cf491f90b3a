//! kubeforge: the library that kubeforge-generated operators build on.
//!
//! Like the `kube` facade, this crate has no logic of its own at the top: it
//! re-exports the attribute macros from `kubeforge-macros`, the crates those
//! macros expand to (so a generated project depends on `kubeforge` and `serde`
//! only), and holds the runtime pieces an operator needs:
//!
//! - [`manifests`]: the registry every `#[crd]` type joins, read by
//!   `kubeforge manifests` through the API crate's `crdgen` binary;
//! - `manager` (feature `runtime`): metrics, probes, leader election and
//!   graceful shutdown around kube-runtime controllers;
//! - `conditions` (feature `runtime`): metav1.Condition bookkeeping;
//! - `backoff` (feature `runtime`): per-object retry delays for error policies.

pub use kubeforge_macros::{crd, rbac, schema};

pub use k8s_openapi;
pub use kube;
pub use schemars;
pub use serde_json;

pub mod manifests;

#[cfg(feature = "runtime")]
pub mod backoff;
#[cfg(feature = "runtime")]
pub mod conditions;
#[cfg(feature = "runtime")]
pub mod manager;

/// Items the macros expand to. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use inventory;
    pub use serde;
}
