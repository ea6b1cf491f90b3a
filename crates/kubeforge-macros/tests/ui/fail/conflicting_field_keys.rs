#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "MyApp")]
pub struct MyAppSpec {
    #[field(default = 1, required)]
    pub replicas: i32,
    #[field(minimum = 1, exclusive_minimum = 0)]
    pub count: i32,
}

fn main() {}
