#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "MyApp")]
pub struct MyApp {
    pub replicas: i32,
}

fn main() {}
