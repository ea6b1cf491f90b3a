#[kubeforge::webhook(
    path = "/validate-apps-example-com-v1-myapp",
    mutating = false,
    groups = ["apps.example.com"],
    resources = ["myapps"],
    verbs = ["create", "update"],
    versions = ["v1"],
    name = "vmyapp-v1.kb.io",
)]
pub struct MyAppValidator;

fn main() {}
