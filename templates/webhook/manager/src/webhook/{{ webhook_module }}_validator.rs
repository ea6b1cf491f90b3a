{% if validation %}{{ license_header }}//! Validation for {{ kind }} {{ version }}: the checks a CRD schema and its
//! CEL rules cannot make, on create, update and delete.

use kubeforge::kube::ResourceExt as _;
use kubeforge::webhook::{AdmissionContext, Denial, Validator, Warnings, WebhookServer};

use {{ type_path }};

/// Decides whether {{ kind }} objects may be created, updated or deleted.
/// A [`Denial`] names the field and says why; warnings reach `kubectl`.
///
/// `kubeforge manifests` writes the ValidatingWebhookConfiguration in
/// config/webhook from the `#[webhook]` attribute, which also gives the
/// type its `PATH`. Add "delete" to `verbs` to have deletes checked too.
#[kubeforge::webhook(
    path = "{{ validation_path }}",
    mutating = false,
    failure_policy = "fail",
    side_effects = "None",
    groups = ["{{ api_group }}"],
    resources = ["{{ plural }}"],
    verbs = ["create", "update"],
    versions = ["{{ version }}"],
    name = "{{ validation_name }}",
    admission_review_versions = ["v1"]
)]
#[derive(Clone, Debug, Default)]
pub struct {{ kind }}Validator;

impl {{ kind }}Validator {
    /// The checks every create and update makes. TODO(user): yours. An
    /// example: the name becomes a label value, which has at most 63
    /// characters (a name may have 253).
    fn check(object: &{{ kind }}) -> Result<Warnings, Denial> {
        let name = object.name_any();
        if name.len() > 63 {
            return Err(Denial::field(
                "metadata.name",
                format!(
                    "must be at most 63 characters to be used as a label value, not {}",
                    name.len()
                ),
            ));
        }
        Ok(Warnings::new())
    }
}

impl Validator<{{ kind }}> for {{ kind }}Validator {
    async fn validate_create(
        &self,
        _context: &AdmissionContext,
        object: &{{ kind }},
    ) -> Result<Warnings, Denial> {
        Self::check(object)
    }

    async fn validate_update(
        &self,
        _context: &AdmissionContext,
        _old: &{{ kind }},
        new: &{{ kind }},
    ) -> Result<Warnings, Denial> {
        // TODO(user): compare `_old` and `new` for fields that must not change.
        Self::check(new)
    }
}

/// Serves [`{{ kind }}Validator`] at its path; main.rs calls this.
pub fn register(server: WebhookServer) -> WebhookServer {
    let path = {{ kind }}Validator::PATH;
    server.validator_at::<{{ kind }}, _>(path, {{ kind }}Validator)
}

#[cfg(test)]
mod tests {
    use kubeforge::webhook::Operation;

    use super::*;

    fn object(name: &str) -> {{ kind }} {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "{{ api_version }}",
            "kind": "{{ kind }}",
            "metadata": { "name": name },
            "spec": {}
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn denies_names_too_long_for_a_label() {
        let context = AdmissionContext::new(Operation::Create);
        let validator = {{ kind }}Validator;
        let long = "a".repeat(64);
        let denial = validator
            .validate_create(&context, &object(&long))
            .await
            .unwrap_err();
        assert!(denial.message().contains("metadata.name"), "{denial}");
        let warnings = validator
            .validate_update(&context, &object("sample"), &object("sample"))
            .await
            .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
    }
}
{% endif %}