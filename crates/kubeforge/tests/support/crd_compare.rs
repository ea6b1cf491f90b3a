//! Comparing a kind's CRD with what controller-gen writes for the same Go
//! types (the fixtures under tests/controller_gen*/), structurally.

use kubeforge::serde_json::{self, Value};

/// The CRD `kubeforge manifests` would write for `name` (no nulls,
/// integral numbers), parsed back.
pub fn rendered_crd(name: &str) -> Value {
    let crds = kubeforge::manifests::all_crds().expect("registered CRDs merge");
    let crd = crds
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("{name} is registered"));
    let value = serde_json::to_value(crd).expect("CRD serializes");
    let rendered = kubeforge_codegen::crd::render_crd(&value).expect("renders");
    serde_saphyr::from_str(&rendered.yaml).expect("our YAML parses")
}

/// Removes the `description` strings of schema objects, recursively:
/// descriptions come from doc comments, which Go and Rust place and wrap
/// differently (the kind's is the root type's in Go, the Spec's in
/// kubeforge). A property called `description` stays, and so does
/// `externalDocs`' description, which is a marker's value.
pub fn without_descriptions(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.get("description").is_some_and(Value::is_string) {
                map.remove("description");
            }
            for (k, sub) in map.iter_mut() {
                match k.as_str() {
                    "externalDocs" => {}
                    "properties" => {
                        if let Value::Object(props) = sub {
                            props.values_mut().for_each(without_descriptions);
                        }
                    }
                    _ => without_descriptions(sub),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(without_descriptions),
        _ => {}
    }
}

/// Every path where `a` (kubeforge's) and `b` (controller-gen's) differ,
/// one line each.
pub fn differences(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let p = format!("{path}/{k}");
                match (x.get(k), y.get(k)) {
                    (Some(l), Some(r)) => differences(l, r, &p, out),
                    (Some(l), None) => out.push(format!("only kubeforge: {p} = {l}")),
                    (None, Some(r)) => out.push(format!("only controller-gen: {p} = {r}")),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (l, r)) in x.iter().zip(y).enumerate() {
                differences(l, r, &format!("{path}/{i}"), out);
            }
        }
        _ if a != b => out.push(format!("differs: {path}: {a} vs {b}")),
        _ => {}
    }
}
