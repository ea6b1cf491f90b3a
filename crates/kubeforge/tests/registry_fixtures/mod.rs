//! Kinds spread over modules and files, for tests/registry.rs.

pub mod alpha;
pub mod nested;

/// Defined at the top of the fixture tree.
#[kubeforge::crd(group = "registry.example.com", version = "v1", kind = "Root")]
pub struct RootSpec {
    pub a: i32,
}
