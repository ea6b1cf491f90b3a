//! Pure logic shared by kubeforge's proc macros and its CLI. Nothing here does
//! I/O beyond what callers hand in, so it is all unit-testable.
//!
//! - [`rbac`]: the `#[rbac(...)]` arguments, controller-gen's merge, role.yaml;
//! - [`scan`]: finds `#[rbac]` attributes in Rust sources, as controller-gen
//!   finds markers in Go sources (no compilation needed);
//! - [`yaml`]: the deterministic YAML writer every generated manifest goes through;
//! - [`crd`]: turns CRDs produced at run time into controller-gen-style files.

pub mod crd;
pub mod rbac;
pub mod scan;
pub mod yaml;
