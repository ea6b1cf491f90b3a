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
//!   cache-backed client does. With [`Compact`] objects (`Api<Compact<K>>`)
//!   the store keeps each as its JSON text, a third of a typed object's
//!   memory;
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

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use futures::{FutureExt as _, Stream, StreamExt as _, TryStreamExt as _, stream};
use kube::api::{ObjectMeta, PartialObjectMeta};
use kube::runtime::reflector::{self, Lookup, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt as _, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use crate::manager::Context;

mod compact;
pub use compact::Compact;

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
    strip_meta(object.meta_mut());
}

/// [`strip`] on metadata alone, for objects not yet (or never) typed, such
/// as a [`Compact`] being built.
fn strip_meta(meta: &mut ObjectMeta) {
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
    // As `Controller::new`, plus the `modify` before the reflector, and a
    // backoff of the watch's own (see `resilient`), reflected into the
    // store the reconciler reads.
    let (reader, writer) = reflector::store();
    let events = reflector::reflector(
        writer,
        resilient(watcher::watcher(api, config)).modify(strip::<K>),
    );
    let objects = visible(reader.clone(), events, Role::Reconciled);
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
    Child::DynamicType: Default,
    PartialObjectMeta<Child>: DeserializeOwned + Lookup,
{
    resilient(watcher::watcher(api, owned_config(manager)))
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
/// the same reason. The price is memory: one stripped copy of every child,
/// against [`owned`]'s metadata. Typed, a Deployment takes about 8 KiB; as
/// a [`Compact`] (`cached(Api::<Compact<Deployment>>::all(client), ..)`),
/// its JSON text, about 2.5 KiB, decoded when a reconcile reads it.
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
///
/// The stream passes each object on once the store shows it. After a
/// relist (the watch was lost, e.g. the API server restarted) it passes on
/// only the children that changed or went away meanwhile, so their owners
/// repair them; see `visible` in the source for why kube's own adapters
/// are not used.
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
    let events = reflector::reflector(
        writer,
        resilient(watcher::watcher(api, owned_config(manager))).modify(strip::<Child>),
    );
    let changes = visible(reader.clone(), events, Role::Children);
    (reader, changes)
}

/// A watch that retries on its own, with client-go's reflector backoff (0.8 s
/// doubling to 30 s, reset after two quiet minutes), and logs its errors
/// instead of passing them on.
///
/// Why: kube's `Controller` puts all its trigger streams behind one
/// backoff, and an error from any of them pauses every one. When the API
/// server restarts, each watch fails (connection refused, then `410 Gone`
/// for its old resource version), every failure lengthens the shared pause,
/// and a controller with four watches could stay deaf for two minutes after
/// the server was back. controller-runtime's informers each back off alone,
/// and so do these watches; streams added with kube's own `owns` or
/// `watches` keep the shared backoff.
fn resilient<K>(
    events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static
where
    K: Resource + Send + 'static,
    K::DynamicType: Default,
{
    events.default_backoff().filter_map(|event| async move {
        match event {
            Ok(event) => Some(Ok(event)),
            Err(error) => {
                let kind = K::kind(&K::DynamicType::default()).into_owned();
                tracing::warn!(%kind, %error, "watch failed; retrying after a backoff");
                None
            }
        }
    })
}

/// Whose objects a watch carries, which decides what [`visible`] passes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// The controller's own objects, as kube's `applied_objects`: applied
    /// ones only (a deleted object has nothing left to reconcile), and every
    /// listed object after a relist, so each is reconciled again.
    Reconciled,
    /// Children, as `touched_objects`: applied and deleted ones, and after a
    /// relist only what differs from the store before it: objects new or
    /// changed (another resource version) and objects gone (so their owners
    /// recreate them). Their owners' own relist reconciles the rest anyway.
    Children,
}

/// The objects a reflector's events touched, each passed on only once the
/// store shows it.
///
/// Why: kube's reflector buffers a relist's objects (the first list, or a
/// new one after the watch was lost: an API server restart, a `410 Gone`)
/// and swaps them into the store at the end of the list (`InitDone`), but
/// `touched_objects` and `applied_objects` pass each one on as it arrives
/// (`InitApply`). A reconcile triggered that way can read the store before
/// the swap and see the object as it was before the relist: a Deployment
/// scaled by hand while the API server restarted looks unchanged, so nothing
/// repairs it, and a MyApp created meanwhile is not found at all. Here a
/// relist's objects are passed on after `InitDone`, read back from the
/// store; an `Apply` or `Delete` is in the store when the reflector yields it.
fn visible<K>(
    store: Store<K>,
    events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    role: Role,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Resource + Clone + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Default,
{
    // The store as it was when a relist began (shared `Arc`s, not copies),
    // to tell children's differences.
    let mut before: HashMap<ObjectRef<K>, Arc<K>> = HashMap::new();
    events
        .map(move |event| -> Vec<Result<Arc<K>, watcher::Error>> {
            match event {
                Err(error) => vec![Err(error)],
                Ok(watcher::Event::Apply(object)) => vec![Ok(Arc::new(object))],
                Ok(watcher::Event::Delete(object)) if role == Role::Children => {
                    vec![Ok(Arc::new(object))]
                }
                Ok(watcher::Event::Delete(_) | watcher::Event::InitApply(_)) => Vec::new(),
                Ok(watcher::Event::Init) => {
                    if role == Role::Children {
                        before = store
                            .state()
                            .into_iter()
                            .map(|object| (ObjectRef::from_obj(&*object), object))
                            .collect();
                    }
                    Vec::new()
                }
                Ok(watcher::Event::InitDone) => {
                    let listed = store.state();
                    if role == Role::Reconciled {
                        return listed.into_iter().map(Ok).collect();
                    }
                    let mut gone = std::mem::take(&mut before);
                    let mut touched: Vec<_> = listed
                        .into_iter()
                        .filter(|object| {
                            gone.remove(&ObjectRef::from_obj(&**object))
                                .is_none_or(|old| {
                                    old.meta().resource_version != object.meta().resource_version
                                })
                        })
                        .map(Ok)
                        .collect();
                    touched.extend(gone.into_values().map(Ok));
                    touched
                }
            }
        })
        .flat_map(stream::iter)
        // A relist's objects are copied out of the store one at a time, as
        // the controller takes them; an event's own object is moved, not
        // copied.
        .map_ok(Arc::unwrap_or_clone)
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
    use std::time::Duration;

    use kube::ResourceExt as _;
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

    fn versioned(name: &str, version: &str) -> ConfigMap {
        let mut object = annotated(&[]);
        object.metadata.name = Some(name.into());
        object.metadata.resource_version = Some(version.into());
        object
    }

    /// Runs `events` through a reflector and [`visible`], and returns
    /// `name@resourceVersion` of what it passed on, checking that the store
    /// showed each object by then (or its absence, for one of `gone`).
    fn pass_on(role: Role, events: Vec<watcher::Event<ConfigMap>>, gone: &[&str]) -> Vec<String> {
        let (store, writer) = reflector::store::<ConfigMap>();
        let events = reflector::reflector(writer, stream::iter(events.into_iter().map(Ok)));
        let passed = visible(store.clone(), events, role).map(|object| {
            let object = object.expect("no watch errors here");
            let key = ObjectRef::from_obj(&object);
            let shown = store
                .get(&key)
                .and_then(|o| o.metadata.resource_version.clone());
            let version = object.metadata.resource_version.clone();
            let absent = shown.is_none() && gone.contains(&object.name_any().as_str());
            assert!(
                absent || shown == version,
                "{key} passed on before the store showed it"
            );
            format!("{}@{}", object.name_any(), version.unwrap_or_default())
        });
        futures::executor::block_on(passed.collect())
    }

    fn list(objects: &[ConfigMap]) -> Vec<watcher::Event<ConfigMap>> {
        let mut events = vec![watcher::Event::Init];
        events.extend(objects.iter().cloned().map(watcher::Event::InitApply));
        events.push(watcher::Event::InitDone);
        events
    }

    #[test]
    fn a_relists_children_are_passed_on_once_the_store_shows_them_and_only_if_they_differ() {
        let mut events = list(&[
            versioned("same", "1"),
            versioned("scaled", "1"),
            versioned("deleted", "1"),
        ]);
        events.push(watcher::Event::Apply(versioned("applied", "2")));
        // The watch is lost (an API server restart) and relisted: one child
        // changed meanwhile, one is gone, one is new.
        events.extend(list(&[
            versioned("same", "1"),
            versioned("scaled", "3"),
            versioned("applied", "2"),
            versioned("new", "4"),
        ]));
        events.push(watcher::Event::Delete(versioned("new", "4")));
        let mut passed = pass_on(Role::Children, events, &["deleted", "new"]);
        passed[..3].sort();
        passed[4..7].sort();
        assert_eq!(
            passed,
            [
                "deleted@1",
                "same@1",
                "scaled@1",
                "applied@2",
                "deleted@1",
                "new@4",
                "scaled@3",
                "new@4"
            ]
        );
    }

    #[test]
    fn a_relist_passes_on_every_reconciled_object_once_the_store_shows_it() {
        let mut events = list(&[versioned("a", "1")]);
        events.push(watcher::Event::Delete(versioned("a", "1")));
        events.extend(list(&[versioned("b", "2"), versioned("c", "3")]));
        let mut passed = pass_on(Role::Reconciled, events, &["a"]);
        passed.sort();
        assert_eq!(passed, ["a@1", "b@2", "c@3"]);
    }

    /// A failing watch backs off on its own: another watch merged with it
    /// (as a controller merges its triggers) is not held up, and errors
    /// are logged, not passed on.
    #[tokio::test(start_paused = true)]
    async fn a_failing_watch_holds_up_no_other() {
        let started = tokio::time::Instant::now();
        let failing = resilient::<ConfigMap>(stream::iter([
            Err(watcher::Error::NoResourceVersion),
            Err(watcher::Error::NoResourceVersion),
            Err(watcher::Error::NoResourceVersion),
            Ok(watcher::Event::Init),
        ]))
        .map(|event| (event, "failing"));
        let healthy = resilient::<ConfigMap>(stream::iter([Ok(watcher::Event::InitDone)]))
            .map(|event| (event, "healthy"));
        let mut merged = std::pin::pin!(stream::select(failing, healthy));
        let mut arrivals = Vec::new();
        while let Some((event, from)) = merged.next().await {
            assert!(event.is_ok(), "errors are not passed on");
            arrivals.push((from, started.elapsed()));
        }
        assert_eq!(arrivals.len(), 2, "{arrivals:?}");
        assert_eq!(arrivals[0], ("healthy", Duration::ZERO), "{arrivals:?}");
        assert_eq!(arrivals[1].0, "failing");
        assert!(arrivals[1].1 >= Duration::from_millis(800), "{arrivals:?}");
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
