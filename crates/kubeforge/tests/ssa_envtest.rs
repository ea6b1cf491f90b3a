//! Server-side apply on a kind that embeds a `PodTemplateSpec`, against a
//! real kube-apiserver: because the CRD carries Kubernetes' own list types
//! and map keys (`containers` is a map keyed by `name`), two field managers
//! can each own one container of the same object, and neither apply
//! removes, or conflicts with, the other's. With k8s-openapi's schema (no
//! list type, so an atomic list) the second apply would conflict.

#![cfg(feature = "runtime")]

use kube::Api;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kubeforge::k8s_openapi::api::core::v1::PodTemplateSpec;
use kubeforge_envtest::Environment;
use serde_json::{Value, json};

/// Runs a pod template.
#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "Runner")]
pub struct RunnerSpec {
    /// The pods to run.
    pub template: PodTemplateSpec,
}

fn apply(container: &str, image: &str) -> Value {
    json!({
        "apiVersion": "apps.example.com/v1",
        "kind": "Runner",
        "metadata": {"name": "shared"},
        "spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}},
    })
}

fn containers(object: &DynamicObject) -> Vec<(String, String)> {
    object.data["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers is a list")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_string(),
                c["image"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn two_field_managers_own_one_container_each() {
    let env = Environment::builder()
        .crds(kubeforge::manifests::all_crds().expect("registered CRDs merge"))
        .start()
        .await
        .expect("the API server accepts the Runner CRD");
    let resource = ApiResource::erase::<Runner>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(env.client(), "default", &resource);

    let alpha = PatchParams::apply("alpha");
    let beta = PatchParams::apply("beta");
    api.patch("shared", &alpha, &Patch::Apply(apply("web", "nginx:1")))
        .await
        .expect("alpha applies its container");
    api.patch("shared", &beta, &Patch::Apply(apply("sidecar", "envoy:1")))
        .await
        .expect("beta applies its container without a conflict");
    let both = api.get("shared").await.expect("read back");
    assert_eq!(
        containers(&both),
        [
            ("web".to_string(), "nginx:1".to_string()),
            ("sidecar".to_string(), "envoy:1".to_string())
        ]
    );

    // Each re-applies its own container: the other's stays as it was.
    api.patch("shared", &alpha, &Patch::Apply(apply("web", "nginx:2")))
        .await
        .expect("alpha updates its container");
    let after = api.get("shared").await.expect("read back");
    assert_eq!(
        containers(&after),
        [
            ("web".to_string(), "nginx:2".to_string()),
            ("sidecar".to_string(), "envoy:1".to_string())
        ]
    );

    // The defaults Kubernetes declares apply inside the template too.
    let with_port = json!({
        "apiVersion": "apps.example.com/v1",
        "kind": "Runner",
        "metadata": {"name": "shared"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "sidecar", "image": "envoy:1", "ports": [{"containerPort": 9901}]}
        ]}}},
    });
    api.patch("shared", &beta, &Patch::Apply(with_port))
        .await
        .expect("beta adds a port");
    let ported = api.get("shared").await.expect("read back");
    let sidecar = &ported.data["spec"]["template"]["spec"]["containers"][1];
    assert_eq!(sidecar["ports"][0]["protocol"], "TCP", "{sidecar}");
    assert_eq!(containers(&ported)[0].1, "nginx:2");
}
