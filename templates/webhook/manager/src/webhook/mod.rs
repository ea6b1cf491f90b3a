{{ license_header }}//! The {{ project_name }} operator's admission and conversion webhooks, one
//! module per kind, version and webhook. The manager serves them over HTTPS
//! (port 9443 by default) on every replica; `kubeforge manifests` writes
//! config/webhook/manifests.yaml from their `#[webhook]` attributes.

use kubeforge::webhook::WebhookServer;

// +kubeforge:scaffold:webhooks

/// Adds every webhook of the operator to `server`: what main.rs serves,
/// and what the tests serve to a real API server.
pub fn register(mut server: WebhookServer) -> WebhookServer {
    // +kubeforge:scaffold:webhook-registrations
    server
}
