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

/// A MyApp is the desired state of ... (TODO(user): say what a MyApp
/// is; this comment becomes the CRD's description).
#[kubeforge::crd(
    group = "apps.example.com",
    version = "v1",
    kind = "MyApp",
    plural = "myapps",
    scope = "Namespaced",
    status = MyAppStatus
)]
#[serde(rename_all = "camelCase")]
pub struct MyAppSpec {
    /// How many replicas to run. An example field: TODO(user) replace it
    /// with your kind's desired state.
    #[field(minimum = 0, maximum = 100, default = 1)]
    pub replicas: i32,
}

/// The observed state of a MyApp, written by its controller.
#[kubeforge::schema]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MyAppStatus {
    /// The `.metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The latest observations of the MyApp's state, one per type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[field(list_type = "map", list_map_keys = ["type"])]
    pub conditions: Vec<Condition>,
}
