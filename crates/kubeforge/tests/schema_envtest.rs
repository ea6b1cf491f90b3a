//! The checked-in golden CRDs (the insta snapshots in tests/golden, kept
//! equal to what `kubeforge manifests` writes by tests/golden.rs) against a
//! real kube-apiserver: the server accepts them (their schemas are
//! structural), applies the schema defaults, rejects each kind of violation
//! with its own message, and serves both versions of a multi-version kind.
//!
//! The files on disk are installed rather than `all_crds()`, so what is proven
//! is that the committed YAML works; golden.rs proves it is what the macros emit.
//! Objects are untyped (`DynamicObject`) so invalid values can be sent at all.

#![cfg(feature = "runtime")]

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams, PostParams};
use kube::{Api, Client};
use kubeforge_envtest::Environment;
use serde_json::{Value, json};

const GROUP: &str = "apps.example.com";

fn resource(version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, version, kind), plural)
}

fn everythings(client: &Client) -> Api<DynamicObject> {
    Api::namespaced_with(
        client.clone(),
        "default",
        &resource("v1", "Everything", "everythings"),
    )
}

fn widgets(client: &Client, version: &str) -> Api<DynamicObject> {
    Api::all_with(client.clone(), &resource(version, "Widget", "widgets"))
}

/// Starts an API server with every golden CRD installed; `start` fails
/// unless the server accepts each one and reports it Established.
///
/// The golden files are insta snapshots (`tests/golden/<file>.snap`): after
/// insta's `---`-delimited header comes exactly the file `kubeforge
/// manifests` writes, which is copied to `<file>` in a temporary directory.
async fn start_with_golden_crds() -> Environment {
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");
    let dir = tempfile::tempdir().expect("temporary directory");
    for entry in std::fs::read_dir(golden).expect("tests/golden is readable") {
        let path = entry.expect("tests/golden entry").path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str()?.strip_suffix(".snap"))
        else {
            continue;
        };
        let snapshot = std::fs::read_to_string(&path).expect("snapshot is readable");
        let body = snapshot
            .strip_prefix("---\n")
            .and_then(|rest| rest.split_once("\n---\n"))
            .map(|(_header, body)| body)
            .unwrap_or_else(|| panic!("{}: no insta header", path.display()));
        std::fs::write(dir.path().join(name), body).expect("write CRD file");
    }
    Environment::builder()
        .crd_dir(dir.path())
        .start()
        .await
        .unwrap_or_else(|e| panic!("the API server rejected a CRD in {golden}: {e}"))
}

/// The smallest spec the schema accepts: only the required fields.
fn minimal_spec() -> Value {
    json!({
        "minReplicas": 0,
        "image": "nginx",
        "args": ["run"],
        "ports": [],
        "selector": {"disk": "ssd"},
        "owner": "team-a",
    })
}

fn everything(name: &str, spec: Value) -> DynamicObject {
    DynamicObject::new(name, &resource("v1", "Everything", "everythings"))
        .data(json!({ "spec": spec }))
}

/// Creates an Everything whose spec is [`minimal_spec`] with `changes` merged
/// in, expects the server to reject it as Invalid (422), and returns the message.
async fn rejected(api: &Api<DynamicObject>, name: &str, changes: Value) -> String {
    let mut spec = minimal_spec();
    for (key, value) in changes.as_object().expect("changes is an object") {
        spec[key] = value.clone();
    }
    match api
        .create(&PostParams::default(), &everything(name, spec.clone()))
        .await
    {
        Ok(_) => panic!("{name}: the server accepted the invalid spec {spec}"),
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{name}: {status:?}");
            assert_eq!(status.reason, "Invalid", "{name}: {status:?}");
            status.message
        }
        Err(e) => panic!("{name}: unexpected error {e}"),
    }
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "server message lacks {part:?}: {message}"
        );
    }
}

#[tokio::test]
async fn golden_everything_crd_defaults_and_validation_on_a_real_api_server() {
    let env = start_with_golden_crds().await;
    let client = env.client();

    // Accepted and structural: v1 CRDs with a non-structural schema are refused
    // outright, and a served CRD never carries a NonStructuralSchema condition.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in ["everythings.apps.example.com", "widgets.apps.example.com"] {
        let crd = crds.get(name).await.expect("golden CRD installed");
        let conditions = crd
            .status
            .and_then(|s| s.conditions)
            .expect("CRD has conditions");
        assert!(
            conditions
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True"),
            "{name}: {conditions:?}"
        );
        assert!(
            !conditions
                .iter()
                .any(|c| c.type_ == "NonStructuralSchema" && c.status == "True"),
            "{name}: {conditions:?}"
        );
    }

    // Server-side defaults fill every omitted field that declares one.
    let api = everythings(&client);
    api.create(
        &PostParams::default(),
        &everything("minimal", minimal_spec()),
    )
    .await
    .expect("the minimal spec is valid");
    let stored = api.get("minimal").await.expect("read back");
    let spec = &stored.data["spec"];
    assert_eq!(spec["replicas"], json!(1), "{spec}");
    assert_eq!(spec["pullPolicy"], json!("IfNotPresent"), "{spec}");
    assert_eq!(spec["mode"], json!("safe"), "{spec}");
    assert_eq!(spec["greeting"], json!("hello"), "{spec}");
    assert_eq!(spec["letters"], json!(["a", "b"]), "{spec}");
    assert_eq!(spec["offset"], json!(0), "{spec}");
    assert_eq!(spec["tags"], json!([]), "{spec}");
    // Fields without a default stay absent.
    assert!(
        spec.get("note").is_none() && spec.get("ratio").is_none(),
        "{spec}"
    );

    // The selectable field works as a field selector.
    let selected = api
        .list(&ListParams::default().fields("spec.image=nginx"))
        .await
        .expect("spec.image is a selectable field");
    assert_eq!(selected.items.len(), 1);
    let none = api
        .list(&ListParams::default().fields("spec.image=redis"))
        .await
        .expect("spec.image is a selectable field");
    assert!(none.items.is_empty());

    // Each constraint rejects on its own, with the server's own wording.
    let message = rejected(&api, "below-minimum", json!({"minReplicas": -1})).await;
    assert_mentions(
        &message,
        &["spec.minReplicas in body should be greater than or equal to 0"],
    );

    let message = rejected(&api, "above-maximum", json!({"replicas": 101})).await;
    assert_mentions(
        &message,
        &["spec.replicas in body should be less than or equal to 100"],
    );

    let message = rejected(&api, "bad-pattern", json!({"image": "Nginx"})).await;
    assert_mentions(
        &message,
        &["spec.image in body should match '^[a-z0-9./:-]+$'"],
    );

    let message = rejected(&api, "bad-enum", json!({"mode": "turbo"})).await;
    assert_mentions(
        &message,
        &["spec.mode: Unsupported value: \"turbo\": supported values: \"fast\", \"safe\""],
    );

    let message = rejected(&api, "bad-rust-enum", json!({"pullPolicy": "Sometimes"})).await;
    assert_mentions(
        &message,
        &[
            "spec.pullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"",
        ],
    );

    // Type-level CEL rule on the spec, with a static message.
    let message = rejected(&api, "cel-type", json!({"minReplicas": 5, "replicas": 2})).await;
    assert_mentions(
        &message,
        &["spec: Invalid value: minReplicas must not exceed replicas"],
    );

    // Field-level CEL rule with a messageExpression and reason FieldValueForbidden.
    let message = rejected(&api, "cel-field", json!({"prefix": "yak"})).await;
    assert_mentions(
        &message,
        &["spec.prefix: Forbidden: must start with x: yak"],
    );

    // CEL rule on a nested #[schema] type, reported at its fieldPath.
    let message = rejected(
        &api,
        "cel-nested",
        json!({"ports": [{"name": "ssh", "port": 22}]}),
    )
    .await;
    assert_mentions(
        &message,
        &["spec.ports[0].port: Invalid value: ssh is not allowed"],
    );

    // The valid counterparts of the CEL cases are accepted.
    let mut ok = minimal_spec();
    ok["prefix"] = json!("xylophone");
    ok["ports"] = json!([{"name": "https", "port": 443}]);
    api.create(&PostParams::default(), &everything("cel-ok", ok))
        .await
        .expect("a spec satisfying every rule is accepted");
}

#[tokio::test]
async fn golden_widget_crd_serves_both_versions_on_a_real_api_server() {
    let env = start_with_golden_crds().await;
    let client = env.client();
    let v1 = widgets(&client, "v1");
    let v1beta1 = widgets(&client, "v1beta1");

    // Each served version validates with its own schema.
    let beta = DynamicObject::new("from-beta", &resource("v1beta1", "Widget", "widgets"))
        .data(json!({"spec": {"size": "10"}}));
    v1beta1
        .create(&PostParams::default(), &beta)
        .await
        .expect("v1beta1 takes a string size");
    let stable = DynamicObject::new("from-v1", &resource("v1", "Widget", "widgets"))
        .data(json!({"spec": {"size": 3}}));
    v1.create(&PostParams::default(), &stable)
        .await
        .expect("v1 takes an integer size");
    let too_small = DynamicObject::new("too-small", &resource("v1", "Widget", "widgets"))
        .data(json!({"spec": {"size": 0}}));
    match v1.create(&PostParams::default(), &too_small).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{status:?}");
            assert_mentions(
                &status.message,
                &["spec.size in body should be greater than or equal to 1"],
            );
        }
        other => panic!("v1 size 0 must be rejected, got {other:?}"),
    }

    // Without a conversion webhook (strategy None) each object is readable in
    // either version; only apiVersion changes.
    let read = v1
        .get("from-beta")
        .await
        .expect("v1beta1 object read as v1");
    assert_eq!(
        read.types.as_ref().map(|t| t.api_version.as_str()),
        Some("apps.example.com/v1")
    );
    assert_eq!(read.data["spec"]["size"], json!("10"));
    let read = v1beta1
        .get("from-v1")
        .await
        .expect("v1 object read as v1beta1");
    assert_eq!(
        read.types.as_ref().map(|t| t.api_version.as_str()),
        Some("apps.example.com/v1beta1")
    );
    assert_eq!(read.data["spec"]["size"], json!(3));

    // Both versions are in discovery.
    let served: Vec<String> = client
        .list_api_group_resources("apps.example.com/v1")
        .await
        .expect("v1 discovery")
        .resources
        .into_iter()
        .chain(
            client
                .list_api_group_resources("apps.example.com/v1beta1")
                .await
                .expect("v1beta1 discovery")
                .resources,
        )
        .filter(|r| r.kind == "Widget")
        .map(|r| r.name)
        .collect();
    assert_eq!(served, ["widgets", "widgets"]);
}
