#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "MyApp")]
pub struct MyAppSpec {
    #[field(minimun = 1)]
    pub replicas: i32,
}

fn main() {}
