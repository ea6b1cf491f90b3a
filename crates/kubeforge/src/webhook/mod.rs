//! Admission and conversion webhooks: the runtime half of Kubebuilder's
//! `create webhook` (feature `runtime`).
//!
//! - [`Defaulter`] and [`Validator`] are controller-runtime's CustomDefaulter
//!   and CustomValidator for a kind's Rust type: user code sees typed objects,
//!   kubeforge turns what it does into an AdmissionReview response (an RFC 6902
//!   JSON patch for defaults; a denial naming the field; warnings kubectl prints).
//! - [`conversion::Conversion`] serves a kind's ConversionReview through a hub
//!   version, with each spoke converted by Rust's own `From`/`TryFrom`.
//! - [`WebhookServer`] serves them over HTTPS on Kubebuilder's paths and port,
//!   reloading the certificate when cert-manager renews it, or with
//!   [`SelfManagedCerts`]: its own CA and certificate, kept in a Secret and
//!   injected into its webhook configurations, without cert-manager.
//!
//! See docs/webhooks.md for a complete example.

mod admission;
pub mod certs;
pub mod conversion;
mod server;

#[cfg(test)]
mod tests;

pub use admission::{AdmissionContext, Defaulter, Denial, FieldError, Validator, Warnings};
pub use certs::{SelfManagedCerts, ServingCertificate};
pub use conversion::Conversion;
pub use server::{
    BoundWebhookServer, DEFAULT_CERT_DIR, DEFAULT_CERT_NAME, DEFAULT_CONVERSION_PATH,
    DEFAULT_KEY_NAME, DEFAULT_PORT, WebhookConfig, WebhookError, WebhookServer,
};

/// Re-exported so user code can match on it without naming kube's module.
pub use kube::core::admission::Operation;

use kube::Resource;

/// Kubebuilder's path for a kind's defaulting webhook:
/// `/mutate-<group, dots as dashes>-<version>-<kind lowercase>`, e.g.
/// `/mutate-batch-tutorial-kubebuilder-io-v1-cronjob`. The generated
/// MutatingWebhookConfiguration names the same path.
pub fn mutate_path<K: Resource<DynamicType = ()>>() -> String {
    kind_path::<K>("mutate")
}

/// Kubebuilder's path for a kind's validating webhook: `/validate-...`, as
/// [`mutate_path`].
pub fn validate_path<K: Resource<DynamicType = ()>>() -> String {
    kind_path::<K>("validate")
}

fn kind_path<K: Resource<DynamicType = ()>>(prefix: &str) -> String {
    // The core group is "", which gives "/mutate--v1-pod" exactly as
    // controller-runtime does.
    format!(
        "/{prefix}-{}-{}-{}",
        K::group(&()).replace('.', "-"),
        K::version(&()),
        K::kind(&()).to_lowercase()
    )
}
