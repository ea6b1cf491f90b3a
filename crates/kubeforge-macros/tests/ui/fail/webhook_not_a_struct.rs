#[kubeforge::webhook(
    path = "/mutate-apps-example-com-v1-myapp",
    mutating = true,
    side_effects = "None",
    groups = ["apps.example.com"],
    resources = ["myapps"],
    verbs = ["create", "update"],
    versions = ["v1"],
    name = "mmyapp-v1.kb.io",
    admission_review_versions = ["v1"],
)]
pub fn register() {}

fn main() {
    register();
}
