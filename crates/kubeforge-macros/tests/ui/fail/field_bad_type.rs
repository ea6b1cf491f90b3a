// `type` takes OpenAPI's six types, and the other keys must fit it;
// `title` is a string.
#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "MyApp")]
pub struct MyAppSpec {
    #[field(type = "map")]
    pub labels: String,
    #[field(type = "string", minimum = 1, max_items = 2)]
    pub count: i32,
    #[field(type = "integer", multiple_of = 0.5)]
    pub step: f64,
    #[field(type = "string", int_or_string)]
    pub port: String,
    #[field(items(type = "text"))]
    pub names: Vec<String>,
    #[field(title = 3)]
    pub image: String,
}

fn main() {}
