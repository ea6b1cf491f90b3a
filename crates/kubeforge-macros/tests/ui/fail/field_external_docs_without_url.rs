// `external_docs(...)` needs a `url`, and it must be one.
#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "MyApp")]
pub struct MyAppSpec {
    #[field(external_docs(description = "The manual"))]
    pub image: String,
    #[field(external_docs(url = "example.com/docs"))]
    pub name: String,
    #[field(external_docs(url = "https://example.com/docs", title = "x"))]
    pub tag: String,
}

#[kubeforge::schema(external_docs(description = "Backends"))]
pub struct Backend {
    pub name: String,
}

fn main() {}
