#[kubeforge::crd(
    group = "apps.example.com",
    version = "v1",
    kind = "MyApp",
    printcolumn(name = "Replicas", type = "int", json_path = ".spec.replicas"),
    printcolumn(name = "Age", type = "date", json_path = "metadata.creationTimestamp", colour = 1),
)]
pub struct MyAppSpec {
    pub replicas: i32,
}

fn main() {}
