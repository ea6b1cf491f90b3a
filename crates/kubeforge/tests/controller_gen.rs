//! The CRD of a kind embedding Kubernetes types (a `PodTemplateSpec`, an
//! int-or-string, a `Vec<Condition>` status) against what controller-gen
//! writes for the same Go types (tests/controller_gen/, with the command
//! that made it in its README), compared structurally with descriptions
//! left out: descriptions come from doc comments, which Go wraps at
//! different places.

use kubeforge::k8s_openapi::api::core::v1::PodTemplateSpec;
use kubeforge::k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kubeforge::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kubeforge::serde_json::Value;

mod support;
use support::crd_compare::{differences, rendered_crd, without_descriptions};

/// Embedding embeds Kubernetes types.
#[kubeforge::crd(
    group = "apps.example.com",
    version = "v1",
    kind = "Embedding",
    status = EmbeddingStatus
)]
#[serde(rename_all = "camelCase")]
pub struct EmbeddingSpec {
    /// template is the pod template.
    pub template: PodTemplateSpec,
    /// port is a number or a name.
    pub port: IntOrString,
    /// maxUnavailable is a count or a percentage.
    #[field(int_or_string)]
    pub max_unavailable: Option<CountOrPercent>,
}

/// A count or a percentage, as kubeforge users write int-or-string.
#[kubeforge::schema]
#[serde(untagged)]
pub enum CountOrPercent {
    Count(i32),
    Percent(String),
}

/// EmbeddingStatus holds conditions.
#[kubeforge::schema]
pub struct EmbeddingStatus {
    /// conditions of the embedding.
    #[field(list_type = "map", list_map_keys = ["type"])]
    pub conditions: Option<Vec<Condition>>,
}

fn controller_gen() -> Value {
    let text = include_str!("controller_gen/apps.example.com_embeddings.yaml");
    serde_saphyr::from_str(text).expect("controller-gen's YAML parses")
}

fn ours() -> Value {
    rendered_crd("embeddings.apps.example.com")
}

fn schema(crd: &Value) -> Value {
    let mut s = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone();
    without_descriptions(&mut s);
    s
}

#[test]
fn the_schema_is_controller_gens() {
    let mut ours_schema = schema(&ours());
    // The only intended difference: Kubernetes publishes the defaults of
    // azureDisk's cachingMode and kind (`+default=ref(...)` markers), which
    // controller-gen cannot read from the Go source; the API server applies
    // them to every pod anyway.
    let azure = &mut ours_schema["properties"]["spec"]["properties"]["template"]["properties"]["spec"]
        ["properties"]["volumes"]["items"]["properties"]["azureDisk"]["properties"];
    for field in ["cachingMode", "kind"] {
        let removed = azure[field]
            .as_object_mut()
            .and_then(|f| f.remove("default"));
        assert!(
            removed.is_some(),
            "azureDisk.{field} has Kubernetes' default"
        );
    }
    let mut diffs = Vec::new();
    differences(&ours_schema, &schema(&controller_gen()), "", &mut diffs);
    // The other intended difference: controller-gen copies the
    // `+structType=atomic` of an embedded LocalObjectReference onto the
    // struct embedding it (ConfigMapEnvSource, SecretProjection, ...);
    // Kubernetes' OpenAPI does not, so the API server merges those objects
    // field by field in a Pod, and so does a kubeforge CRD.
    let embeds_local_object_reference = |d: &String| {
        ["configMapRef", "secretRef", "configMap", "secret"]
            .iter()
            .any(|field| {
                d.starts_with("only controller-gen: ")
                    && d.ends_with(&format!("/{field}/x-kubernetes-map-type = \"atomic\""))
            })
    };
    let before = diffs.len();
    diffs.retain(|d| !embeds_local_object_reference(d));
    assert_eq!(before - diffs.len(), 9, "the map types controller-gen adds");
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn names_scope_and_subresources_are_controller_gens() {
    let (ours, theirs) = (ours(), controller_gen());
    for key in ["group", "names", "scope"] {
        assert_eq!(ours["spec"][key], theirs["spec"][key], "spec.{key}");
    }
    for key in ["name", "served", "storage", "subresources"] {
        assert_eq!(
            ours["spec"]["versions"][0][key], theirs["spec"]["versions"][0][key],
            "versions[0].{key}"
        );
    }
}

/// What server-side apply and validation rely on, spelled out.
#[test]
fn embedded_types_keep_what_the_api_server_relies_on() {
    let crd = ours();
    let root = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let template = &root["properties"]["spec"]["properties"]["template"];
    assert_eq!(template["properties"]["metadata"]["type"], "object");
    assert!(
        template["properties"]["metadata"]
            .get("properties")
            .is_none()
    );
    let containers = &template["properties"]["spec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-list-type"], "map");
    assert_eq!(
        containers["x-kubernetes-list-map-keys"],
        serde_json::json!(["name"])
    );
    let port = &containers["items"]["properties"]["ports"]["items"]["properties"]["protocol"];
    assert_eq!(port["default"], "TCP");
    let condition = &root["properties"]["status"]["properties"]["conditions"]["items"];
    assert_eq!(condition["properties"]["type"]["maxLength"], 316);
    assert_eq!(
        condition["properties"]["status"]["enum"],
        serde_json::json!(["True", "False", "Unknown"])
    );
    let port = &root["properties"]["spec"]["properties"]["port"];
    assert_eq!(port["x-kubernetes-int-or-string"], true);
    assert_eq!(
        port["anyOf"],
        serde_json::json!([{"type": "integer"}, {"type": "string"}])
    );
}

/// A kind embedding a whole pod template, descriptions and all, is past
/// what client-side `kubectl apply` can install: `kubeforge manifests`
/// warns about it (and the envtest tests install it server-side).
#[test]
fn a_pod_template_with_descriptions_needs_server_side_apply() {
    let crds = kubeforge::manifests::all_crds().expect("registered CRDs merge");
    let value = serde_json::to_value(&crds[0]).expect("CRD serializes");
    let rendered = kubeforge_codegen::crd::render_crd(&value).expect("renders");
    assert_eq!(
        kubeforge_codegen::crd::size_budget(rendered.json_bytes),
        kubeforge_codegen::crd::SizeBudget::ServerSideApplyOnly,
        "{} bytes",
        rendered.json_bytes
    );
}
