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

//! The MyApp controller: runs each MyApp as a Deployment plus a Service,
//! records it in a registry outside the MyApp's namespace, and reports how
//! the rollout is going in the MyApp's status.
//!
//! One reconcile, in order:
//!
//! 1. a finalizer ([`FINALIZER`]) is added before anything is created, so
//!    the registry entry (which owner references cannot reach) is always
//!    cleaned up when the MyApp is deleted;
//! 2. the Deployment, the Service and the registry entry are server-side
//!    applied, but only if they differ from what the MyApp asks for, so a
//!    reconcile with nothing to do writes nothing. What they are now is read
//!    from the controller's caches ([`Caches`]), not from the API server: a
//!    reconcile with nothing to do makes no request at all;
//! 3. the status is derived from the Deployment and written if it changed
//!    (and was not just written over the copy the cache still holds).
//!
//! A failure emits a Warning event, sets the `Degraded` condition and is
//! retried with a per-object exponential backoff.

mod resources;
mod status;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::BoxStream;
use kubeforge::backoff::Backoffs;
use kubeforge::events::EventRecorder;
use kubeforge::k8s_openapi::api::apps::v1::Deployment;
use kubeforge::k8s_openapi::api::core::v1::{ConfigMap, ObjectReference, Service};
use kubeforge::k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kubeforge::kube::api::{DeleteParams, Patch, PatchParams};
use kubeforge::kube::runtime::controller::Action;
use kubeforge::kube::runtime::events::{Event, EventType, Reporter};
use kubeforge::kube::runtime::finalizer::{self, finalizer};
use kubeforge::kube::runtime::reflector::Store;
use kubeforge::kube::runtime::watcher;
use kubeforge::kube::{Api, Client, Resource, ResourceExt as _};
use kubeforge::lean::Compact;
use kubeforge::manager::{Context, Scope};
use kubeforge::unseen::UnseenWrites;
use serde::Serialize;

use myapp_api::apps::v1::{MyApp, MyAppStatus};

pub use resources::{MANAGED_BY, registry_namespace};
pub use status::{AVAILABLE, DEGRADED, PROGRESSING};

/// The field manager this controller's server-side apply patches use, so
/// the API server tracks which fields it owns.
pub const FIELD_MANAGER: &str = "myapp-myapp-controller";

/// Keeps a MyApp from disappearing until its registry entry is deleted.
pub const FINALIZER: &str = "apps.example.com/registry";

/// The reporting controller named in the events this controller emits.
const REPORTER: &str = "myapp-controller";

/// How often a MyApp is reconciled with nothing changing, to repair drift
/// that no watch reports (e.g. an edited registry entry).
const RESYNC: Duration = Duration::from_secs(300);

/// What a reconcile can fail with. Every error requeues the object (see
/// [`error_policy`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request to the API server failed (including 403 for a missing
    /// `#[rbac]` rule).
    #[error("Kubernetes API request failed: {0}")]
    Kube(#[from] kubeforge::kube::Error),
    /// An object could not be turned into JSON to compare it, or a cached
    /// one read back from its JSON.
    #[error("cannot convert a {0} to or from JSON: {1}")]
    Json(String, #[source] serde_json::Error),
    /// The MyApp lacks metadata the API server always sets; only a
    /// hand-built object (e.g. in a test) can trigger this.
    #[error("the MyApp has no {0}")]
    MissingField(&'static str),
    /// Adding or removing the finalizer failed, or the reconcile inside it
    /// did. Boxed: the finalizer error wraps this very type.
    #[error(transparent)]
    Finalizer(Box<finalizer::Error<Error>>),
}

impl Error {
    /// Whether the API server refused a write because the object changed
    /// since it was read. Not a fault: retrying with fresh data resolves it,
    /// so it is retried without a Warning event or a `Degraded` condition.
    pub fn is_conflict(&self) -> bool {
        match self {
            Error::Kube(kubeforge::kube::Error::Api(status)) => status.is_conflict(),
            Error::Finalizer(error) => match error.as_ref() {
                finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => {
                    e.is_conflict()
                }
                finalizer::Error::AddFinalizer(kubeforge::kube::Error::Api(status))
                | finalizer::Error::RemoveFinalizer(kubeforge::kube::Error::Api(status)) => {
                    status.is_conflict()
                }
                _ => false,
            },
            _ => false,
        }
    }
}

/// What a reconcile reads instead of asking the API server: the
/// Deployments, Services and registry entries this operator made (selected
/// by its managed-by label), kept current by the controller's watches (see
/// [`kubeforge::lean::cached`]). Reading them from here instead of GETting
/// them spares every reconcile three requests, and the client's rate limit
/// three tokens. Each is kept as its JSON text ([`Compact`]), a third of
/// the memory of a typed object.
#[derive(Clone)]
pub struct Caches {
    deployments: Store<Compact<Deployment>>,
    services: Store<Compact<Service>>,
    registry: Store<Compact<ConfigMap>>,
}

/// A watch that keeps one of the [`Caches`] current while it is polled.
pub type Feed<K> = BoxStream<'static, Result<Compact<K>, watcher::Error>>;

/// The watches behind [`Caches`]: the controller polls them (and reconciles
/// the MyApp behind every change, see [`run`]); a test that runs
/// reconciles by hand polls them itself.
pub struct Feeds {
    pub deployments: Feed<Deployment>,
    pub services: Feed<Service>,
    pub registry: Feed<ConfigMap>,
}

impl Caches {
    /// The caches of what this operator made in `scope` (and of its
    /// registry entries), seen through `client`, and the watches that fill
    /// them.
    pub fn watch(client: &Client, scope: &Scope) -> (Caches, Feeds) {
        let (deployments, deployment_feed) =
            kubeforge::lean::cached(scope.api(client.clone()), resources::MANAGED_BY);
        let (services, service_feed) =
            kubeforge::lean::cached(scope.api(client.clone()), resources::MANAGED_BY);
        let (registry, registry_feed) = kubeforge::lean::cached(
            Api::namespaced(client.clone(), &registry_namespace()),
            resources::MANAGED_BY,
        );
        let caches = Caches {
            deployments,
            services,
            registry,
        };
        let feeds = Feeds {
            deployments: deployment_feed.boxed(),
            services: service_feed.boxed(),
            registry: registry_feed.boxed(),
        };
        (caches, feeds)
    }

    /// Whether every cache holds its first list (see
    /// [`kubeforge::lean::is_ready`]).
    pub fn is_ready(&self) -> bool {
        kubeforge::lean::is_ready(&self.deployments)
            && kubeforge::lean::is_ready(&self.services)
            && kubeforge::lean::is_ready(&self.registry)
    }
}

/// What every reconcile can use. Built once per controller; public (with
/// [`reconcile`]) so tests can run a single reconcile with any client.
pub struct State {
    client: Client,
    /// The owned objects and registry entries, as last seen.
    caches: Caches,
    /// Sends Events in the background: a reconcile never waits for one.
    recorder: EventRecorder,
    /// Each failing MyApp's own retry delays.
    backoff: Backoffs<MyApp>,
    /// Statuses written that the MyApp cache does not show yet, so a
    /// reconcile on the stale copy does not write them again.
    statuses: UnseenWrites,
    /// Where registry entries go ([`registry_namespace`]), read once.
    registry_namespace: String,
}

impl State {
    /// The state for a controller that acts through `client` and reads
    /// what it made from `caches`.
    pub fn new(client: Client, caches: Caches) -> Self {
        State {
            recorder: EventRecorder::new(client.clone(), Reporter::from(REPORTER)),
            client,
            caches,
            backoff: Backoffs::default(),
            statuses: UnseenWrites::default(),
            registry_namespace: registry_namespace(),
        }
    }

    /// Queues `event` about `app`. Best effort: failing to record an event
    /// must not fail (and so repeat) the reconcile that caused it, and the
    /// reconcile does not wait for it to be sent.
    fn publish(&self, app: &MyApp, event: Event) {
        self.recorder.publish(event, app.object_ref(&()));
    }
}

/// An event about a reconcile step; `related` is the object acted on. The
/// recorder folds events with the same reason, action and objects into one
/// series (a count, not a new event), so `related` is also what keeps
/// "Created Deployment" and "Created Service" apart.
fn event(
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
    related: Option<ObjectReference>,
) -> Event {
    Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note),
        action: action.to_owned(),
        secondary: related,
    }
}

// ANCHOR: run
/// Runs the MyApp controller until the manager shuts down.
///
/// The `#[rbac]` attributes are the permissions this controller needs;
/// `kubeforge manifests` turns them into config/rbac/role.yaml, and the
/// tests run the controller with exactly those permissions.
#[kubeforge::rbac(groups = ["apps.example.com"], resources = ["myapps"], verbs = ["get", "list", "watch", "update", "patch"])]
#[kubeforge::rbac(groups = ["apps.example.com"], resources = ["myapps/status"], verbs = ["get", "update", "patch"])]
#[kubeforge::rbac(groups = ["apps.example.com"], resources = ["myapps/finalizers"], verbs = ["update"])]
#[kubeforge::rbac(groups = ["events.k8s.io"], resources = ["events"], verbs = ["create", "patch"])]
#[kubeforge::rbac(groups = ["apps"], resources = ["deployments"], verbs = ["get", "list", "watch", "create", "patch"])]
#[kubeforge::rbac(groups = [""], resources = ["services"], verbs = ["get", "list", "watch", "create", "patch"])]
// The registry entries, in the operator's own namespace. A ClusterRole
// rule: a Role would need the namespace, which only kustomize knows.
#[kubeforge::rbac(groups = [""], resources = ["configmaps"], verbs = ["get", "list", "watch", "create", "patch", "delete"])]
pub async fn run(ctx: Context) -> anyhow::Result<()> {
    // One controller per namespace the manager watches (--watch-namespace,
    // WATCH_NAMESPACE), or one for all namespaces when none is set.
    ctx.for_each_scope(|scope| run_in(ctx.clone(), scope)).await
}
// ANCHOR_END: run

// ANCHOR: run_in
/// The controller for the MyApp objects of one [`Scope`].
async fn run_in(ctx: Context, scope: Scope) -> anyhow::Result<()> {
    let client = ctx.client();
    let metrics = ctx.metrics();
    // Only what this operator created (its managed-by label), kept as JSON
    // (minus managedFields) so a reconcile reads it from memory. A change
    // to any of it (a hand-made edit, a deletion, a status update)
    // reconciles its MyApp.
    let (caches, feeds) = Caches::watch(&client, &scope);
    let state = Arc::new(State::new(client.clone(), caches));
    // A lean controller: its cache drops managedFields and the last-applied
    // annotation, and it runs at most --max-concurrent-reconciles reconciles
    // at once (see kubeforge::lean).
    let controller = kubeforge::lean::controller(
        scope.api::<MyApp>(client.clone()),
        watcher::Config::default(),
        &ctx,
    );
    // Graceful shutdown lets reconciles in flight finish; the second signal
    // stops a controller told to stop before its first list was in.
    let not_started = ctx.shutdown_before_ready(controller.store());
    controller
        .owns_stream(feeds.deployments)
        .owns_stream(feeds.services)
        // Owner references cannot cross namespaces: an entry names its
        // MyApp in its data. An edited or deleted entry is repaired at once.
        .watches_stream(feeds.registry, |entry| {
            resources::registry_owner(&entry.object().ok()?)
        })
        .graceful_shutdown_on(ctx.shutdown_signal())
        .run(
            move |app, state| {
                let metrics = metrics.clone();
                async move { metrics.measure(reconcile(app, state)).await }
            },
            error_policy,
            state,
        )
        .take_until(not_started)
        // One line per failure: the error policy logs it with its retry.
        .for_each(|outcome| async move { kubeforge::outcome::log(&outcome) })
        .await;
    Ok(())
}
// ANCHOR_END: run_in

// ANCHOR: reconcile
/// Brings the world in line with one MyApp. Called whenever it (or its
/// Deployment or Service) changes, and again after the returned delay.
pub async fn reconcile(app: Arc<MyApp>, state: Arc<State>) -> Result<Action, Error> {
    let namespace = app.namespace().ok_or(Error::MissingField("namespace"))?;
    let api: Api<MyApp> = Api::namespaced(state.client.clone(), &namespace);
    let result = finalizer(&api, FINALIZER, app.clone(), |event| async {
        match event {
            finalizer::Event::Apply(app) => apply(&app, &state).await,
            finalizer::Event::Cleanup(app) => cleanup(&app, &state).await,
        }
    })
    .await
    .map_err(|error| Error::Finalizer(Box::new(error)));
    match result {
        Ok(action) => {
            state.backoff.reset(&app);
            Ok(action)
        }
        Err(error) => {
            report_failure(&app, &error, &state).await;
            Err(error)
        }
    }
}
// ANCHOR_END: reconcile

/// Decides when to retry after a failed reconcile: after this MyApp's next
/// backoff delay.
pub fn error_policy(app: Arc<MyApp>, error: &Error, state: Arc<State>) -> Action {
    let delay = state.backoff.next_delay(&app);
    tracing::warn!(name = %app.name_any(), %error, ?delay, "reconcile failed; retrying");
    Action::requeue(delay)
}

// ANCHOR: apply
/// Creates or updates what the MyApp asks for, then its status.
async fn apply(app: &MyApp, state: &State) -> Result<Action, Error> {
    let namespace = app.namespace().ok_or(Error::MissingField("namespace"))?;
    // As controller-runtime's SetControllerReference: a foreground deletion
    // of the MyApp waits until the garbage collector has deleted these.
    let owner = OwnerReference {
        block_owner_deletion: Some(true),
        ..app
            .controller_owner_ref(&())
            .ok_or(Error::MissingField("uid"))?
    };
    let (client, caches) = (&state.client, &state.caches);
    let deployment = ensure(
        app,
        state,
        Api::namespaced(client.clone(), &namespace),
        &caches.deployments,
        resources::deployment(app, &owner),
    )
    .await?;
    let deployment = deployment.object().map_err(json_error::<Deployment>)?;
    ensure(
        app,
        state,
        Api::<Compact<Service>>::namespaced(client.clone(), &namespace),
        &caches.services,
        resources::service(app, &owner),
    )
    .await?;
    ensure(
        app,
        state,
        Api::<Compact<ConfigMap>>::namespaced(client.clone(), &state.registry_namespace),
        &caches.registry,
        resources::registry_entry(app, &state.registry_namespace),
    )
    .await?;

    let next = status::observe(app, &deployment);
    write_status(app, state, &next).await?;
    Ok(Action::requeue(RESYNC))
}
// ANCHOR_END: apply

/// Makes sure `desired` is in place and returns the object as the API server
/// has it (or had it, as the cache last saw it). Applies (server-side,
/// forcing ownership of the fields the controller sets, which undoes
/// hand-made changes to them) only when the cached object is missing or
/// differs, so a reconcile with nothing to change makes no request; emits a
/// `Created` or `Updated` event when it applies.
async fn ensure<K>(
    app: &MyApp,
    state: &State,
    api: Api<Compact<K>>,
    cache: &Store<Compact<K>>,
    desired: K,
) -> Result<Arc<Compact<K>>, Error>
where
    K: Resource<DynamicType = ()> + Serialize + std::fmt::Debug,
{
    let name = desired.name_any();
    // Right after start the cache may not hold its first list yet, and an
    // empty cache would pass every object off as missing: until it does,
    // ask the API server (never wait for it; see kubeforge::lean::cached).
    let current = if kubeforge::lean::is_ready(cache) {
        Compact::find(cache, &desired)
    } else {
        api.get_opt(&name).await?.map(Arc::new)
    };
    if let Some(current) = current.as_ref() {
        let wanted = serde_json::to_value(&desired).map_err(json_error::<K>)?;
        let actual = current.to_value().map_err(json_error::<K>)?;
        if resources::is_subset(&wanted, &actual) {
            return Ok(current.clone());
        }
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let applied = api.patch(&name, &params, &Patch::Apply(&desired)).await?;
    // A cache that lags behind this controller's own last apply reports it
    // a second time; the recorder folds the repeat into the same Event.
    let (reason, action) = if current.is_some() {
        ("Updated", "Update")
    } else {
        ("Created", "Create")
    };
    let where_ = applied.namespace().unwrap_or_default();
    let note = format!("{reason} {} {where_}/{name}", K::kind(&()));
    let related = Some(applied.object_ref(&()));
    let created_or_updated = event(EventType::Normal, reason, action, note, related);
    state.publish(app, created_or_updated);
    Ok(Arc::new(applied))
}

/// [`Error::Json`] for an object of kind `K`.
fn json_error<K: Resource<DynamicType = ()>>(error: serde_json::Error) -> Error {
    Error::Json(K::kind(&()).into_owned(), error)
}

// ANCHOR: cleanup
/// Removes what owner references cannot: the registry entry. The Deployment
/// and Service are left to the garbage collector. Deleting an entry that is
/// already gone is success, so cleanup can run any number of times.
async fn cleanup(app: &MyApp, state: &State) -> Result<Action, Error> {
    state.statuses.forget(app);
    let registry: Api<ConfigMap> = Api::namespaced(state.client.clone(), &state.registry_namespace);
    registry
        .delete(&resources::registry_name(app), &DeleteParams::default())
        .await
        .map(|_| ())
        .or_else(|error| match &error {
            kubeforge::kube::Error::Api(status) if status.is_not_found() => Ok(()),
            _ => Err(error),
        })?;
    Ok(Action::await_change())
}
// ANCHOR_END: cleanup

/// Makes a failure visible where users look: a Warning event and the
/// `Degraded` condition (written only if it changed).
async fn report_failure(app: &MyApp, error: &Error, state: &State) {
    if error.is_conflict() {
        tracing::debug!(name = %app.name_any(), %error, "conflict; retrying");
        return;
    }
    let message = error.to_string();
    let warning = event(
        EventType::Warning,
        "ReconcileFailed",
        "Reconcile",
        message.clone(),
        None,
    );
    state.publish(app, warning);
    let next = status::failed(app, message);
    if let Err(error) = write_status(app, state, &next).await {
        tracing::warn!(name = %app.name_any(), %error, "cannot record the failure in the status");
    }
}

/// Server-side applies the whole status (the controller owns every field
/// of it) unless it is what the MyApp has, or what this controller already
/// wrote over the copy the cache still holds (see [`UnseenWrites`]).
async fn write_status(app: &MyApp, state: &State, status: &MyAppStatus) -> Result<(), Error> {
    // Asked first: a newer copy of the MyApp ends what it remembers.
    if state.statuses.already_written(app, status) || app.status.as_ref() == Some(status) {
        return Ok(());
    }
    let namespace = app.namespace().ok_or(Error::MissingField("namespace"))?;
    let api: Api<MyApp> = Api::namespaced(state.client.clone(), &namespace);
    let patch = serde_json::json!({
        "apiVersion": MyApp::api_version(&()),
        "kind": MyApp::kind(&()),
        "status": status,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch_status(&app.name_any(), &params, &Patch::Apply(patch))
        .await?;
    state.statuses.record(app, status);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubeforge::kube::core::Status;

    fn conflict() -> kubeforge::kube::Error {
        kubeforge::kube::Error::Api(Box::new(
            Status::failure("changed", "Conflict").with_code(409),
        ))
    }

    #[test]
    fn conflicts_are_recognised_through_the_finalizer() {
        assert!(Error::Kube(conflict()).is_conflict());
        let inner = Error::Kube(conflict());
        let wrapped = Error::Finalizer(Box::new(finalizer::Error::ApplyFailed(inner)));
        assert!(wrapped.is_conflict());
        let removing = Error::Finalizer(Box::new(finalizer::Error::RemoveFinalizer(conflict())));
        assert!(removing.is_conflict());
        assert!(!Error::MissingField("uid").is_conflict());
    }
}
