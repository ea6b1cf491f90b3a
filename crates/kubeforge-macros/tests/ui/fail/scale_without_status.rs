#[kubeforge::crd(
    group = "apps.example.com",
    version = "v1",
    kind = "MyApp",
    scale(spec_replicas_path = ".spec.replicas", status_replicas_path = ".status.replicas"),
)]
pub struct MyAppSpec {
    pub replicas: i32,
}

fn main() {}
