pub mod deeper;

/// ... and version 2 of Beta, in another file (the storage version).
pub mod v2 {
    #[kubeforge::crd(group = "registry.example.com", version = "v2", kind = "Beta", storage)]
    pub struct BetaSpec {
        pub b: Vec<String>,
    }
}
