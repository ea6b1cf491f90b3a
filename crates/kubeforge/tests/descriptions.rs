//! controller-gen's `maxDescLen`, for the whole API crate
//! (`kubeforge::crd_settings!`) and per field (`#[field(max_desc_len)]`),
//! on the CRD `MyKind::crd()` and `all_crds()` return.

use kubeforge::k8s_openapi::api::core::v1::PodTemplateSpec;
use kubeforge::serde_json::{self, Value};

kubeforge::crd_settings!(max_desc_len = 40);

/// A kind whose description is long enough to be cut: it goes on well past forty characters.
#[kubeforge::crd(group = "apps.example.com", version = "v1", kind = "Terse")]
pub struct TerseSpec {
    /// The pods to run; nothing under this field keeps its description.
    #[field(max_desc_len = 0)]
    pub template: PodTemplateSpec,
    /// A short note.
    pub note: Option<String>,
}

fn schema() -> Value {
    let crd = serde_json::to_value(Terse::crd()).expect("serializes");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

fn descriptions(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(d)) = map.get("description") {
                out.push(d.clone());
            }
            for (k, sub) in map {
                if k == "properties" {
                    if let Value::Object(props) = sub {
                        props.values().for_each(|p| descriptions(p, out));
                    }
                } else {
                    descriptions(sub, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| descriptions(i, out)),
        _ => {}
    }
}

#[test]
fn the_project_limit_cuts_every_description_at_a_word() {
    let schema = schema();
    assert_eq!(
        schema["description"],
        "A kind whose description is long enough..."
    );
    assert_eq!(
        schema["properties"]["spec"]["properties"]["note"]["description"],
        "A short note."
    );
    let mut all = Vec::new();
    descriptions(&schema, &mut all);
    for d in &all {
        assert!(d.chars().count() <= 43, "{d:?} is over the limit");
    }
}

#[test]
fn a_field_limit_of_zero_drops_every_description_under_it() {
    let schema = schema();
    let template = &schema["properties"]["spec"]["properties"]["template"];
    let mut under = Vec::new();
    descriptions(template, &mut under);
    assert!(under.is_empty(), "{under:?}");
    // What the descriptions were for is still there.
    let containers = &template["properties"]["spec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-list-map-keys"][0], "name");
}

#[test]
fn without_descriptions_a_pod_template_fits_client_side_apply() {
    let crds = kubeforge::manifests::all_crds().expect("one crd_settings! is fine");
    assert_eq!(crds[0], Terse::crd());
    let value = serde_json::to_value(&crds[0]).expect("serializes");
    let rendered = kubeforge_codegen::crd::render_crd(&value).expect("renders");
    assert_eq!(
        kubeforge_codegen::crd::size_budget(rendered.json_bytes),
        kubeforge_codegen::crd::SizeBudget::Fits,
        "{} bytes",
        rendered.json_bytes
    );
}
