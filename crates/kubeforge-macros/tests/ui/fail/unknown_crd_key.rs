#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "MyApp", colour = "red")]
pub struct MyAppSpec {
    pub replicas: i32,
}

fn main() {}
