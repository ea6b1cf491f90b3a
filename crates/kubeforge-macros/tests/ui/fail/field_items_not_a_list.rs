// `items(...)` needs a list: on anything else it is a type error at the key.
#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "MyApp")]
pub struct MyAppSpec {
    #[field(items(minimum = 1))]
    pub replicas: i32,
    #[field(items(max_length = 3))]
    pub name: Option<String>,
    #[field(items(max_length = 3))]
    pub names: Option<Vec<String>>,
}

fn main() {}
