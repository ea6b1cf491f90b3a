#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "MyApp")]
pub struct MyAppSpec {
    #[field(minimum = 10, maximum = 1)]
    pub replicas: i32,
    #[field(min_length = 5, max_length = 2)]
    pub name: String,
}

fn main() {}
