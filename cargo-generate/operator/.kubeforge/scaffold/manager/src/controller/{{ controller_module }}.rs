{{ license_header }}//! The {{ kind }} controller: watches {{ kind }} objects ({{ api_version }}) and
//! reconciles each one towards what it asks for.

use std::sync::Arc;

use futures::StreamExt as _;
use kubeforge::backoff::Backoffs;
{% if builtin %}{% if namespaced %}use kubeforge::kube::ResourceExt as _;
use kubeforge::kube::runtime::{controller::Action, watcher};
{% else %}use kubeforge::kube::runtime::{controller::Action, watcher};
use kubeforge::kube::{Api, ResourceExt as _};
{% endif %}{% else %}use kubeforge::kube::api::{Patch, PatchParams};
use kubeforge::kube::runtime::{controller::Action, watcher};
use kubeforge::kube::{Api, Client, ResourceExt as _};
{% endif %}use kubeforge::manager::{Context, ControllerMetrics{% if namespaced %}, Scope{% endif %}};

use {{ type_path }};

{% if builtin %}/// What a reconcile can fail with. Every error requeues the object (see
/// [`error_policy`]). TODO(user): make it an enum as your logic grows.
pub type Error = kubeforge::kube::Error;

/// What every reconcile can use. TODO(user): add a `Client` when the
/// reconcile needs to talk to the API server.
pub struct State {
    pub metrics: ControllerMetrics,
    /// Each failing object's own retry delays.
    pub backoffs: Backoffs<{{ kind }}>,
}
{% else %}/// The field manager this controller's server-side apply patches use, so
/// the API server tracks which fields it owns.
pub const FIELD_MANAGER: &str = "{{ field_manager }}";

/// What a reconcile can fail with. Every error requeues the object (see
/// [`error_policy`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API request failed: {0}")]
    Kube(#[from] kubeforge::kube::Error),
}

/// What every reconcile can use.
pub struct State {
    pub client: Client,
    pub metrics: ControllerMetrics,
    /// Each failing object's own retry delays.
    pub backoffs: Backoffs<{{ kind }}>,
}
{% endif %}
/// Runs the {{ kind }} controller until the manager shuts down.
///
/// The `#[rbac]` attributes are the permissions this controller needs;
/// `kubeforge manifests` turns them into config/rbac/role.yaml, and the
/// tests run the controller with exactly those permissions.
{% if builtin %}#[kubeforge::rbac(groups = ["{{ api_group }}"], resources = ["{{ plural }}"], verbs = ["get", "list", "watch"])]
{% else %}#[kubeforge::rbac(groups = ["{{ api_group }}"], resources = ["{{ plural }}"], verbs = ["get", "list", "watch", "update", "patch"])]
#[kubeforge::rbac(groups = ["{{ api_group }}"], resources = ["{{ plural }}/status"], verbs = ["get", "update", "patch"])]
#[kubeforge::rbac(groups = ["{{ api_group }}"], resources = ["{{ plural }}/finalizers"], verbs = ["update"])]
{% endif %}#[kubeforge::rbac(groups = ["events.k8s.io"], resources = ["events"], verbs = ["create", "patch"])]
pub async fn run(ctx: Context) -> anyhow::Result<()> {
{% if namespaced %}    // One controller per namespace the manager watches (--watch-namespace,
    // WATCH_NAMESPACE), or one for all namespaces when none is set.
    ctx.for_each_scope(|scope| run_in(ctx.clone(), scope)).await
}

/// The controller for the {{ kind }} objects of one [`Scope`].
async fn run_in(ctx: Context, scope: Scope) -> anyhow::Result<()> {
{% endif %}    let state = Arc::new(State {
{% if builtin %}{% else %}        client: ctx.client(),
{% endif %}        metrics: ctx.metrics(),
        backoffs: Backoffs::default(),
    });
{% if namespaced %}    let api = scope.api::<{{ kind }}>(ctx.client());
{% else %}    // {{ kind }} is cluster-scoped: not in any namespace, so one controller
    // watches them all, whatever --watch-namespace says.
    let api = Api::<{{ kind }}>::all(ctx.client());
{% endif %}    // A lean controller: its cache drops managedFields and the last-applied
    // annotation, and it runs at most --max-concurrent-reconciles reconciles
    // at once (see kubeforge::lean).
    let controller = kubeforge::lean::controller(api, watcher::Config::default(), &ctx);
    // Graceful shutdown lets reconciles in flight finish; the second signal
    // stops a controller told to stop before its first list was in.
    let not_started = ctx.shutdown_before_ready(controller.store());
    controller
        .graceful_shutdown_on(ctx.shutdown_signal())
        .run(reconcile, error_policy, state)
        .take_until(not_started)
        // One line per failure: the error policy logs it with its retry.
        .for_each(|outcome| async move { kubeforge::outcome::log(&outcome) })
        .await;
    Ok(())
}

/// Brings the world in line with one {{ kind }}. Called whenever it (or
/// anything the controller watches for it) changes; a failed reconcile is
/// retried after [`error_policy`]'s delay.
pub async fn reconcile(object: Arc<{{ kind }}>, state: Arc<State>) -> Result<Action, Error> {
    state
        .metrics
        .measure(async {
{% if builtin %}            // TODO(user): compare the {{ kind }} with what it should be and
            // change the difference.
            tracing::info!(name = %object.name_any(), namespace = ?object.namespace(), "reconciling {{ kind }}");
            state.backoffs.reset(&object);
            // Nothing to do until something changes: the watches trigger
            // the next reconcile, as in Kubebuilder. Return
            // `Action::requeue(delay)` to poll what cannot be watched.
            Ok(Action::await_change())
{% else %}            // TODO(user): compare object.spec with the world and change the
            // difference (create or update owned objects, call APIs ...).

            // Record in the status which generation of the spec was seen, so
            // users and tools can tell when the controller caught up.
            let generation = object.metadata.generation;
            let seen = object.status.as_ref().and_then(|s| s.observed_generation);
            if generation.is_some() && seen != generation {
                let api: Api<{{ kind }}> = {% if namespaced %}Api::namespaced(
                    state.client.clone(),
                    &object.namespace().unwrap_or_default(),
                ){% else %}Api::all(state.client.clone()){% endif %};
                let patch = serde_json::json!({
                    "apiVersion": "{{ api_version }}",
                    "kind": "{{ kind }}",
                    "status": { "observedGeneration": generation },
                });
                api.patch_status(
                    &object.name_any(),
                    &PatchParams::apply(FIELD_MANAGER).force(),
                    &Patch::Apply(patch),
                )
                .await?;
            }
            state.backoffs.reset(&object);
            // Nothing to do until something changes: the watches trigger
            // the next reconcile, as in Kubebuilder. Return
            // `Action::requeue(delay)` to poll what cannot be watched.
            Ok(Action::await_change())
{% endif %}        })
        .await
}

/// Decides when to retry after a failed reconcile: each object backs off
/// on its own, exponentially, until it reconciles again.
pub fn error_policy(object: Arc<{{ kind }}>, error: &Error, state: Arc<State>) -> Action {
    let delay = state.backoffs.next_delay(&object);
    tracing::warn!(name = %object.name_any(), %error, ?delay, "reconcile failed; retrying");
    Action::requeue(delay)
}
