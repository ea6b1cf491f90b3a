// Inside `items(...)` only the keys that describe one element are allowed:
// a typo gets a suggestion, a field-only key is refused with the list.
#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "MyApp")]
pub struct MyAppSpec {
    #[field(items(minimun = 1))]
    pub ports: Vec<i32>,
    #[field(items(default = "x"))]
    pub names: Vec<String>,
    #[field(items())]
    pub empty: Vec<String>,
    #[field(items = 1)]
    pub flat: Vec<i32>,
}

fn main() {}
