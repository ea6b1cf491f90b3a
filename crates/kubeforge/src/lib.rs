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
//! - `backoff` (feature `runtime`): per-object retry delays for error policies;
//! - `events` (feature `runtime`): Events queued and sent in the background,
//!   off the reconcile's path;
//! - `lean` (feature `runtime`): controllers that cache objects without
//!   `managedFields`, watch owned objects by label and metadata only, and
//!   bound their reconcile concurrency;
//! - `webhook` (feature `runtime`): admission and conversion webhooks.
//!
//! The `runtime` feature is on by default; an operator's API crate turns it
//! off, so generating manifests never compiles the manager's dependencies.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub use kubeforge_macros::{crd, rbac, schema, webhook};

pub use k8s_openapi;
pub use kube;
pub use schemars;
pub use serde_json;

pub mod manifests;

mod crd_schema;
mod field_schema;

#[cfg(feature = "runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime")))]
pub mod backoff;
#[cfg(feature = "runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime")))]
pub mod conditions;
#[cfg(feature = "runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime")))]
pub mod events;
#[cfg(feature = "runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime")))]
pub mod lean;
#[cfg(feature = "runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime")))]
pub mod manager;
#[cfg(feature = "runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime")))]
pub mod outcome;
#[cfg(feature = "runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime")))]
pub mod unseen;
#[cfg(feature = "runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime")))]
pub mod webhook;
// HTTPS from mounted certificate files, shared by `manager` and `webhook`.
#[cfg(feature = "runtime")]
mod tls;

/// Items the macros expand to, named by absolute paths
/// (`::kubeforge::__private::...`) so generated code needs no dependency of
/// its own on these crates. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use inventory;
    pub use serde;

    /// The schema rewrites and default check `#[field(...)]` keys expand to.
    pub mod field_schema {
        pub use crate::field_schema::{
            ListField, StrDefault, StrExample, embedded_resource, int_or_string, items, schemaless,
        };
    }

    /// The kind-level schema `#[crd]` expands to: its `JsonSchema` impl
    /// and its `crd()`.
    pub mod crd_schema {
        pub use crate::crd_schema::{
            MAX_DESC_LEN_KEY, Root, SchemaError, finish_crd, generate, root_json_schema,
            truncate_description,
        };
    }
}
