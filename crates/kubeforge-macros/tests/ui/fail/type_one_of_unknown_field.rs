#[kubeforge::schema(exactly_one_of = ["http", "grpcc"])]
#[serde(rename_all = "camelCase")]
pub struct Protocol {
    pub http: Option<String>,
    pub grpc: Option<String>,
    pub max_retries: i32,
}

#[kubeforge::crd(
    group = "apps.example.com",
    version = "v1",
    kind = "MyApp",
    at_most_one_of = ["configMapRef", "config_map_ref"],
    at_least_one_of = ["replicas"],
)]
#[serde(rename_all = "camelCase")]
pub struct MyAppSpec {
    pub config_map_ref: Option<String>,
    pub replicas: i32,
}

fn main() {}
