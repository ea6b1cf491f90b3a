//! Installing CustomResourceDefinitions and waiting until the API server serves them, so a
//! test can create custom objects the moment `start()` returns.

use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::Error;
use crate::api::ApiClient;
use crate::manifests::{CrdView, Object};

/// How often a CRD's state is polled, and how long it may take to become servable
/// (envtest's values).
const POLL: Duration = Duration::from_millis(100);
const SERVABLE_TIMEOUT: Duration = Duration::from_secs(20);

const CRDS_PATH: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

/// Creates or updates the CRDs by server-side apply, then waits until each is Established
/// and every served version answers a list request (Established alone can precede the
/// handler by a moment).
pub(crate) async fn install(api: &ApiClient, crds: &[Object]) -> Result<(), Error> {
    for crd in crds {
        api.apply(&format!("{CRDS_PATH}/{}", crd.name), &crd.doc)
            .await
            .map_err(|e| e.during(format!("installing CRD {}", crd.name)))?;
    }
    let deadline = Instant::now() + SERVABLE_TIMEOUT;
    for crd in crds {
        loop {
            let last = match servable(api, &crd.name).await {
                Ok(()) => break,
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(Error::Timeout(format!(
                    "CRD {} not servable: {last}",
                    crd.name
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }
    Ok(())
}

/// `Ok` once the CRD is Established and each served version can be listed; otherwise why not.
async fn servable(api: &ApiClient, name: &str) -> Result<(), String> {
    let object = api
        .get(&format!("{CRDS_PATH}/{name}"))
        .await
        .map_err(|e| e.to_string())?;
    let crd = CrdView::deserialize(&object).map_err(|e| format!("unexpected answer: {e}"))?;
    let established = crd.status.as_ref().is_some_and(|status| {
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
    });
    if !established {
        return Err("not established yet".into());
    }
    for version in crd.spec.versions.iter().filter(|v| v.served) {
        let path = format!(
            "/apis/{}/{}/{}?limit=1",
            crd.spec.group, version.name, crd.spec.names.plural
        );
        api.get(&path)
            .await
            .map_err(|e| format!("{} {}: {e}", crd.spec.names.kind, version.name))?;
    }
    Ok(())
}
