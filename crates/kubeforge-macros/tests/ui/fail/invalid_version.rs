#[kubeforge::crd(group = "apps.example.com", version = "1.0", kind = "MyApp")]
pub struct MyAppSpec {
    pub replicas: i32,
}

fn main() {}
