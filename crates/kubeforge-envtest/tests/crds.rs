//! CRDs from a directory are installed, servable, and validated by the API server.

mod common;

#[cfg(feature = "client")]
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
#[cfg(feature = "client")]
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams};
#[cfg(feature = "client")]
use kube::core::GroupVersionKind;
use kubeforge_envtest::Environment;

#[cfg(feature = "client")]
const CRD_YAML: &str = r#"# A kustomization-style extra document must be ignored.
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.demo.kubeforge.dev
spec:
  group: demo.kubeforge.dev
  names:
    kind: Widget
    listKind: WidgetList
    plural: widgets
    singular: widget
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [replicas]
            properties:
              replicas:
                type: integer
                minimum: 1
                maximum: 10
---
kind: Kustomization
resources: []
"#;

#[cfg(feature = "client")]
fn widget(name: &str, replicas: i64) -> DynamicObject {
    let resource = widget_resource();
    let mut obj = DynamicObject::new(name, &resource);
    obj.data = serde_json::json!({ "spec": { "replicas": replicas } });
    obj
}

#[cfg(feature = "client")]
fn widget_resource() -> ApiResource {
    let gvk = GroupVersionKind::gvk("demo.kubeforge.dev", "v1", "Widget");
    ApiResource::from_gvk_with_plural(&gvk, "widgets")
}

#[cfg(feature = "client")]
#[tokio::test]
async fn crds_from_a_directory_and_code_are_installed_and_validated_server_side() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("demo.kubeforge.dev_widgets.yaml"), CRD_YAML).expect("write");
    // A second CRD given in code, as `MyKind::crd()` would produce.
    let gadget: CustomResourceDefinition = serde_json::from_value(serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": "gadgets.demo.kubeforge.dev" },
        "spec": {
            "group": "demo.kubeforge.dev",
            "names": { "kind": "Gadget", "plural": "gadgets" },
            "scope": "Cluster",
            "versions": [{
                "name": "v1alpha1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": {
                    "type": "object", "x-kubernetes-preserve-unknown-fields": true
                } }
            }]
        }
    }))
    .expect("gadget CRD");
    let env = common::start_with(Environment::builder().crd_dir(dir.path()).crds([gadget])).await;
    let gvk = GroupVersionKind::gvk("demo.kubeforge.dev", "v1alpha1", "Gadget");
    let gadgets: Api<DynamicObject> = Api::all_with(
        env.client(),
        &ApiResource::from_gvk_with_plural(&gvk, "gadgets"),
    );
    assert!(
        gadgets
            .list(&ListParams::default())
            .await
            .expect("list gadgets")
            .items
            .is_empty()
    );

    // Usable right after start(): no waiting in the test.
    let widgets: Api<DynamicObject> =
        Api::namespaced_with(env.client(), "default", &widget_resource());
    widgets
        .create(&PostParams::default(), &widget("ok", 3))
        .await
        .expect("valid widget");
    let got = widgets.get("ok").await.expect("get");
    assert_eq!(got.data["spec"]["replicas"], 3);

    let err = widgets
        .create(&PostParams::default(), &widget("too-many", 100))
        .await
        .expect_err("replicas above the schema maximum must be rejected");
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 422, "{status:?}");
            assert!(
                status.message.contains("spec.replicas"),
                "{}",
                status.message
            );
        }
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_crd_directory_is_an_error() {
    let err = Environment::builder()
        .crd_dir("/nonexistent/config/crd/bases")
        .start()
        .await
        .expect_err("missing dir must fail");
    assert!(
        err.to_string().contains("/nonexistent/config/crd/bases"),
        "{err}"
    );
}
