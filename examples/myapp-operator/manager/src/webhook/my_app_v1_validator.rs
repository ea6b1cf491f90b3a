// Copyright the project authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

//! Validation for MyApp v1: the checks a CRD schema and its
//! CEL rules cannot make, on create, update and delete.

use kubeforge::kube::ResourceExt as _;
use kubeforge::webhook::{AdmissionContext, Denial, Validator, Warnings, WebhookServer};

use myapp_api::apps::v1::MyApp;

use super::image_reference;

/// Decides whether MyApp objects may be created, updated or deleted.
/// A [`Denial`] names the field and says why; warnings reach `kubectl`.
///
/// `kubeforge manifests` writes the ValidatingWebhookConfiguration in
/// config/webhook from the `#[webhook]` attribute, which also gives the
/// type its `PATH`. Add "delete" to `verbs` to have deletes checked too.
#[kubeforge::webhook(
    path = "/validate-apps-example-com-v1-myapp",
    mutating = false,
    failure_policy = "fail",
    side_effects = "None",
    groups = ["apps.example.com"],
    resources = ["myapps"],
    verbs = ["create", "update"],
    versions = ["v1"],
    name = "vmyapp-v1.kb.io",
    admission_review_versions = ["v1"]
)]
#[derive(Clone, Debug, Default)]
pub struct MyAppValidator;

impl MyAppValidator {
    /// The checks every create and update makes: the name becomes a label
    /// value, which has at most 63 characters (a name may have 253), and
    /// `spec.image` must be an image reference a registry accepts, with a
    /// warning when it is not pinned to a version.
    fn check(object: &MyApp) -> Result<Warnings, Denial> {
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
        let image = &object.spec.image;
        let reference = image_reference::parse(image).map_err(|problem| {
            Denial::field(
                "spec.image",
                format!("{image:?} is not a valid image reference: {problem}"),
            )
        })?;
        Ok(image_reference::pin_warning(image, &reference)
            .into_iter()
            .collect())
    }
}

// ANCHOR: validator
impl Validator<MyApp> for MyAppValidator {
    async fn validate_create(
        &self,
        _context: &AdmissionContext,
        object: &MyApp,
    ) -> Result<Warnings, Denial> {
        Self::check(object)
    }

    async fn validate_update(
        &self,
        _context: &AdmissionContext,
        _old: &MyApp,
        new: &MyApp,
    ) -> Result<Warnings, Denial> {
        // TODO(user): compare `_old` and `new` for fields that must not change.
        Self::check(new)
    }
}
// ANCHOR_END: validator

/// Serves [`MyAppValidator`] at its path; main.rs calls this.
pub fn register(server: WebhookServer) -> WebhookServer {
    let path = MyAppValidator::PATH;
    server.validator_at::<MyApp, _>(path, MyAppValidator)
}

#[cfg(test)]
mod tests {
    use kubeforge::webhook::Operation;

    use super::*;

    fn object(name: &str) -> MyApp {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "apps.example.com/v1",
            "kind": "MyApp",
            "metadata": { "name": name },
            "spec": { "image": "nginx:1.27" }
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn denies_names_too_long_for_a_label() {
        let context = AdmissionContext::new(Operation::Create);
        let validator = MyAppValidator;
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

    #[tokio::test]
    async fn checks_the_image() {
        let context = AdmissionContext::new(Operation::Create);
        let validator = MyAppValidator;
        let mut bad = object("sample");
        bad.spec.image = "Nginx:1.27".into();
        let denial = validator.validate_create(&context, &bad).await.unwrap_err();
        assert!(denial.message().starts_with("spec.image: "), "{denial}");
        assert!(denial.message().contains("\"Nginx\""), "{denial}");

        let mut unpinned = object("sample");
        unpinned.spec.image = "nginx".into();
        let warnings = validator
            .validate_create(&context, &unpinned)
            .await
            .unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("pin a version"), "{warnings:?}");
    }
}
