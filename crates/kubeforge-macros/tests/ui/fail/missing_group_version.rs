#[kubeforge::crd(kind = "MyApp")]
pub struct MyAppSpec {
    pub replicas: i32,
}

fn main() {}
