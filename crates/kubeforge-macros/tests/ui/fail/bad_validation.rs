#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "MyApp")]
pub struct MyAppSpec {
    #[field(validation(rule = "self > 0", reason = "TooSmall"))]
    pub replicas: i32,
    #[field(validation(message = "no rule here"))]
    pub other: i32,
}

fn main() {}
