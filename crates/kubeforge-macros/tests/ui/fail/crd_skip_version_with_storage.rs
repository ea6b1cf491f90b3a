#[kubeforge::crd(
    group = "apps.example.com",
    version = "v1",
    kind = "MyApp",
    storage,
    skip_version
)]
pub struct MyAppSpec {
    pub replicas: i32,
}

fn main() {}
