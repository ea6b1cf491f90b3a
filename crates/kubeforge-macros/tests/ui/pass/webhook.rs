// `#[webhook]` leaves the struct as it is and adds `PATH`, on plain and
// generic structs and enums, through every path the attribute is used by.

use kubeforge::webhook;

#[kubeforge::webhook(
    path = "/mutate-apps-example-com-v1-myapp",
    mutating = true,
    failure_policy = "fail",
    side_effects = "None",
    groups = ["apps.example.com"],
    resources = ["myapps"],
    verbs = ["create", "update"],
    versions = ["v1"],
    name = "mmyapp-v1.kb.io",
    admission_review_versions = ["v1"],
    reinvocation_policy = "IfNeeded",
    timeout_seconds = 10,
)]
#[derive(Clone, Debug, Default)]
pub struct MyAppDefaulter;

#[webhook(path = "/validate--v1-configmap", mutating = false, failure_policy = "Ignore",
    side_effects = "NoneOnDryRun", groups = "", resources = "configmaps", verbs = "*",
    versions = "v1", name = "vconfigmap-v1.kb.io", admission_review_versions = ["v1", "v1beta1"],
    match_policy = "Equivalent")]
pub struct ConfigMapValidator<T: Clone>(pub T);

#[::kubeforge::webhook(path = "/validate-core", mutating = false, side_effects = "None",
    groups = "core", resources = ["pods", "pods/status"], verbs = ["CREATE", "delete"],
    versions = "*", name = "vpod.core.kb.io", admission_review_versions = "v1")]
pub enum PodValidator {
    Strict,
}

fn main() {
    assert_eq!(MyAppDefaulter::PATH, "/mutate-apps-example-com-v1-myapp");
    let _: MyAppDefaulter = MyAppDefaulter::default().clone();
    assert_eq!(ConfigMapValidator::<u8>::PATH, "/validate--v1-configmap");
    assert_eq!(PodValidator::PATH, "/validate-core");
    let _ = PodValidator::Strict;
}
