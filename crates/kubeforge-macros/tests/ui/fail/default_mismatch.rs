#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "MyApp")]
pub struct MyAppSpec {
    #[field(default = "three")]
    pub replicas: i32,
}

fn main() {}

#[kubeforge::schema]
pub enum Mode {
    Fast,
    Safe,
}

#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "Other")]
pub struct OtherSpec {
    #[field(default = "Fast")]
    pub mode: Mode,
    #[field(default = 1.5)]
    pub count: u32,
}
