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

//! The MyApp v1 defaulting webhook, called by a real API
//! server over TLS: what the defaulter sets is what gets stored.

mod webhook_server;

use kubeforge::kube::ResourceExt as _;
use kubeforge::kube::api::{Api, PostParams};

use myapp_api::apps::v1::MyApp;
use myapp_manager::webhook::my_app_v1_defaulter::NAME_LABEL;

#[tokio::test]
async fn the_api_server_stores_the_defaults() -> anyhow::Result<()> {
    let running = webhook_server::start().await?;
    let client = running.env.client();
    let api: Api<MyApp> = Api::namespaced(client, running.env.namespace().await?);
    let sample: MyApp = serde_json::from_value(serde_json::json!({
        "apiVersion": "apps.example.com/v1",
        "kind": "MyApp",
        "metadata": { "name": "sample" },
        "spec": {},
    }))?;
    let created = api.create(&PostParams::default(), &sample).await?;
    assert_eq!(
        created.labels().get(NAME_LABEL).map(String::as_str),
        Some("sample")
    );
    running.stop().await
}
