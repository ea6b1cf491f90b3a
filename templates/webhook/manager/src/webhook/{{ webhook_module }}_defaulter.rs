{% if defaulting %}{{ license_header }}//! Defaulting for {{ kind }} {{ version }}: sets what a CRD schema's
//! `default` cannot express, before the object is validated and stored.

use kubeforge::kube::ResourceExt as _;
use kubeforge::webhook::{AdmissionContext, Defaulter, Denial, WebhookServer};

use {{ type_path }};

/// The label every {{ kind }} gets, set to its name when missing.
pub const NAME_LABEL: &str = "app.kubernetes.io/name";

/// Sets defaults on {{ kind }} objects when they are created or updated.
/// kubeforge answers the API server with the JSON patch from the object as
/// sent to the object as this leaves it.
///
/// `kubeforge manifests` writes the MutatingWebhookConfiguration in
/// config/webhook from the `#[webhook]` attribute, which also gives the
/// type its `PATH`.
#[kubeforge::webhook(
    path = "{{ defaulting_path }}",
    mutating = true,
    failure_policy = "fail",
    side_effects = "None",
    groups = ["{{ api_group }}"],
    resources = ["{{ plural }}"],
    verbs = ["create", "update"],
    versions = ["{{ version }}"],
    name = "{{ defaulting_name }}",
    admission_review_versions = ["v1"]
)]
#[derive(Clone, Debug, Default)]
pub struct {{ kind }}Defaulter;

impl Defaulter<{{ kind }}> for {{ kind }}Defaulter {
    async fn set_defaults(
        &self,
        _context: &AdmissionContext,
        object: &mut {{ kind }},
    ) -> Result<(), Denial> {
        // TODO(user): your defaults. An example: metadata defaulting that a
        // CRD schema cannot express. A label value has at most 63
        // characters; a longer name is left to the validator to refuse.
        let name = object.name_any();
        if !name.is_empty() && name.len() <= 63 {
            object
                .labels_mut()
                .entry(NAME_LABEL.to_string())
                .or_insert(name);
        }
        Ok(())
    }
}

/// Serves [`{{ kind }}Defaulter`] at its path; main.rs calls this.
pub fn register(server: WebhookServer) -> WebhookServer {
    let path = {{ kind }}Defaulter::PATH;
    server.defaulter_at::<{{ kind }}, _>(path, {{ kind }}Defaulter)
}

#[cfg(test)]
mod tests {
    use kubeforge::webhook::Operation;

    use super::*;

    #[tokio::test]
    async fn labels_objects_with_their_name() {
        let mut object: {{ kind }} = serde_json::from_value(serde_json::json!({
            "apiVersion": "{{ api_version }}",
            "kind": "{{ kind }}",
            "metadata": { "name": "sample" },
            "spec": {}
        }))
        .unwrap();
        let context = AdmissionContext::new(Operation::Create);
        let defaulter = {{ kind }}Defaulter;
        defaulter.set_defaults(&context, &mut object).await.unwrap();
        assert_eq!(
            object.labels().get(NAME_LABEL).map(String::as_str),
            Some("sample")
        );

        // A label the user set is kept.
        object.labels_mut().insert(NAME_LABEL.into(), "mine".into());
        defaulter.set_defaults(&context, &mut object).await.unwrap();
        assert_eq!(
            object.labels().get(NAME_LABEL).map(String::as_str),
            Some("mine")
        );
    }
}
{% endif %}