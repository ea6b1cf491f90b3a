#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "MyApp")]
pub struct MyAppSpec {
    #[field(pattern = 5)]
    pub name: String,
    #[field(maximum = "ten")]
    pub replicas: i32,
}

fn main() {}
