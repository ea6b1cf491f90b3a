#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "MyApp", plural = 3)]
pub struct MyAppSpec {
    pub replicas: i32,
}

fn main() {}
