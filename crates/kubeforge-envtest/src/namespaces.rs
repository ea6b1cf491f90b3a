//! The test's own namespaces (feature `client`): unique names, creation, and deletion with
//! everything in them, since envtest runs no namespace controller. Used by
//! [`Environment::namespace`](crate::Environment::namespace) and a shared handle's `stop`.

use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, ObjectMeta, Patch, PatchParams, PostParams,
};
use kube::discovery::{Discovery, Scope, verbs};

use crate::Error;

/// A namespace name unique in this process: `test-<n>-<test name>-<random>`, the test name
/// (libtest names each test's thread after it) making leftovers easy to attribute.
pub(crate) fn unique_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let test = std::thread::current()
        .name()
        .filter(|name| *name != "main")
        .map(|name| name.rsplit("::").next().unwrap_or(name).to_owned())
        .unwrap_or_default();
    let mut label: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    // A DNS label has at most 63 characters; keep room for the counter and the suffix.
    label.truncate(30);
    let label = label.trim_matches('-');
    let random = format!("{:05x}", random & 0xf_ffff);
    if label.is_empty() {
        format!("test-{n}-{random}")
    } else {
        format!("test-{n}-{label}-{random}")
    }
}

/// Creates the namespace `name`.
pub(crate) async fn create(client: &kube::Client, name: &str) -> Result<(), Error> {
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([("kubeforge.dev/envtest".to_string(), "test".to_string())].into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .map(|_| ())
        .map_err(|e| Error::kube(format!("creating namespace {name}"), e))
}

/// Deletes the namespace `name` and everything in it, and waits for nothing.
///
/// envtest runs no kube-controller-manager, so nothing would empty a deleted namespace: it
/// would stay `Terminating` with all its objects. So this does the namespace controller's
/// job: mark the namespace deleted (no new objects can be created in it), delete every
/// namespaced kind in it, drop the finalizers of what remains (the controllers that would
/// remove them are stopped with the test), then finalize the namespace.
pub(crate) async fn delete(client: &kube::Client, name: &str) -> Result<(), Error> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    match namespaces.delete(name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(()),
        Err(e) => return Err(Error::kube(format!("deleting namespace {name}"), e)),
    }
    let discovery = Discovery::new(client.clone())
        .run_aggregated()
        .await
        .map_err(|e| Error::kube("discovering the API to empty a namespace", e))?;
    for group in discovery.groups() {
        for (resource, capabilities) in group.recommended_resources() {
            if capabilities.scope != Scope::Namespaced
                || !capabilities.supports_operation(verbs::DELETE_COLLECTION)
            {
                continue;
            }
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), name, &resource);
            let what = || format!("deleting {} in namespace {name}", resource.plural);
            let deleted = api
                .delete_collection(&DeleteParams::background(), &ListParams::default())
                .await
                .map_err(|e| Error::kube(what(), e))?;
            if deleted.left().is_some_and(|list| list.items.is_empty()) {
                continue;
            }
            let no_finalizers = serde_json::json!({ "metadata": { "finalizers": null } });
            for object in api
                .list(&ListParams::default())
                .await
                .map_err(|e| Error::kube(what(), e))?
            {
                let Some(object_name) = object.metadata.name.as_deref() else {
                    continue;
                };
                match api
                    .patch(
                        object_name,
                        &PatchParams::default(),
                        &Patch::Merge(&no_finalizers),
                    )
                    .await
                {
                    Ok(_) => {}
                    Err(kube::Error::Api(status)) if status.code == 404 => {}
                    Err(e) => return Err(Error::kube(what(), e)),
                }
            }
        }
    }
    let finalized = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: Some(Default::default()),
        ..Namespace::default()
    };
    match namespaces
        .replace_subresource("finalize", name, &PostParams::default(), &finalized)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(Error::kube(format!("finalizing namespace {name}"), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names_are_unique_dns_labels_naming_the_test() {
        let a = unique_name();
        let b = unique_name();
        assert_ne!(a, b);
        for name in [&a, &b] {
            assert!(name.len() <= 63, "{name}");
            assert!(name.starts_with("test-"), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
            assert!(!name.ends_with('-'), "{name}");
        }
        // libtest names the thread after the test.
        assert!(a.contains("namespace-names-are-unique"), "{a}");
    }
}
