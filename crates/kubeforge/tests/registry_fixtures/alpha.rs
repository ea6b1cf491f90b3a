/// Defined in its own file.
#[kubeforge::crd(
    group = "registry.example.com",
    version = "v1",
    kind = "Alpha",
    scope = "Cluster"
)]
pub struct AlphaSpec {
    pub a: String,
}

/// Version 1 of Beta (here) ...
#[kubeforge::crd(group = "registry.example.com", version = "v1", kind = "Beta")]
pub struct BetaSpec {
    pub b: String,
}
