//! A user crate depending on `kubeforge` and `serde` only.
use serde::{Deserialize, Serialize};

/// MyApp runs an app.
#[kubeforge::crd(
    group = "apps.example.com",
    version = "v1",
    kind = "MyApp",
    status = MyAppStatus,
    shortnames = ["ma"],
    printcolumn(name = "Replicas", type = "integer", json_path = ".spec.replicas"),
    scale(spec_replicas_path = ".spec.replicas", status_replicas_path = ".status.replicas"),
)]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MyAppSpec {
    /// Replicas, described in at most 20 characters.
    #[field(minimum = 1, default = 2, max_desc_len = 20)]
    pub replicas: i32,
    pub mode: Mode,
}

#[kubeforge::schema]
#[derive(PartialEq)]
pub enum Mode {
    Fast,
    Safe,
}

#[kubeforge::schema]
pub struct MyAppStatus {
    pub replicas: Option<i32>,
}

fn main() {
    let crd = MyApp::crd();
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("myapps.apps.example.com")
    );
    let app = MyApp::new(
        "a",
        MyAppSpec {
            replicas: 3,
            mode: Mode::Safe,
        },
    );
    assert_eq!(app.spec.replicas, 3);
    assert_eq!(
        kubeforge::manifests::all_crds().map(|c| c.len()).ok(),
        Some(1)
    );
}
