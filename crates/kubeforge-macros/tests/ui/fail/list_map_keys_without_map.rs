#[kubeforge::schema]
pub struct Port {
    pub name: String,
}

#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "MyApp")]
pub struct MyAppSpec {
    #[field(list_map_keys = ["name"])]
    pub ports: Vec<Port>,
    #[field(list_type = "map")]
    pub more_ports: Vec<Port>,
    #[field(list_type = "bag")]
    pub bag: Vec<Port>,
}

fn main() {}
