#[kubeforge::schema]
pub struct Port {
    #[field(max_lenght = 15)]
    pub name: String,
}

#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "MyApp")]
pub struct MyAppSpec {
    #[field(list_type = "map", list_map_key = ["name"])]
    pub ports: Vec<Port>,
}

fn main() {}
