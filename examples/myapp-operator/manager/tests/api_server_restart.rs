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

//! The operator survives its API server restarting (an upgrade, a crash):
//! its watches break, resume once the server is back, and changes made
//! after the restart are still acted on.

mod common;

use std::time::Duration;

use common::{Cluster, eventually, eventually_within};
use kubeforge::k8s_openapi::api::apps::v1::Deployment;
use kubeforge::k8s_openapi::api::core::v1::ConfigMap;
use kubeforge::kube::Api;
use kubeforge::kube::api::{Patch, PatchParams};
use myapp_manager::controller::my_app::registry_namespace;
use serde_json::json;

#[tokio::test]
async fn keeps_reconciling_after_the_api_server_restarts() -> anyhow::Result<()> {
    let mut cluster = Cluster::start_private().await?;
    let operator = cluster.start_operator()?;
    let deployments = cluster.api::<Deployment>();
    cluster
        .create_app("before", json!({ "image": "nginx:1.27" }))
        .await?;
    eventually("the first Deployment", || async {
        Ok(deployments.get_opt("before").await?)
    })
    .await?;

    cluster.env.restart_api_server().await?;
    // The new server's watch cache starts empty, so every watch resuming
    // from its last resource version is told "410 Gone" and lists again.
    // Each watch backs off on its own (kubeforge::lean; up to 30 s plus
    // jitter), so resuming takes seconds, but allow for a loaded machine.
    let resumed = Duration::from_secs(120);

    // A change to an object the operator already knew about...
    deployments
        .patch(
            "before",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "replicas": 5 } })),
        )
        .await?;
    eventually_within(resumed, "the Deployment to be scaled back", || async {
        let replicas = deployments.get("before").await?.spec.replicas;
        Ok((replicas == Some(1)).then_some(()))
    })
    .await?;
    // ...and an object it has never seen are both reconciled.
    cluster
        .create_app("after", json!({ "image": "nginx:1.27" }))
        .await?;
    eventually_within(resumed, "the second Deployment", || async {
        Ok(deployments.get_opt("after").await?)
    })
    .await?;
    let registry: Api<ConfigMap> = Api::namespaced(cluster.admin.clone(), &registry_namespace());
    eventually_within(resumed, "the second registry entry", || async {
        Ok(registry.get_opt(&cluster.registry_entry("after")).await?)
    })
    .await?;

    operator.stop().await?;
    cluster.env.stop().await;
    Ok(())
}
