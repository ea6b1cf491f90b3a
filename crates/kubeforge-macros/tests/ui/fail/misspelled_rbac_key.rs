#[kubeforge::rbac(groups = "apps", resource = "deployments", verbs = ["get", "list"])]
pub struct Reconciler;

#[kubeforge::rbac(groups = "", resources = "pods", verb = "get")]
pub fn reconcile() {}

fn main() {}
