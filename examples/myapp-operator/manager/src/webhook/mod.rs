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

//! The myapp operator's admission and conversion webhooks, one
//! module per kind, version and webhook. The manager serves them over HTTPS
//! (port 9443 by default) on every replica; `kubeforge manifests` writes
//! config/webhook/manifests.yaml from their `#[webhook]` attributes.

use kubeforge::webhook::WebhookServer;

pub mod image_reference;
pub mod my_app_v1_defaulter;
pub mod my_app_v1_validator;
// +kubeforge:scaffold:webhooks

/// Adds every webhook of the operator to `server`: what main.rs serves,
/// and what the tests serve to a real API server.
pub fn register(mut server: WebhookServer) -> WebhookServer {
    server = my_app_v1_defaulter::register(server);
    server = my_app_v1_validator::register(server);
    // +kubeforge:scaffold:webhook-registrations
    server
}
