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

//! The MyApp's status, derived from its Deployment.
//!
//! Pure functions from what the controller observed to the status it should
//! report, so the condition rules are unit-tested without a cluster.

use kubeforge::conditions::{new_condition, set_condition};
use kubeforge::k8s_openapi::api::apps::v1::Deployment;
use kubeforge::k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use myapp_api::apps::v1::{MyApp, MyAppStatus};

/// Enough replicas are ready to serve (`readyReplicas >= spec.replicas`).
pub const AVAILABLE: &str = "Available";
/// A rollout is under way: the Deployment has not yet brought every
/// replica to the current spec.
pub const PROGRESSING: &str = "Progressing";
/// Something is wrong that will not fix itself: the controller cannot
/// reconcile, or the rollout has stalled.
pub const DEGRADED: &str = "Degraded";

// ANCHOR: observe
/// The status the MyApp should have, given its Deployment as the API server
/// returned it. Starts from the current status so conditions whose status
/// did not change keep their `lastTransitionTime`; the caller writes the
/// result only if it differs from the current status.
pub fn observe(app: &MyApp, deployment: &Deployment) -> MyAppStatus {
    let generation = app.metadata.generation;
    let desired = app.spec.replicas;
    let status = deployment.status.clone().unwrap_or_default();
    let ready = status.ready_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    // The Deployment controller has seen the Deployment's latest spec.
    let caught_up = status.observed_generation >= deployment.metadata.generation;
    let rolled_out = caught_up && updated >= desired && ready >= desired && total <= desired;
    let stalled = deployment_condition(deployment, "Progressing")
        .filter(|c| {
            c.status.as_deref() == Some("False")
                && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        })
        .or_else(|| {
            deployment_condition(deployment, "ReplicaFailure")
                .filter(|c| c.status.as_deref() == Some("True"))
        });

    let mut next = app.status.clone().unwrap_or_default();
    next.ready_replicas = status.ready_replicas;
    next.observed_generation = generation;
    let mut set = |condition: Condition| {
        set_condition(&mut next.conditions, condition);
    };
    let counts = format!("{ready}/{desired} replicas ready");
    set(if ready >= desired {
        new_condition(AVAILABLE, true, "ReplicasReady", counts, generation)
    } else {
        new_condition(AVAILABLE, false, "ReplicasNotReady", counts, generation)
    });
    set(if rolled_out {
        new_condition(PROGRESSING, false, "RolloutComplete", "", generation)
    } else if stalled.is_some() {
        new_condition(PROGRESSING, false, "RolloutStalled", "", generation)
    } else {
        let message = format!("{updated}/{desired} replicas updated, {ready} ready");
        new_condition(PROGRESSING, true, "RollingOut", message, generation)
    });
    set(match stalled {
        Some(c) => new_condition(
            DEGRADED,
            true,
            c.reason
                .clone()
                .unwrap_or_else(|| "RolloutFailed".to_owned()),
            c.message.clone().unwrap_or_default(),
            generation,
        ),
        None => new_condition(DEGRADED, false, "AsExpected", "", generation),
    });
    next
}
// ANCHOR_END: observe

/// The MyApp's current status with `Degraded` set to explain a failed
/// reconcile; everything else is kept as last observed.
pub fn failed(app: &MyApp, message: String) -> MyAppStatus {
    let mut next = app.status.clone().unwrap_or_default();
    set_condition(
        &mut next.conditions,
        new_condition(
            DEGRADED,
            true,
            "ReconcileFailed",
            message,
            app.metadata.generation,
        ),
    );
    next
}

fn deployment_condition<'a>(
    deployment: &'a Deployment,
    type_: &str,
) -> Option<&'a kubeforge::k8s_openapi::api::apps::v1::DeploymentCondition> {
    deployment
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_.as_deref() == Some(type_))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubeforge::conditions::find_condition;
    use kubeforge::k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentStatus};
    use kubeforge::k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kubeforge::k8s_openapi::jiff::Timestamp;
    use myapp_api::apps::v1::MyAppSpec;

    fn app(replicas: i32) -> MyApp {
        let mut app = MyApp::new(
            "web",
            MyAppSpec {
                replicas,
                image: "nginx".into(),
                port: 80,
            },
        );
        app.metadata.generation = Some(2);
        app
    }

    /// A Deployment at generation 1 whose status says `updated` pods run the
    /// current template and `ready` of them are ready.
    fn deployment(updated: i32, ready: i32) -> Deployment {
        let mut d = Deployment::default();
        d.metadata.generation = Some(1);
        d.status = Some(DeploymentStatus {
            observed_generation: Some(1),
            replicas: Some(updated),
            updated_replicas: Some(updated),
            ready_replicas: Some(ready),
            ..DeploymentStatus::default()
        });
        d
    }

    fn status_of<'a>(status: &'a MyAppStatus, type_: &str) -> (&'a str, &'a str) {
        let c = find_condition(&status.conditions, type_).expect(type_);
        (c.status.as_str(), c.reason.as_str())
    }

    #[test]
    fn a_new_deployment_is_progressing_and_unavailable() {
        let status = observe(&app(2), &Deployment::default());
        assert_eq!(status.ready_replicas, None);
        assert_eq!(status.observed_generation, Some(2));
        assert_eq!(status_of(&status, AVAILABLE), ("False", "ReplicasNotReady"));
        assert_eq!(status_of(&status, PROGRESSING), ("True", "RollingOut"));
        assert_eq!(status_of(&status, DEGRADED), ("False", "AsExpected"));
    }

    #[test]
    fn a_rolled_out_deployment_is_available() {
        let status = observe(&app(2), &deployment(2, 2));
        assert_eq!(status.ready_replicas, Some(2));
        assert_eq!(status_of(&status, AVAILABLE), ("True", "ReplicasReady"));
        assert_eq!(
            status_of(&status, PROGRESSING),
            ("False", "RolloutComplete")
        );
        assert_eq!(status_of(&status, DEGRADED), ("False", "AsExpected"));
    }

    #[test]
    fn an_unobserved_deployment_spec_is_still_rolling_out() {
        let mut d = deployment(2, 2);
        d.metadata.generation = Some(2);
        let status = observe(&app(2), &d);
        assert_eq!(status_of(&status, AVAILABLE).0, "True");
        assert_eq!(status_of(&status, PROGRESSING), ("True", "RollingOut"));
    }

    #[test]
    fn a_stalled_rollout_is_degraded() {
        let mut d = deployment(1, 0);
        if let Some(s) = d.status.as_mut() {
            s.conditions = Some(vec![DeploymentCondition {
                type_: Some("Progressing".into()),
                status: Some("False".into()),
                reason: Some("ProgressDeadlineExceeded".into()),
                message: Some("ReplicaSet web-1 has timed out progressing.".into()),
                ..DeploymentCondition::default()
            }]);
        }
        let status = observe(&app(1), &d);
        assert_eq!(status_of(&status, PROGRESSING), ("False", "RolloutStalled"));
        let degraded = find_condition(&status.conditions, DEGRADED).expect("Degraded");
        assert_eq!(degraded.status, "True");
        assert_eq!(degraded.reason, "ProgressDeadlineExceeded");
        assert!(degraded.message.contains("timed out"));
    }

    #[test]
    fn observing_the_same_state_again_changes_nothing() {
        let mut app = app(2);
        app.status = Some(observe(&app, &deployment(2, 1)));
        assert_eq!(
            observe(&app, &deployment(2, 1)),
            app.status.clone().unwrap()
        );
    }

    #[test]
    fn transition_time_moves_only_when_a_condition_flips() {
        let mut app = app(2);
        let mut first = observe(&app, &deployment(2, 0));
        let long_ago = Time(Timestamp::from_second(1_000_000).unwrap());
        for c in &mut first.conditions {
            c.last_transition_time = long_ago.clone();
        }
        app.status = Some(first);

        // One more pod ready: Available stays False (new message, same time).
        let next = observe(&app, &deployment(2, 1));
        let available = find_condition(&next.conditions, AVAILABLE).unwrap();
        assert_eq!(available.message, "1/2 replicas ready");
        assert_eq!(available.last_transition_time, long_ago);

        // All ready: Available flips, so its time moves; Degraded does not.
        let next = observe(&app, &deployment(2, 2));
        let available = find_condition(&next.conditions, AVAILABLE).unwrap();
        assert_eq!(available.status, "True");
        assert!(available.last_transition_time.0 > long_ago.0);
        let degraded = find_condition(&next.conditions, DEGRADED).unwrap();
        assert_eq!(degraded.last_transition_time, long_ago);
    }

    #[test]
    fn a_failure_sets_degraded_and_keeps_the_rest() {
        let mut app = app(2);
        app.status = Some(observe(&app, &deployment(2, 2)));
        let status = failed(&app, "configmaps \"default.web\" is forbidden".into());
        assert_eq!(status_of(&status, DEGRADED), ("True", "ReconcileFailed"));
        assert_eq!(status_of(&status, AVAILABLE), ("True", "ReplicasReady"));
        assert_eq!(status.ready_replicas, Some(2));
    }
}
