{{ license_header }}//! The {{ kind }} kind, version {{ version }} of {{ api_group }}.

use kubeforge::k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use serde::{Deserialize, Serialize};

/// A {{ kind }} is the desired state of ... (TODO(user): say what a {{ kind }}
/// is; this comment becomes the CRD's description).
#[kubeforge::crd(
    group = "{{ api_group }}",
    version = "{{ version }}",
    kind = "{{ kind }}",
    plural = "{{ plural }}",
    {% if namespaced %}scope = "Namespaced",{% else %}scope = "Cluster",{% endif %}
    status = {{ kind }}Status
)]
#[serde(rename_all = "camelCase")]
pub struct {{ kind }}Spec {
    /// How many replicas to run. An example field: TODO(user) replace it
    /// with your kind's desired state.
    #[field(minimum = 0, maximum = 100, default = 1)]
    pub replicas: i32,
}

/// The observed state of a {{ kind }}, written by its controller.
#[kubeforge::schema]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct {{ kind }}Status {
    /// The `.metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The latest observations of the {{ kind }}'s state, one per type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[field(list_type = "map", list_map_keys = ["type"])]
    pub conditions: Vec<Condition>,
}
