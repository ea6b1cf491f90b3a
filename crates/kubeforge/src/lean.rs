//! Lean watches: what a controller caches, and how much.
//!
//! A kube-runtime controller keeps every watched object of its kind in
//! memory (its reflector store) for the manager's whole life, so the bytes
//! per object decide how an operator scales. Most of an object's metadata is
//! bookkeeping a reconciler never reads: `managedFields` (one entry per field
//! manager, often larger than a small object's spec) and kubectl's
//! `last-applied-configuration` annotation (a second copy of the object).
//! controller-runtime operators drop `managedFields` with a cache transform
//! (`cache.TransformStripManagedFields`); these helpers do the same for
//! kube-runtime, and bound how many reconciles run at once:
//!
//! - [`controller`]: a `Controller` whose store holds objects without
//!   `managedFields` and the last-applied annotation, running at most
//!   `--max-concurrent-reconciles` reconciles at a time;
//! - [`owned`]: a metadata-only watch of the objects a controller creates,
//!   selected by the operator's `app.kubernetes.io/managed-by` label, for
//!   `Controller::owns_stream`;
//! - [`cached`]: the same watch of whole (stripped) objects, reflected into
//!   a store, for a reconcile that reads its children: it reads them from
//!   memory instead of asking the API server, as controller-runtime's
//!   cache-backed client does;
//! - [`strip`]: the transform itself, for reflectors built by hand
//!   (`watcher(...).modify(kubeforge::lean::strip)`).
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use futures::StreamExt as _;
//! # use kubeforge::kube::{Api, runtime::controller::Action};
//! # use kubeforge::k8s_openapi::api::apps::v1::Deployment;
//! # use kubeforge::k8s_openapi::api::core::v1::ConfigMap as MyApp;
//! # async fn reconcile(_: Arc<MyApp>, _: Arc<()>) -> Result<Action, kubeforge::kube::Error> { Ok(Action::await_change()) }
//! # fn error_policy(_: Arc<MyApp>, _: &kubeforge::kube::Error, _: Arc<()>) -> Action { Action::await_change() }
//! # async fn run(ctx: kubeforge::manager::Context) {
//! let client = ctx.client();
//! kubeforge::lean::controller(Api::<MyApp>::all(client.clone()), Default::default(), &ctx)
//!     .owns_stream(kubeforge::lean::owned::<Deployment>(client, "myapp-operator"))
//!     .graceful_shutdown_on(ctx.shutdown_signal())
//!     .run(reconcile, error_policy, Arc::new(()))
//!     .for_each(|_| async {})
//!     .await;
//! # }
//! ```

use std::fmt::Debug;
use std::hash::Hash;

use futures::{FutureExt as _, Stream};
use kube::api::PartialObjectMeta;
use kube::runtime::reflector::{self, Lookup, Store};
use kube::runtime::{Controller, WatchStreamExt as _, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use crate::manager::Context;

/// The annotation `kubectl apply` (client-side) writes: the whole object
/// again, as JSON. Dropped by [`strip`].
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The well-known label naming the tool that manages an object; [`owned`]
/// watches only objects carrying it with the operator's value.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// Drops what a reconciler does not read from an object before it is
/// cached: `metadata.managedFields` and the [`LAST_APPLIED_ANNOTATION`].
///
/// Both are bookkeeping for the API server and kubectl, often several times
/// the size of a small object, and a controller's store keeps a copy of every
/// object it watches. Server-side apply still works: the API server keeps
/// the field managers, the controller only stops caching them. Do not use it
/// where the object is written back whole with an update (PUT) built from
/// the cached copy: the missing fields would mean "clear them".
pub fn strip<K: Resource>(object: &mut K) {
    let meta = object.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED_ANNOTATION);
        if annotations.is_empty() {
            meta.annotations = None;
        }
    }
}

/// The label selector `app.kubernetes.io/managed-by=<manager>`, for watches
/// of the objects an operator creates (it must set that label on them).
pub fn managed_by_selector(manager: &str) -> String {
    format!("{MANAGED_BY_LABEL}={manager}")
}

/// A watcher configuration for the objects an operator labelled
/// `app.kubernetes.io/managed-by=<manager>`: the API server filters, so the
/// operator never receives (or caches) the rest of the cluster's objects of
/// that kind.
pub fn owned_config(manager: &str) -> watcher::Config {
    watcher::Config::default().labels(&managed_by_selector(manager))
}

/// A `Controller` for `K` whose store holds objects [`strip`]ped of
/// `managedFields` and the last-applied annotation, running at most
/// `ctx`'s `--max-concurrent-reconciles` reconciles at a time.
///
/// Use it where the scaffold used `Controller::new(api, config)`; everything
/// else (`owns`, `owns_stream`, `watches`, `graceful_shutdown_on`, `run`)
/// is kube-runtime's `Controller` as before, and `controller.store()` is the
/// lean store.
pub fn controller<K>(api: Api<K>, config: watcher::Config, ctx: &Context) -> Controller<K>
where
    K: Clone + Resource + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Default,
{
    // As `Controller::new`, plus the `modify` before the reflector: the
    // watcher's raw stream (the controller adds its own backoff), reflected
    // into the store the reconciler reads.
    let (reader, writer) = reflector::store();
    let objects = reflector::reflector(writer, watcher::watcher(api, config).modify(strip::<K>))
        .applied_objects();
    Controller::for_stream(objects, reader).with_config(ctx.controller_config())
}

/// The objects of kind `Child`, in every namespace, labelled
/// `app.kubernetes.io/managed-by=<manager>`, watched by metadata only
/// (ownerReferences are all `owns` needs to find the owner): pass it to
/// `Controller::owns_stream`.
///
/// Nothing is cached: every change triggers a reconcile of the owner, which
/// reads the child itself if it needs more than metadata. For one
/// namespace, use [`owned_in`].
pub fn owned<Child>(
    client: Client,
    manager: &str,
) -> impl Stream<Item = Result<PartialObjectMeta<Child>, watcher::Error>> + Send + 'static
where
    Child: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    Child::DynamicType: Default,
    PartialObjectMeta<Child>: DeserializeOwned + Lookup,
{
    owned_in(Api::all(client), manager)
}

/// [`owned`], through `api` (e.g. `Api::namespaced(client, ns)`): kube
/// makes metadata-only requests for `PartialObjectMeta` kinds.
pub fn owned_in<Child>(
    api: Api<PartialObjectMeta<Child>>,
    manager: &str,
) -> impl Stream<Item = Result<PartialObjectMeta<Child>, watcher::Error>> + Send + 'static
where
    Child: Resource + Clone + Debug + Send + 'static,
    PartialObjectMeta<Child>: DeserializeOwned + Lookup,
{
    watcher::watcher(api, owned_config(manager))
        .modify(strip::<PartialObjectMeta<Child>>)
        .touched_objects()
}

/// The objects of kind `Child` that `api` reaches, labelled
/// `app.kubernetes.io/managed-by=<manager>`, kept whole (but [`strip`]ped)
/// in a store: pass the stream to `Controller::owns_stream` (or
/// `watches_stream`), which keeps the store current, and give the store to
/// the reconciler.
///
/// Why: a reconcile that GETs each child from the API server spends a
/// request (and a token of the client's rate limit) per child on every
/// reconcile, though the controller already hears about every change to
/// them; controller-runtime answers those reads from its informer cache for
/// the same reason. The price is memory: one stripped copy of every child
/// (about 1 to 2 KiB for a Deployment), against [`owned`]'s metadata.
///
/// The store is empty until the first list is in, and an empty store would
/// pass every child off as missing: until [`is_ready`], read from the API
/// server. Do not wait for the store inside a reconcile: on a graceful
/// shutdown the controller stops polling its watches and waits for the
/// reconciles in flight, so a reconcile waiting for a store that is not
/// filled yet would hold the shutdown up until it is aborted. The cache can
/// also lag the API server by a watch event: a child the reconcile wrote a
/// moment ago may still show as it was, so writes must be idempotent
/// (server-side apply is).
pub fn cached<Child>(
    api: Api<Child>,
    manager: &str,
) -> (
    Store<Child>,
    impl Stream<Item = Result<Child, watcher::Error>> + Send + 'static,
)
where
    Child: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    Child::DynamicType: Eq + Hash + Clone + Default,
{
    let (reader, writer) = reflector::store();
    let changes = reflector::reflector(
        writer,
        watcher::watcher(api, owned_config(manager)).modify(strip::<Child>),
    )
    .touched_objects();
    (reader, changes)
}

/// Whether `store` holds its first list, without waiting for it (see
/// [`cached`] for why a reconcile must not wait).
pub fn is_ready<K>(store: &Store<K>) -> bool
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    store
        .wait_until_ready()
        .now_or_never()
        .is_some_and(|ready| ready.is_ok())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
    use kube::api::ObjectMeta;

    use super::*;

    fn annotated(annotations: &[(&str, &str)]) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some("a".into()),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect::<BTreeMap<_, _>>(),
                ),
                managed_fields: Some(vec![ManagedFieldsEntry {
                    manager: Some("kubectl".into()),
                    ..ManagedFieldsEntry::default()
                }]),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([("k".to_owned(), "v".to_owned())])),
            ..ConfigMap::default()
        }
    }

    #[test]
    fn strip_drops_bookkeeping_and_keeps_the_rest() {
        let mut object = annotated(&[(LAST_APPLIED_ANNOTATION, "{}"), ("keep", "me")]);
        strip(&mut object);
        assert_eq!(object.metadata.managed_fields, None);
        assert_eq!(
            object.metadata.annotations,
            Some(BTreeMap::from([("keep".to_owned(), "me".to_owned())]))
        );
        assert_eq!(object.metadata.name.as_deref(), Some("a"));
        assert_eq!(object.data, annotated(&[]).data);
    }

    #[test]
    fn strip_removes_an_emptied_annotation_map() {
        let mut object = annotated(&[(LAST_APPLIED_ANNOTATION, "{}")]);
        strip(&mut object);
        assert_eq!(object.metadata.annotations, None);
    }

    #[test]
    fn a_store_is_ready_once_its_first_list_is_in() {
        let (store, mut writer) = reflector::store::<ConfigMap>();
        assert!(!is_ready(&store));
        writer.apply_watcher_event(&watcher::Event::Init);
        writer.apply_watcher_event(&watcher::Event::InitApply(annotated(&[])));
        assert!(!is_ready(&store), "the list is not complete yet");
        writer.apply_watcher_event(&watcher::Event::InitDone);
        assert!(is_ready(&store));
        assert_eq!(store.state().len(), 1);
    }

    #[test]
    fn owned_watches_select_the_managed_by_label() {
        assert_eq!(
            managed_by_selector("myapp-operator"),
            "app.kubernetes.io/managed-by=myapp-operator"
        );
        assert_eq!(
            owned_config("myapp-operator").label_selector.as_deref(),
            Some("app.kubernetes.io/managed-by=myapp-operator")
        );
    }
}
