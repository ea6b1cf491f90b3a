/// Two levels down.
#[kubeforge::crd(group = "registry.example.com", version = "v1alpha1", kind = "Gamma")]
pub struct GammaSpec {
    #[field(default = 3)]
    pub g: u8,
}

/// A kind declared inside a function body still registers (the call only
/// keeps the function from being dead code).
pub fn define_in_fn() {
    #[kubeforge::crd(group = "registry.example.com", version = "v1", kind = "Delta")]
    struct DeltaSpec {
        d: bool,
    }
    let _ = DeltaSpec { d: true }.d;
}
