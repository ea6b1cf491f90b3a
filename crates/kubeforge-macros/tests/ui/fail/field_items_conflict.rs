// Keys that replace the list's schema cannot go with `items(...)`, and the
// keys inside are checked together as on a field.
#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "MyApp")]
pub struct MyAppSpec {
    #[field(schemaless, items(max_length = 3))]
    pub raw: Vec<String>,
    #[field(int_or_string, items(max_length = 3))]
    pub sizes: Vec<String>,
    #[field(items(minimum = 5, maximum = 1))]
    pub ports: Vec<i32>,
    #[field(type = "object", items(minimum = 1))]
    pub object: Vec<i32>,
}

fn main() {}
