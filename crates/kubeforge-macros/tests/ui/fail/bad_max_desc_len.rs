#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "MyApp")]
pub struct MyAppSpec {
    /// A negative limit.
    #[field(max_desc_len = -1)]
    pub a: i32,
    /// Not a number.
    #[field(max_desc_len = "short")]
    pub b: i32,
    /// Given twice.
    #[field(max_desc_len = 10)]
    #[field(max_desc_len = 20)]
    pub c: i32,
}

fn main() {}
