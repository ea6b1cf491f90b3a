//! Installing CustomResourceDefinitions and waiting until the API server serves them, so a
//! test can create custom objects the moment `start()` returns.

use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;

use crate::{Error, FIELD_MANAGER};

/// How often a CRD's state is polled, and how long it may take to become servable
/// (envtest's values).
const POLL: Duration = Duration::from_millis(100);
const SERVABLE_TIMEOUT: Duration = Duration::from_secs(20);

/// Creates or updates the CRDs by server-side apply, then waits until each is Established
/// and every served version answers a list request (Established alone can precede the
/// handler by a moment).
pub(crate) async fn install(
    client: &kube::Client,
    crds: &[CustomResourceDefinition],
) -> Result<(), Error> {
    if crds.is_empty() {
        return Ok(());
    }
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let mut crd = crd.clone();
        // Server-side apply rejects these if they came from a dumped object.
        crd.metadata.resource_version = None;
        crd.metadata.managed_fields = None;
        crd.status = None;
        api.patch(&name, &params, &Patch::Apply(&crd))
            .await
            .map_err(|e| Error::kube(format!("installing CRD {name}"), e))?;
    }
    let deadline = Instant::now() + SERVABLE_TIMEOUT;
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        loop {
            let last = match servable(client, &api, &name).await {
                Ok(()) => break,
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(Error::Timeout(format!("CRD {name} not servable: {last}")));
            }
            tokio::time::sleep(POLL).await;
        }
    }
    Ok(())
}

/// `Ok` once the CRD is Established and each served version can be listed; otherwise why not.
async fn servable(
    client: &kube::Client,
    api: &Api<CustomResourceDefinition>,
    name: &str,
) -> Result<(), String> {
    let crd = api.get(name).await.map_err(|e| e.to_string())?;
    let established = crd
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conds| {
            conds
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        });
    if !established {
        return Err("not established yet".into());
    }
    for version in crd.spec.versions.iter().filter(|v| v.served) {
        let gvk = GroupVersionKind::gvk(&crd.spec.group, &version.name, &crd.spec.names.kind);
        let resource = ApiResource::from_gvk_with_plural(&gvk, &crd.spec.names.plural);
        let objects: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        objects
            .list(&ListParams::default().limit(1))
            .await
            .map_err(|e| format!("{}: {e}", version.name))?;
    }
    Ok(())
}
