//! controller-gen's remaining field markers as `#[field]` keys: `items(...)`
//! (`+kubebuilder:validation:items:*`), `type` (`Type`), `schemaless`,
//! `example`, `title` and `external_docs` (also on `#[schema]`/`#[crd]`).
//!
//! The FieldMarker kind is compared, descriptions included, with what
//! controller-gen v0.22.0 writes for the same Go types
//! (tests/controller_gen_fields/, with the command in its README); the
//! ItemShape kind covers what has no controller-gen counterpart the API
//! server accepts, and is a snapshot. Both are installed in a real API
//! server, which must refuse objects breaking the item rules and accept
//! the others.

use std::collections::BTreeMap;

use kubeforge::serde_json::{Value, json};

mod support;
use support::crd_compare::{differences, rendered_crd as ours};

/// FieldMarker uses the field markers.
#[kubeforge::crd(
    group = "apps.example.com",
    version = "v1",
    kind = "FieldMarker",
    external_docs(url = "https://example.com/fieldmarker")
)]
#[serde(rename_all = "camelCase")]
pub struct FieldMarkerSpec {
    /// ports are port numbers.
    #[field(items(minimum = 1, maximum = 65535))]
    pub ports: Vec<i32>,
    /// names are DNS labels.
    #[field(
        max_items = 5,
        items(
            min_length = 1,
            max_length = 63,
            pattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
        )
    )]
    pub names: Option<Vec<String>>,
    /// weights are percentages above zero, in steps of five.
    #[field(items(exclusive_minimum = 0, maximum = 100, multiple_of = 5))]
    pub weights: Option<Vec<i32>>,
    /// access lists permissions.
    #[field(items(enum = ["Read", "Write"]))]
    pub access: Option<Vec<String>>,
    /// hosts are host names.
    #[field(items(format = "hostname"))]
    pub hosts: Option<Vec<String>>,
    /// selectors are label sets.
    #[field(items(min_properties = 1, max_properties = 3))]
    pub selectors: Option<Vec<BTreeMap<String, String>>>,
    /// matrix is a list of rows.
    #[field(items(min_items = 1, max_items = 3))]
    pub matrix: Option<Vec<Vec<i32>>>,
    /// steps are commands.
    #[field(items(validation(rule = "!self.startsWith('-')", message = "a step is not a flag")))]
    pub steps: Option<Vec<String>>,
    /// backends are where traffic goes.
    #[field(items(validation(rule = "self.weight <= 100", message = "weight is a percentage")))]
    pub backends: Option<Vec<Backend>>,
    /// objects are whole Kubernetes objects.
    #[field(items(embedded_resource))]
    pub objects: Option<Vec<Value>>,
    /// percent is any number from 0 to 100.
    #[field(type = "number", minimum = 0, maximum = 100)]
    pub percent: Option<i32>,
    /// raw is any JSON object.
    #[field(schemaless, type = "object", preserve_unknown_fields)]
    pub raw: Option<Value>,
    /// template is a whole Kubernetes object.
    #[field(
        schemaless,
        embedded_resource,
        preserve_unknown_fields,
        type = "object"
    )]
    pub template: Option<Value>,
    /// tree is recursive, which only a schemaless field can hold.
    #[field(schemaless, type = "object", preserve_unknown_fields)]
    pub tree: Option<Node>,
    /// replicas is how many.
    #[field(example = 3, title = "Replicas")]
    pub replicas: i32,
    /// image is what runs.
    #[field(
        example = "nginx:1.27",
        external_docs(
            url = "https://kubernetes.io/docs/concepts/containers/images/",
            description = "Container images"
        )
    )]
    pub image: Option<String>,
    /// args are its arguments.
    #[field(example = ["--verbose", "--port=80"])]
    pub args: Option<Vec<String>>,
    /// labels are labels.
    #[field(
        example = BTreeMap::from([("app".to_string(), "web".to_string())]),
        title = "Pod labels"
    )]
    pub labels: Option<BTreeMap<String, String>>,
}

/// Backend is a weighted service.
#[kubeforge::schema(external_docs(url = "https://example.com/backends", description = "Backends"))]
pub struct Backend {
    /// name of the service.
    pub name: String,
    /// weight of the service.
    pub weight: i32,
}

/// Node is a tree.
#[kubeforge::schema]
pub struct Node {
    /// children of the node.
    pub children: Option<Vec<Node>>,
}

/// ItemShape has item keys that change an item's shape.
#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "ItemShape")]
pub struct ItemShapeSpec {
    /// sizes are counts or percentages.
    #[field(items(int_or_string, pattern = "^[0-9]+%?$"))]
    pub sizes: Vec<CountOrPercent>,
    /// step is a count or a percentage (not an `Option`, so its schema is
    /// a reference to the enum's until int_or_string replaces it).
    #[field(int_or_string)]
    pub step: CountOrPercent,
    /// documents are JSON objects of any shape.
    #[field(items(type = "object", preserve_unknown_fields, max_properties = 2))]
    pub documents: Option<Vec<Value>>,
    /// grid rows are sets.
    #[field(items(unique_items, max_items = 2))]
    pub grid: Option<Vec<Vec<String>>>,
}

/// A count or a percentage.
#[kubeforge::schema]
#[serde(untagged)]
pub enum CountOrPercent {
    /// A count.
    Count(i32),
    /// A percentage, e.g. "50%".
    Percent(String),
}

fn controller_gen() -> Value {
    let text = include_str!("controller_gen_fields/apps.example.com_fieldmarkers.yaml");
    serde_saphyr::from_str(text).expect("controller-gen's YAML parses")
}

fn schema(crd: &Value) -> Value {
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

#[test]
fn the_schema_is_controller_gens() {
    let mut diffs = Vec::new();
    differences(
        &schema(&ours("fieldmarkers.apps.example.com")),
        &schema(&controller_gen()),
        "",
        &mut diffs,
    );
    // The one intended difference: a kubeforge kind has no `spec` field to
    // document, so the `spec` property is described by the Spec's doc
    // comment, which is also the kind's (controller-gen takes the root's
    // from the kind's type and the property's from its `spec` field).
    let expected = [
        "differs: /properties/spec/description: \"FieldMarker uses the field markers.\" vs \"spec of the kind.\"",
    ];
    let unexpected: Vec<&String> = diffs
        .iter()
        .filter(|d| !expected.contains(&d.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{} differences:\n{}",
        unexpected.len(),
        unexpected
            .iter()
            .map(|d| d.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn item_shapes_are_structural() {
    let crd = ours("itemshapes.apps.example.com");
    insta::assert_yaml_snapshot!("itemshapes", schema(&crd)["properties"]["spec"]);
}

/// What each key writes, spelled out (the controller-gen comparison above
/// covers them too, but a mistake there would show as a difference in both).
#[test]
fn keys_write_what_they_say() {
    let crd = ours("fieldmarkers.apps.example.com");
    let spec = &schema(&crd)["properties"]["spec"];
    let p = &spec["properties"];
    assert_eq!(p["ports"]["items"]["minimum"], 1);
    assert_eq!(p["weights"]["items"]["exclusiveMinimum"], true);
    assert_eq!(
        p["raw"],
        json!({
            "description": "raw is any JSON object.",
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true
        })
    );
    assert_eq!(p["replicas"]["example"], 3);
    assert_eq!(p["labels"]["example"], json!({"app": "web"}));
    assert_eq!(p["replicas"]["title"], "Replicas");
    assert_eq!(
        spec["externalDocs"],
        json!({"url": "https://example.com/fieldmarker"})
    );
    assert_eq!(
        p["backends"]["items"]["externalDocs"]["description"],
        "Backends"
    );
}

#[cfg(feature = "runtime")]
mod envtest {
    use super::*;
    use kube::Api;
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PostParams};
    use kubeforge_envtest::Environment;

    async fn start() -> Environment {
        Environment::builder()
            .crds([FieldMarker::crd(), ItemShape::crd()])
            .start()
            .await
            .unwrap_or_else(|e| panic!("the API server refused a CRD: {e}"))
    }

    /// Objects of one kind in the default namespace.
    struct Objects {
        api: Api<DynamicObject>,
        resource: ApiResource,
    }

    impl Objects {
        fn new(env: &Environment, kind: &str, plural: &str) -> Self {
            let gvk = GroupVersionKind::gvk("apps.example.com", "v1", kind);
            let resource = ApiResource::from_gvk_with_plural(&gvk, plural);
            let api = Api::namespaced_with(env.client(), "default", &resource);
            Objects { api, resource }
        }

        async fn create(&self, name: &str, spec: &Value) -> Result<DynamicObject, kube::Error> {
            let object = DynamicObject::new(name, &self.resource).data(json!({ "spec": spec }));
            self.api.create(&PostParams::default(), &object).await
        }
    }

    /// `base` with `changes` merged in at the top level.
    fn with(base: &Value, changes: Value) -> Value {
        let mut spec = base.clone();
        for (k, v) in changes.as_object().expect("an object") {
            spec[k] = v.clone();
        }
        spec
    }

    /// Creates the object and expects the server to refuse it as Invalid,
    /// with a message containing each of `parts`; what went otherwise is
    /// added to `failures`, so one run reports every case.
    async fn refused(
        objects: &Objects,
        name: &str,
        spec: Value,
        parts: &[&str],
        failures: &mut Vec<String>,
    ) {
        match objects.create(name, &spec).await {
            Ok(_) => failures.push(format!("{name}: the server accepted {spec}")),
            Err(kube::Error::Api(status)) if status.code == 422 => {
                let missing: Vec<&&str> = parts
                    .iter()
                    .filter(|p| !status.message.contains(**p))
                    .collect();
                if !missing.is_empty() {
                    failures.push(format!(
                        "{name}: the message lacks {missing:?}: {}",
                        status.message
                    ));
                }
            }
            Err(e) => failures.push(format!("{name}: unexpected error {e}")),
        }
    }

    async fn accepted(objects: &Objects, name: &str, spec: Value) -> DynamicObject {
        objects
            .create(name, &spec)
            .await
            .unwrap_or_else(|e| panic!("{name}: the server refused {spec}: {e}"))
    }

    #[tokio::test]
    async fn the_api_server_enforces_item_rules() {
        let env = start().await;
        let markers = Objects::new(&env, "FieldMarker", "fieldmarkers");
        let base = json!({"ports": [80], "replicas": 1});

        let good = with(
            &base,
            json!({
                "ports": [1, 443, 65535],
                "names": ["web", "a-1"],
                "weights": [5, 100],
                "access": ["Read", "Write"],
                "hosts": ["example.com"],
                "selectors": [{"app": "web"}],
                "matrix": [[1], [1, 2, 3]],
                "steps": ["run"],
                "backends": [{"name": "a", "weight": 100}],
                "objects": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}],
                "percent": 50,
                "raw": {"any": {"nested": [1, "x"]}},
                "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": 1}},
                "tree": {"children": [{"children": []}], "extra": true},
                "image": "nginx",
                "args": ["--verbose"],
                "labels": {"app": "web"},
            }),
        );
        let created = accepted(&markers, "good", good).await;
        // Schemaless, preserved fields keep what was sent.
        assert_eq!(
            created.data["spec"]["raw"]["any"]["nested"],
            json!([1, "x"])
        );
        assert_eq!(created.data["spec"]["tree"]["extra"], true);
        assert_eq!(created.data["spec"]["template"]["spec"]["x"], 1);

        let mut failures = Vec::new();
        for (name, changes, parts) in [
            (
                "port-zero",
                json!({"ports": [80, 0]}),
                &["spec.ports[1]", "greater than or equal to 1"][..],
            ),
            (
                "port-high",
                json!({"ports": [65536]}),
                &["spec.ports[0]", "less than or equal to 65535"][..],
            ),
            (
                "name-pattern",
                json!({"names": ["Web"]}),
                &["spec.names[0]", "should match"][..],
            ),
            (
                "name-long",
                json!({"names": ["a".repeat(64)]}),
                &["spec.names[0]", "more than 63"][..],
            ),
            (
                "name-many",
                json!({"names": ["a", "b", "c", "d", "e", "f"]}),
                &["spec.names", "at most 5"][..],
            ),
            (
                "weight-zero",
                json!({"weights": [0]}),
                &["spec.weights[0]", "greater than 0"][..],
            ),
            (
                "weight-step",
                json!({"weights": [7]}),
                &["spec.weights[0]", "multiple of 5"][..],
            ),
            (
                "access",
                json!({"access": ["Delete"]}),
                &["spec.access[0]", "Unsupported value"][..],
            ),
            (
                "selector-empty",
                json!({"selectors": [{}]}),
                &["spec.selectors[0]", "at least 1"][..],
            ),
            (
                "selector-big",
                json!({"selectors": [{"a": "1", "b": "2", "c": "3", "d": "4"}]}),
                &["spec.selectors[0]", "at most 3"][..],
            ),
            (
                "row-empty",
                json!({"matrix": [[]]}),
                &["spec.matrix[0]", "at least 1"][..],
            ),
            (
                "row-long",
                json!({"matrix": [[1, 2, 3, 4]]}),
                &["spec.matrix[0]", "at most 3"][..],
            ),
            (
                "step-flag",
                json!({"steps": ["run", "-x"]}),
                &["spec.steps[1]", "a step is not a flag"][..],
            ),
            (
                "backend-weight",
                json!({"backends": [{"name": "a", "weight": 101}]}),
                &["spec.backends[0]", "weight is a percentage"][..],
            ),
            (
                "object-kindless",
                json!({"objects": [{"metadata": {"name": "c"}}]}),
                &["spec.objects[0].kind: Required value"][..],
            ),
            (
                "percent",
                json!({"percent": 101}),
                &["spec.percent", "less than or equal to 100"][..],
            ),
            (
                "raw-string",
                json!({"raw": "text"}),
                &["spec.raw", "must be of type object"][..],
            ),
        ] {
            refused(&markers, name, with(&base, changes), parts, &mut failures).await;
        }
        // `type = "number"` lets a fraction through to the Rust side (which
        // then refuses it; the point of the key is the schema's type).
        accepted(
            &markers,
            "percent-fraction",
            with(&base, json!({"percent": 12.5})),
        )
        .await;

        let shapes = Objects::new(&env, "ItemShape", "itemshapes");
        let base = json!({"sizes": [3, "50%"], "step": 1});
        accepted(
            &shapes,
            "shapes",
            with(
                &base,
                json!({"documents": [{"a": {"b": 1}}], "grid": [["a", "b"], []]}),
            ),
        )
        .await;
        for (name, changes, parts) in [
            (
                "size-text",
                json!({"sizes": ["half"]}),
                &["spec.sizes[0]", "should match"][..],
            ),
            (
                "size-float",
                json!({"sizes": [1.5]}),
                &["spec.sizes[0]", "must be of type integer,string"][..],
            ),
            (
                "document-string",
                json!({"documents": ["x"]}),
                &["spec.documents[0]", "must be of type object"][..],
            ),
            (
                "document-big",
                json!({"documents": [{"a": 1, "b": 2, "c": 3}]}),
                &["spec.documents[0]", "at most 2"][..],
            ),
            (
                "grid-duplicate",
                json!({"grid": [["a", "a"]]}),
                &["spec.grid[0][1]", "Duplicate value"][..],
            ),
            (
                "grid-long",
                json!({"grid": [["a", "b", "c"]]}),
                &["spec.grid[0]", "at most 2"][..],
            ),
        ] {
            refused(&shapes, name, with(&base, changes), parts, &mut failures).await;
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
