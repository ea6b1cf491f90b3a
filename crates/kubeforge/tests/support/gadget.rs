//! The Gadget kind both webhook test files serve: a hub (`v1`) and a spoke
//! (`v1beta1`, whose `size` is the hub's `replicas`) converted with `From`,
//! and a patient wait for what the API server does eventually.

#![allow(dead_code)] // each test file uses only part of it

use std::future::Future;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{RuleWithOperations, WebhookClientConfig};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The kind's API group.
pub const GROUP: &str = "webhooks.kubeforge.test";
/// Its CRD's name.
pub const CRD_NAME: &str = "gadgets.webhooks.kubeforge.test";
/// How long [`eventually`] waits: it bounds a hang, it does not measure speed.
pub const WAIT_LIMIT: Duration = Duration::from_secs(90);

pub mod v1 {
    use super::*;

    /// The hub.
    #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
    #[kube(
        group = "webhooks.kubeforge.test",
        version = "v1",
        kind = "Gadget",
        namespaced
    )]
    pub struct GadgetSpec {
        pub image: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub replicas: Option<i32>,
    }
}

pub mod v1beta1 {
    use super::*;

    /// The spoke: `size` is the hub's `replicas`.
    #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
    #[kube(
        group = "webhooks.kubeforge.test",
        version = "v1beta1",
        kind = "Gadget",
        namespaced
    )]
    pub struct GadgetSpec {
        pub image: String,
        pub size: i32,
    }
}

impl From<v1beta1::Gadget> for v1::Gadget {
    fn from(spoke: v1beta1::Gadget) -> Self {
        let mut hub = v1::Gadget::new(
            "",
            v1::GadgetSpec {
                image: spoke.spec.image,
                replicas: Some(spoke.spec.size),
            },
        );
        hub.metadata = spoke.metadata;
        hub
    }
}

impl From<v1::Gadget> for v1beta1::Gadget {
    fn from(hub: v1::Gadget) -> Self {
        let mut spoke = v1beta1::Gadget::new(
            "",
            v1beta1::GadgetSpec {
                image: hub.spec.image,
                size: hub.spec.replicas.unwrap_or(1),
            },
        );
        spoke.metadata = hub.metadata;
        spoke
    }
}

/// A hub Gadget in no namespace yet.
pub fn gadget(name: &str, image: &str) -> v1::Gadget {
    v1::Gadget::new(
        name,
        v1::GadgetSpec {
            image: image.into(),
            replicas: None,
        },
    )
}

/// Retries `attempt` until it succeeds, panicking with its last error after
/// [`WAIT_LIMIT`].
pub async fn eventually<T, F, Fut>(what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(last) if tokio::time::Instant::now() > deadline => {
                panic!("gave up waiting for {what}; last: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// The admission rules of both webhooks: Gadgets, created or updated.
pub fn rules() -> Option<Vec<RuleWithOperations>> {
    Some(vec![RuleWithOperations {
        api_groups: Some(vec![GROUP.into()]),
        api_versions: Some(vec!["v1".into()]),
        operations: Some(vec!["CREATE".into(), "UPDATE".into()]),
        resources: Some(vec!["gadgets".into()]),
        scope: None,
    }])
}

/// A client config for `https://127.0.0.1:<port><path>`, trusting `ca_pem`;
/// without one, the API server trusts nothing there until a caBundle is
/// injected.
pub fn client_config(port: u16, path: &str, ca_pem: Option<&str>) -> WebhookClientConfig {
    WebhookClientConfig {
        url: Some(format!("https://127.0.0.1:{port}{path}")),
        ca_bundle: ca_pem.map(|pem| ByteString(pem.as_bytes().to_vec())),
        service: None,
    }
}
