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

//! The MyApp v1 validating webhook, called by a real API
//! server over TLS: a denial reaches the client with the field it names.

mod webhook_server;

use kubeforge::kube::api::{Api, PostParams};

use myapp_api::apps::v1::MyApp;

#[tokio::test]
async fn the_api_server_denies_what_the_validator_denies() -> anyhow::Result<()> {
    let running = webhook_server::start().await?;
    let client = running.env.client();
    let api: Api<MyApp> = Api::namespaced(client, running.env.namespace().await?);
    let too_long: MyApp = serde_json::from_value(serde_json::json!({
        "apiVersion": "apps.example.com/v1",
        "kind": "MyApp",
        "metadata": { "name": "a".repeat(64) },
        "spec": {},
    }))?;
    let denied = api
        .create(&PostParams::default(), &too_long)
        .await
        .expect_err("a 64-character name is denied");
    assert!(denied.to_string().contains("metadata.name"), "{denied}");
    running.stop().await
}
