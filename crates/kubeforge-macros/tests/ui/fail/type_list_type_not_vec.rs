#[kubeforge::schema]
pub struct Port {
    pub name: String,
}

#[kubeforge::schema(list_type = "map", list_map_keys = ["name"])]
pub struct Ports(Option<Port>);

#[kubeforge::schema(list_type = "set")]
pub struct Tags {
    pub items: Vec<String>,
}

#[kubeforge::schema(list_type = "map")]
pub struct MorePorts(Vec<Port>);

fn main() {}
