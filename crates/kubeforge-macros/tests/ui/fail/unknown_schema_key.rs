#[kubeforge::schema(minimum = 1)]
pub struct Port {
    pub name: String,
}

fn main() {}
