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

//! Defaulting for MyApp v1: sets what a CRD schema's
//! `default` cannot express, before the object is validated and stored.

use kubeforge::kube::ResourceExt as _;
use kubeforge::webhook::{AdmissionContext, Defaulter, Denial, WebhookServer};

use myapp_api::apps::v1::MyApp;

/// The label every MyApp gets, set to its name when missing.
pub const NAME_LABEL: &str = "app.kubernetes.io/name";

/// Sets defaults on MyApp objects when they are created or updated.
/// kubeforge answers the API server with the JSON patch from the object as
/// sent to the object as this leaves it.
///
/// `kubeforge manifests` writes the MutatingWebhookConfiguration in
/// config/webhook from the `#[webhook]` attribute, which also gives the
/// type its `PATH`.
#[kubeforge::webhook(
    path = "/mutate-apps-example-com-v1-myapp",
    mutating = true,
    failure_policy = "fail",
    side_effects = "None",
    groups = ["apps.example.com"],
    resources = ["myapps"],
    verbs = ["create", "update"],
    versions = ["v1"],
    name = "mmyapp-v1.kb.io",
    admission_review_versions = ["v1"]
)]
#[derive(Clone, Debug, Default)]
pub struct MyAppDefaulter;

impl Defaulter<MyApp> for MyAppDefaulter {
    async fn set_defaults(
        &self,
        _context: &AdmissionContext,
        object: &mut MyApp,
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

/// Serves [`MyAppDefaulter`] at its path; main.rs calls this.
pub fn register(server: WebhookServer) -> WebhookServer {
    let path = MyAppDefaulter::PATH;
    server.defaulter_at::<MyApp, _>(path, MyAppDefaulter)
}

#[cfg(test)]
mod tests {
    use kubeforge::webhook::Operation;

    use super::*;

    #[tokio::test]
    async fn labels_objects_with_their_name() {
        let mut object: MyApp = serde_json::from_value(serde_json::json!({
            "apiVersion": "apps.example.com/v1",
            "kind": "MyApp",
            "metadata": { "name": "sample" },
            "spec": {}
        }))
        .unwrap();
        let context = AdmissionContext::new(Operation::Create);
        let defaulter = MyAppDefaulter;
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
