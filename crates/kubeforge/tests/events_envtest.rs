//! `kubeforge::events::EventRecorder` against a real API server
//! (kubeforge-envtest): queued Events arrive as events.k8s.io Events about
//! the right object, and repeats fold into a series.
//!
//! The wait is for the Events to appear, with a generous upper bound only so
//! a broken build fails instead of hanging.

#![cfg(feature = "runtime")]

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use kube::api::{ListParams, ObjectMeta, PostParams};
use kube::runtime::events::{Event, EventType, Reporter};
use kube::{Api, Resource as _};
use kubeforge::events::EventRecorder;
use kubeforge_envtest::Environment;

const WAIT_LIMIT: Duration = Duration::from_secs(60);

fn event(reason: &str) -> Event {
    Event {
        type_: EventType::Normal,
        reason: reason.to_owned(),
        note: Some(format!("{reason} happened")),
        action: "Test".to_owned(),
        secondary: None,
    }
}

#[tokio::test]
async fn queued_events_are_sent_in_the_background() {
    let env = Environment::builder().start_shared().await.unwrap();
    let namespace = env.namespace().await.unwrap().to_owned();
    let client = env.client();
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    let object = ConfigMap {
        metadata: ObjectMeta {
            name: Some("subject".into()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    let object = config_maps
        .create(&PostParams::default(), &object)
        .await
        .unwrap();

    let recorder = EventRecorder::new(client.clone(), Reporter::from("events-test"));
    // publish is not async: it returns before anything is sent.
    recorder.publish(event("First"), object.object_ref(&()));
    recorder.publish(event("Second"), object.object_ref(&()));
    recorder.publish(event("Second"), object.object_ref(&()));

    let events: Api<K8sEvent> = Api::namespaced(client, &namespace);
    let seen = tokio::time::timeout(WAIT_LIMIT, async {
        loop {
            let listed = events.list(&ListParams::default()).await.unwrap();
            let mut reasons: Vec<(String, i32)> = listed
                .items
                .iter()
                .map(|e| {
                    let count = e.series.as_ref().map_or(1, |s| s.count);
                    (e.reason.clone().unwrap_or_default(), count)
                })
                .collect();
            reasons.sort();
            if reasons.iter().any(|(r, n)| r == "Second" && *n == 2) {
                return (listed.items, reasons);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the queued events never arrived");
    let (items, reasons) = seen;
    assert_eq!(
        reasons,
        [("First".to_owned(), 1), ("Second".to_owned(), 2)],
        "one Event per reason, the repeat folded into a series"
    );
    for item in items {
        let regarding = item.regarding.expect("every Event names its object");
        assert_eq!(regarding.name.as_deref(), Some("subject"));
        assert_eq!(regarding.kind.as_deref(), Some("ConfigMap"));
        assert_eq!(item.reporting_controller.as_deref(), Some("events-test"));
    }
}
