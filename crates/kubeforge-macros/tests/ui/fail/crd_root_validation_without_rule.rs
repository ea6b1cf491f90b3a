#[kubeforge::crd(
    group = "apps.example.com",
    version = "v1",
    kind = "MyApp",
    root_validation(message = "name is at most 20 characters"),
    root_external_docs(url = "example.com/docs")
)]
pub struct MyAppSpec {
    pub replicas: i32,
}

fn main() {}
