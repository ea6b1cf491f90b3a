//! The link-time registry drops nothing: kinds defined in nested modules,
//! in other files and inside a function body all reach `all_crds()`, and
//! `crdgen_json()` prints them all.

mod registry_fixtures;

use kubeforge::serde_json::{self, Value};

const EXPECTED: [&str; 5] = [
    "alphas.registry.example.com",
    "betas.registry.example.com",
    "deltas.registry.example.com",
    "gammas.registry.example.com",
    "roots.registry.example.com",
];

#[test]
fn every_kind_is_collected_once_and_sorted() {
    registry_fixtures::nested::deeper::define_in_fn();
    let names: Vec<String> = kubeforge::manifests::all_crds()
        .expect("merges")
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(names, EXPECTED);
}

#[test]
fn crdgen_json_lists_every_kind() {
    let json: Value =
        serde_json::from_str(&kubeforge::manifests::crdgen_json().expect("renders")).expect("json");
    let names: Vec<&str> = json["crds"]
        .as_array()
        .expect("crds array")
        .iter()
        .filter_map(|c| c["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, EXPECTED);
    // Two versions of Beta, merged into one CRD.
    let beta = json["crds"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["spec"]["names"]["kind"] == "Beta"))
        .expect("beta");
    let versions: Vec<&str> = beta["spec"]["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(versions, ["v2", "v1"]);
}
