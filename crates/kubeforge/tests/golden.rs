//! Golden files for the CRDs `kubeforge manifests` writes: a kind using every
//! `#[crd]`/`#[field]`/`#[schema]` key, and a kind with two versions, both
//! rendered through `all_crds()` + `render_crd` exactly as the CLI does.
//!
//! The files are insta snapshots in `tests/golden/`. To accept an intended
//! change: `INSTA_UPDATE=always cargo test -p kubeforge --no-default-features
//! --test golden`, then review the diff (`cargo insta review` works too).

use std::collections::BTreeMap;

use kubeforge::serde_json::{self, Value, json};
use serde::{Deserialize, Serialize};

/// Everything is a kind that uses every kubeforge schema key.
///
/// Its doc comment is the kind's description.
#[kubeforge::crd(
    group = "apps.example.com",
    version = "v1",
    kind = "Everything",
    namespaced,
    status = EverythingStatus,
    plural = "everythings",
    singular = "everything",
    shortnames = ["ev", "evt"],
    categories = ["all", "example"],
    printcolumn(name = "Replicas", type = "integer", json_path = ".spec.replicas", description = "Desired replicas", format = "int32", priority = 0),
    printcolumn(name = "Image", type = "string", json_path = ".spec.image", priority = 1),
    scale(spec_replicas_path = ".spec.replicas", status_replicas_path = ".status.replicas", label_selector_path = ".status.selector"),
    selectable_field = ".spec.image",
    label("app.kubernetes.io/part-of", "golden"),
    annotation("example.com/owner", "team-a"),
    validation(rule = "self.minReplicas <= self.replicas", message = "minReplicas must not exceed replicas"),
    validation = "has(self.image)",
    min_properties = 1,
)]
#[derive(PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EverythingSpec {
    /// Desired number of replicas.
    #[field(minimum = 0, maximum = 100, default = 1)]
    pub replicas: i32,
    /// Lower bound for autoscaling.
    #[field(minimum = 0)]
    pub min_replicas: i32,
    /// A ratio strictly between 0 and 1, in quarters.
    #[field(exclusive_minimum = 0, exclusive_maximum = 1, multiple_of = 0.25)]
    pub ratio: Option<f64>,
    /// Container image.
    #[field(min_length = 1, max_length = 253, pattern = "^[a-z0-9./:-]+$")]
    pub image: String,
    /// Not before this time.
    #[field(format = "date-time")]
    pub not_before: Option<String>,
    /// Pull policy, from a Rust enum.
    #[field(default = PullPolicy::IfNotPresent)]
    pub pull_policy: PullPolicy,
    /// Mode, from a list of strings.
    #[field(enum = ["fast", "safe"], default = "safe")]
    pub mode: String,
    /// Arguments, each at most once.
    #[field(min_items = 1, max_items = 10, unique_items)]
    pub args: Vec<String>,
    /// Ports, merged by name.
    #[field(list_type = "map", list_map_keys = ["name"], max_items = 16)]
    pub ports: Vec<Port>,
    /// Node selector, replaced as a whole.
    #[field(min_properties = 1, max_properties = 5, map_type = "atomic")]
    pub selector: BTreeMap<String, String>,
    /// A note that may be null.
    #[field(nullable)]
    pub note: Option<String>,
    /// Free-form settings.
    #[field(preserve_unknown_fields)]
    pub extra: Option<Value>,
    /// Either a count or a percentage.
    #[field(int_or_string)]
    pub max_unavailable: Option<IntOrPercent>,
    /// A whole Kubernetes object.
    #[field(embedded_resource)]
    pub template: Option<Value>,
    /// Validated by CEL.
    #[field(
        max_length = 63,
        validation(
            rule = "self.startsWith('x')",
            message_expression = "'must start with x: ' + self",
            reason = "FieldValueForbidden"
        )
    )]
    pub prefix: Option<String>,
    /// Optional although not an Option: absent means empty.
    #[field(optional, max_items = 8)]
    pub tags: Vec<String>,
    /// Required although an Option: the API server requires a value.
    #[field(required)]
    pub owner: Option<String>,
    /// A greeting with a default.
    #[field(default = "hello", max_length = 32)]
    pub greeting: String,
    /// Default list.
    #[field(default = ["a", "b"], max_items = 4)]
    pub letters: Vec<String>,
    /// An optional bounded count.
    #[field(minimum = -5, maximum = 5, default = 0)]
    pub offset: Option<i64>,
}

/// How images are pulled.
#[kubeforge::schema]
#[derive(PartialEq)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

/// A port.
#[kubeforge::schema(
    validation(
        rule = "self.port != 22",
        message = "ssh is not allowed",
        field_path = ".port",
        reason = "FieldValueInvalid"
    ),
    map_type = "atomic"
)]
// Derives written by hand are kept; only the missing ones are added.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Port {
    /// Port name, the list-map key.
    #[field(max_length = 15)]
    pub name: String,
    /// Port number.
    #[field(minimum = 1, maximum = 65535)]
    pub port: i32,
}

/// A count or a percentage string.
#[kubeforge::schema]
#[derive(PartialEq)]
#[serde(untagged)]
pub enum IntOrPercent {
    Int(i32),
    Percent(String),
}

/// Observed state.
#[kubeforge::schema]
#[serde(rename_all = "camelCase")]
pub struct EverythingStatus {
    /// Ready replicas.
    #[field(minimum = 0)]
    pub replicas: Option<i32>,
    /// Label selector for the scale subresource.
    pub selector: Option<String>,
}

/// Widgets, in two versions.
pub mod v1 {
    /// A widget.
    #[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "Widget", scope = "Cluster", storage, shortnames = ["wd"])]
    pub struct WidgetSpec {
        /// Size in centimetres.
        #[field(minimum = 1)]
        pub size: i32,
    }
}

/// The older version, still served, deprecated.
pub mod v1beta1 {
    /// A widget (beta).
    #[kubeforge::crd(group = "apps.example.com", version = "v1beta1", kind = "Widget", scope = "Cluster", deprecated = "apps.example.com/v1beta1 Widget is deprecated; use v1", shortnames = ["wd"])]
    pub struct WidgetSpec {
        /// Size, free text.
        pub size: String,
    }
}

/// Compares `actual` with the insta snapshot `tests/golden/<name>.snap`,
/// whose body is exactly the file `kubeforge manifests` would write.
fn golden(name: &str, actual: &str) {
    // insta ignores trailing line breaks when comparing; a manifest ends in
    // exactly one.
    assert!(
        actual.ends_with('\n') && !actual.ends_with("\n\n"),
        "{name} must end in exactly one line break:\n{actual:?}"
    );
    insta::with_settings!({
        snapshot_path => "golden",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, actual);
    });
}

fn rendered(crd_name: &str) -> kubeforge_codegen::crd::RenderedCrd {
    let crds = kubeforge::manifests::all_crds().expect("registered CRDs merge");
    let crd = crds
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some(crd_name))
        .unwrap_or_else(|| panic!("{crd_name} is registered"));
    let value = serde_json::to_value(crd).expect("CRD serializes");
    kubeforge_codegen::crd::render_crd(&value).expect("CRD renders")
}

#[test]
fn everything_golden() {
    let r = rendered("everythings.apps.example.com");
    assert_eq!(r.file_name, "apps.example.com_everythings.yaml");
    golden("apps.example.com_everythings.yaml", &r.yaml);
}

#[test]
fn two_versions_golden() {
    let r = rendered("widgets.apps.example.com");
    assert_eq!(r.file_name, "apps.example.com_widgets.yaml");
    golden("apps.example.com_widgets.yaml", &r.yaml);
}

/// What the CLI writes is what `crd()` returns at run time.
#[test]
fn single_version_manifest_is_the_types_crd() {
    let crds = kubeforge::manifests::all_crds().expect("merge");
    let registered = crds
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some("everythings.apps.example.com"))
        .expect("registered");
    assert_eq!(registered, &Everything::crd());
}

fn spec_schema() -> Value {
    let crd = serde_json::to_value(Everything::crd()).expect("serializes");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// The API server and serde agree on defaults: a spec with only the required
/// fields deserializes to the schema's default values.
#[test]
fn defaults_agree_between_rust_and_schema() {
    let minimal = json!({
        "minReplicas": 0, "image": "nginx", "args": ["x"], "ports": [],
        "selector": {"a": "b"}, "owner": null,
    });
    let spec: EverythingSpec = serde_json::from_value(minimal).expect("minimal spec deserializes");
    let props = &spec_schema()["properties"]["spec"]["properties"];
    assert_eq!(json!(spec.replicas), props["replicas"]["default"]);
    assert_eq!(json!(spec.pull_policy), props["pullPolicy"]["default"]);
    assert_eq!(json!(spec.mode), props["mode"]["default"]);
    assert_eq!(json!(spec.greeting), props["greeting"]["default"]);
    assert_eq!(json!(spec.letters), props["letters"]["default"]);
    assert_eq!(json!(spec.offset), props["offset"]["default"]);
    assert_eq!(spec.replicas, 1);
    assert_eq!(spec.pull_policy, PullPolicy::IfNotPresent);
    assert_eq!(spec.letters, ["a", "b"]);
    assert!(spec.tags.is_empty());

    let required = spec_schema()["properties"]["spec"]["required"].clone();
    let required: Vec<&str> = required
        .as_array()
        .expect("required list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(required.contains(&"owner") && required.contains(&"image"));
    for optional in [
        "replicas",
        "pullPolicy",
        "tags",
        "greeting",
        "offset",
        "note",
    ] {
        assert!(!required.contains(&optional), "{optional} must be optional");
    }
}

#[test]
fn kind_description_is_the_spec_doc() {
    let schema = spec_schema();
    assert_eq!(
        schema["description"],
        "Everything is a kind that uses every kubeforge schema key.\n\nIts doc comment is the kind's description."
    );
    let text = serde_json::to_string(&Everything::crd()).expect("serializes");
    assert!(!text.contains("Auto-generated"));
}

#[test]
fn integer_bounds_are_integers_in_yaml() {
    let r = rendered("everythings.apps.example.com");
    assert!(r.yaml.contains("maximum: 65535\n"), "{}", r.yaml);
    assert!(r.yaml.contains("minimum: -5\n"), "{}", r.yaml);
    assert!(r.yaml.contains("multipleOf: 0.25\n"), "{}", r.yaml);
}
