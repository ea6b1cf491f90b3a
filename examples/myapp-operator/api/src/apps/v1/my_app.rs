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

//! The MyApp kind, version v1 of apps.example.com.

use kubeforge::k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use serde::{Deserialize, Serialize};

// ANCHOR: spec
/// A MyApp runs a stateless web application: a Deployment of `replicas` pods
/// running `image`, exposed inside the cluster by a Service on `port`. The
/// operator creates both, keeps them as the MyApp says, and reports their
/// health in the status.
#[kubeforge::crd(
    group = "apps.example.com",
    version = "v1",
    kind = "MyApp",
    plural = "myapps",
    scope = "Namespaced",
    status = MyAppStatus,
    shortnames = ["ma"],
    printcolumn(name = "Replicas", type = "integer", json_path = ".spec.replicas", description = "Desired replicas"),
    printcolumn(name = "Ready", type = "integer", json_path = ".status.readyReplicas", description = "Replicas ready to serve"),
    printcolumn(name = "Age", type = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct MyAppSpec {
    /// How many pods to run. 0 keeps the Deployment and Service but stops
    /// every pod.
    #[field(minimum = 0, maximum = 100, default = 1)]
    pub replicas: i32,
    /// The container image to run, e.g. `nginx:1.27`.
    #[field(min_length = 1)]
    pub image: String,
    /// The port the application listens on; the Service exposes the same port.
    #[field(minimum = 1, maximum = 65535, default = 8080)]
    pub port: i32,
}
// ANCHOR_END: spec

// ANCHOR: status
/// The observed state of a MyApp, written by its controller.
#[kubeforge::schema]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MyAppStatus {
    /// How many pods of the Deployment are ready, as the Deployment reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// The `.metadata.generation` this status describes, so clients can
    /// tell whether the controller has seen the latest spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The latest observations of the MyApp's state, one per type:
    /// `Available` (enough replicas are ready), `Progressing` (a rollout is
    /// under way) and `Degraded` (reconciling or rolling out failed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[field(list_type = "map", list_map_keys = ["type"])]
    pub conditions: Vec<Condition>,
}
// ANCHOR_END: status
