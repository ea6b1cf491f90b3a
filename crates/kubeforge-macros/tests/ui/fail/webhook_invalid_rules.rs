// One mistake per struct; every other key is valid.

#[kubeforge::webhook(path = "mutate-apps", mutating = true, side_effects = "None",
    groups = "apps.example.com", resources = "myapps", verbs = "create", versions = "v1",
    name = "ma.kb.io", admission_review_versions = "v1")]
pub struct RelativePath;

#[kubeforge::webhook(path = "/b", mutating = true, side_effects = "None",
    groups = "Apps.Example.com", resources = "myapps", verbs = "create", versions = "v1",
    name = "mb.kb.io", admission_review_versions = "v1")]
pub struct BadGroup;

#[kubeforge::webhook(path = "/c", mutating = true, side_effects = "None",
    groups = "apps.example.com", resources = "MyApps", verbs = "create", versions = "v1",
    name = "mc.kb.io", admission_review_versions = "v1")]
pub struct BadResource;

#[kubeforge::webhook(path = "/d", mutating = true, side_effects = "None",
    groups = "apps.example.com", resources = "myapps", verbs = ["create", "patch"], versions = "v1",
    name = "md.kb.io", admission_review_versions = "v1")]
pub struct BadVerb;

#[kubeforge::webhook(path = "/e", mutating = true, side_effects = "None",
    groups = "apps.example.com", resources = "myapps", verbs = "create", versions = "1.0",
    name = "me.kb.io", admission_review_versions = "v1")]
pub struct BadVersion;

#[kubeforge::webhook(path = "/f", mutating = true, side_effects = "None",
    groups = "apps.example.com", resources = "myapps", verbs = "create", versions = "v1",
    name = "mmyapp-v1", admission_review_versions = "v1")]
pub struct ShortName;

#[kubeforge::webhook(path = "/g", mutating = true, side_effects = "None",
    groups = "apps.example.com", resources = "myapps", verbs = "create", versions = "v1",
    name = "mg.kb.io", admission_review_versions = [])]
pub struct NoReviewVersions;

#[kubeforge::webhook(path = "/h", mutating = true, side_effects = "None",
    groups = ["*", "apps.example.com"], resources = "myapps", verbs = "create", versions = "v1",
    name = "mh.kb.io", admission_review_versions = "v1")]
pub struct StarWithOthers;

fn main() {}
