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

//! The API server rejects invalid MyApps itself, from the CRD's schema
//! (generated from the `#[field]` attributes), before any controller sees
//! them; each rejection names the field and the rule.

mod common;

use common::Cluster;
use kubeforge::kube::Api;
use kubeforge::kube::api::{ApiResource, DynamicObject, PostParams};
use myapp_api::apps::v1::MyApp;
use serde_json::json;

#[tokio::test]
async fn invalid_specs_are_rejected_with_the_servers_message() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    // Untyped objects: `MyAppSpec` cannot even hold a missing image, and
    // the point is what the server accepts, not what the Rust types allow.
    let resource = ApiResource::erase::<MyApp>(&());
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.admin.clone(), &cluster.namespace, &resource);
    let cases = [
        (
            json!({ "replicas": 101, "image": "nginx" }),
            "spec.replicas: Invalid value: 101: spec.replicas in body should be less than or equal to 100",
        ),
        (
            json!({ "image": "" }),
            "spec.image: Invalid value: \"\": spec.image in body should be at least 1 chars long",
        ),
        (
            json!({ "image": "nginx", "port": 0 }),
            "spec.port: Invalid value: 0: spec.port in body should be greater than or equal to 1",
        ),
        (json!({ "replicas": 1 }), "spec.image: Required value"),
    ];
    for (spec, expected) in cases {
        let app = DynamicObject::new("invalid", &resource)
            .within(&cluster.namespace)
            .data(json!({ "spec": spec }));
        let error = api
            .create(&PostParams::default(), &app)
            .await
            .expect_err("an invalid MyApp must be rejected");
        let kubeforge::kube::Error::Api(status) = error else {
            panic!("expected the API server's rejection, got {error}");
        };
        assert_eq!(status.code, 422, "{status:?}");
        assert!(
            status.message.contains(expected),
            "{expected:?} in {:?}",
            status.message
        );
    }

    // The defaults fill in what a valid MyApp leaves out.
    let valid = DynamicObject::new("valid", &resource)
        .within(&cluster.namespace)
        .data(json!({ "spec": { "image": "nginx" } }));
    api.create(&PostParams::default(), &valid).await?;
    let created = cluster.api::<MyApp>().get("valid").await?;
    assert_eq!((created.spec.replicas, created.spec.port), (1, 8080));

    cluster.env.stop().await;
    Ok(())
}
