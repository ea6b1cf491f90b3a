{{ license_header }}//! The {{ project_name }} operator's admission and conversion webhooks, one
//! module per kind, version and webhook. main.rs registers each with the
//! manager, which serves them over HTTPS (port 9443 by default) on every
//! replica; `kubeforge manifests` writes config/webhook/manifests.yaml from
//! their `#[webhook]` attributes.

// +kubeforge:scaffold:webhooks
