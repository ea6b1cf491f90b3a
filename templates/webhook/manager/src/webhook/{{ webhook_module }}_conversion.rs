{% if conversion %}{{ license_header }}//! Conversion for {{ kind }}: {{ version }} is the hub, the version objects
//! are stored in; every other version (a spoke) converts to and from it with
//! the `From` implementations in its own module of the API crate, so a
//! conversion between any two versions goes through the hub.

use kubeforge::webhook::{Conversion, WebhookServer};

use {{ type_path }};

/// The {{ kind }} conversions the webhook serves.
pub fn conversion() -> Conversion<{{ kind }}> {
    let mut conversion = Conversion::new();
{% for spoke in spokes %}    conversion = conversion.spoke::<{{ spoke.spoke_type_path }}>();
{% endfor %}    conversion
}

/// Serves [`conversion`] at `/convert`, where the CRD's conversion webhook points.
pub fn register(server: WebhookServer) -> WebhookServer {
    server.conversion(conversion())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use kubeforge::webhook::conversion::{assert_hub_round_trip, assert_round_trip};
    use proptest::prelude::*;

    use super::*;

    /// A {{ kind }} {{ version }} with these labels and replicas.
    /// TODO(user): generate every field of your spec and status.
    fn hub(labels: BTreeMap<String, String>, replicas: i32) -> {{ kind }} {
        let mut object: {{ kind }} = serde_json::from_value(serde_json::json!({
            "apiVersion": "{{ api_version }}",
            "kind": "{{ kind }}",
            "metadata": { "name": "sample" },
            "spec": { "replicas": replicas },
        }))
        .unwrap();
        object.metadata.labels = Some(labels);
        object
    }

    #[test]
    fn every_spoke_is_registered() {
        conversion().check().unwrap();
    }

    proptest! {
        /// The API server converts stored objects on every read in another
        /// version: each spoke must carry everything across and back.
        #[test]
        fn objects_survive_every_spoke(
            labels in prop::collection::btree_map("[a-z]{1,8}", "[a-z0-9]{0,8}", 0..4),
            replicas in 0..100i32,
        ) {
            let hub = hub(labels, replicas);{% for spoke in spokes %}
            assert_hub_round_trip::<{{ kind }}, {{ spoke.spoke_type_path }}>(hub.clone());
            let spoke: {{ spoke.spoke_type_path }} = hub.clone().into();
            assert_round_trip::<{{ kind }}, {{ spoke.spoke_type_path }}>(spoke);{% endfor %}
        }
    }
}
{% endif %}