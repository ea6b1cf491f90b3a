// `example` is a value of the field's type, checked like `default`.
#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "MyApp")]
pub struct MyAppSpec {
    #[field(example = "three")]
    pub replicas: i32,
    #[field(example = 1.5)]
    pub count: Option<u32>,
    #[field(example = [1, 2])]
    pub names: Vec<String>,
}

fn main() {}
