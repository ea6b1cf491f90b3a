#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "MyApp", shortname = ["ma"])]
pub struct MyAppSpec {
    pub replicas: i32,
}

#[kubeforge::crd(
    group = "apps.example.com",
    version = "v1",
    kind = "Other",
    printcolumn(name = "Replicas", typ = "integer", json_path = ".spec.replicas"),
)]
pub struct OtherSpec {
    pub replicas: i32,
}

fn main() {}
