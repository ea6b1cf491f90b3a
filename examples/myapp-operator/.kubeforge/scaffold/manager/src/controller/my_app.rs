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

//! The MyApp controller: watches MyApp objects (apps.example.com/v1) and
//! reconciles each one towards what it asks for.

use std::sync::Arc;

use futures::StreamExt as _;
use kubeforge::backoff::Backoffs;
use kubeforge::kube::api::{Patch, PatchParams};
use kubeforge::kube::runtime::{controller::Action, watcher};
use kubeforge::kube::{Api, Client, ResourceExt as _};
use kubeforge::manager::{Context, ControllerMetrics, Scope};

use myapp_api::apps::v1::MyApp;

/// The field manager this controller's server-side apply patches use, so
/// the API server tracks which fields it owns.
pub const FIELD_MANAGER: &str = "myapp-myapp-controller";

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
    pub backoffs: Backoffs<MyApp>,
}

/// Runs the MyApp controller until the manager shuts down.
///
/// The `#[rbac]` attributes are the permissions this controller needs;
/// `kubeforge manifests` turns them into config/rbac/role.yaml, and the
/// tests run the controller with exactly those permissions.
#[kubeforge::rbac(groups = ["apps.example.com"], resources = ["myapps"], verbs = ["get", "list", "watch", "update", "patch"])]
#[kubeforge::rbac(groups = ["apps.example.com"], resources = ["myapps/status"], verbs = ["get", "update", "patch"])]
#[kubeforge::rbac(groups = ["apps.example.com"], resources = ["myapps/finalizers"], verbs = ["update"])]
#[kubeforge::rbac(groups = ["events.k8s.io"], resources = ["events"], verbs = ["create", "patch"])]
pub async fn run(ctx: Context) -> anyhow::Result<()> {
    // One controller per namespace the manager watches (--watch-namespace,
    // WATCH_NAMESPACE), or one for all namespaces when none is set.
    ctx.for_each_scope(|scope| run_in(ctx.clone(), scope)).await
}

/// The controller for the MyApp objects of one [`Scope`].
async fn run_in(ctx: Context, scope: Scope) -> anyhow::Result<()> {
    let state = Arc::new(State {
        client: ctx.client(),
        metrics: ctx.metrics(),
        backoffs: Backoffs::default(),
    });
    let api = scope.api::<MyApp>(ctx.client());
    // A lean controller: its cache drops managedFields and the last-applied
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

/// Brings the world in line with one MyApp. Called whenever it (or
/// anything the controller watches for it) changes; a failed reconcile is
/// retried after [`error_policy`]'s delay.
pub async fn reconcile(object: Arc<MyApp>, state: Arc<State>) -> Result<Action, Error> {
    state
        .metrics
        .measure(async {
            // TODO(user): compare object.spec with the world and change the
            // difference (create or update owned objects, call APIs ...).

            // Record in the status which generation of the spec was seen, so
            // users and tools can tell when the controller caught up.
            let generation = object.metadata.generation;
            let seen = object.status.as_ref().and_then(|s| s.observed_generation);
            if generation.is_some() && seen != generation {
                let api: Api<MyApp> = Api::namespaced(
                    state.client.clone(),
                    &object.namespace().unwrap_or_default(),
                );
                let patch = serde_json::json!({
                    "apiVersion": "apps.example.com/v1",
                    "kind": "MyApp",
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
        })
        .await
}

/// Decides when to retry after a failed reconcile: each object backs off
/// on its own, exponentially, until it reconciles again.
pub fn error_policy(object: Arc<MyApp>, error: &Error, state: Arc<State>) -> Action {
    let delay = state.backoffs.next_delay(&object);
    tracing::warn!(name = %object.name_any(), %error, ?delay, "reconcile failed; retrying");
    Action::requeue(delay)
}
