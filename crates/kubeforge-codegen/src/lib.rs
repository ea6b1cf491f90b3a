//! Pure logic shared by kubeforge's proc macros and its CLI. Nothing here does
//! I/O beyond what callers hand in, so it is all unit-testable.
//!
//! - [`rbac`]: the `#[rbac(...)]` arguments, controller-gen's merge, role.yaml;
//! - [`webhook`]: the `#[webhook(...)]` arguments and config/webhook/manifests.yaml;
//! - [`scan`]: finds `#[rbac]` and `#[webhook]` attributes in Rust sources, as
//!   controller-gen finds markers in Go sources (no compilation needed);
//! - [`yaml`]: the deterministic YAML writer every generated manifest goes through;
//! - [`names`]: the one set of Kubernetes and Rust naming rules (DNS-1123
//!   names, versions, kinds, plurals, snake case, group identifiers) that the
//!   CLI, `#[crd]` and `#[rbac]` all check and derive with;
//! - [`crd`]: turns CRDs produced at run time into controller-gen-style files.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod crd;
pub mod names;
pub mod rbac;
pub mod scan;
pub mod webhook;
pub mod yaml;
