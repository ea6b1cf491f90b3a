// One mistake per struct; every other key is valid.

#[kubeforge::webhook(path = "/a", mutating = true, failure_policy = "retry", side_effects = "None",
    groups = "apps.example.com", resources = "myapps", verbs = "create", versions = "v1",
    name = "ma.kb.io", admission_review_versions = "v1")]
pub struct BadFailurePolicy;

#[kubeforge::webhook(path = "/b", mutating = true, side_effects = "Some",
    groups = "apps.example.com", resources = "myapps", verbs = "create", versions = "v1",
    name = "mb.kb.io", admission_review_versions = "v1")]
pub struct BadSideEffects;

#[kubeforge::webhook(path = "/c", mutating = true, side_effects = "None", match_policy = "Fuzzy",
    groups = "apps.example.com", resources = "myapps", verbs = "create", versions = "v1",
    name = "mc.kb.io", admission_review_versions = "v1")]
pub struct BadMatchPolicy;

#[kubeforge::webhook(path = "/d", mutating = false, side_effects = "None", reinvocation_policy = "IfNeeded",
    groups = "apps.example.com", resources = "myapps", verbs = "create", versions = "v1",
    name = "vd.kb.io", admission_review_versions = "v1")]
pub struct ReinvokedValidator;

#[kubeforge::webhook(path = "/e", mutating = true, side_effects = "None", timeout_seconds = 60,
    groups = "apps.example.com", resources = "myapps", verbs = "create", versions = "v1",
    name = "me.kb.io", admission_review_versions = "v1")]
pub struct TooSlow;

#[kubeforge::webhook(path = "/f", mutating = "yes", side_effects = "None",
    groups = "apps.example.com", resources = "myapps", verbs = "create", versions = "v1",
    name = "mf.kb.io", admission_review_versions = "v1")]
pub struct NotABool;

fn main() {}
