#[kubeforge::crd(group = "example", version = "v1", kind = "MyApp")]
pub struct MyAppSpec {
    pub replicas: i32,
}

fn main() {}
