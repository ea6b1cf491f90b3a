//! Events recorded in the background, as Go operators record them.
//!
//! kube's [`Recorder::publish`] sends the Event before it returns, so a
//! reconcile that awaits it waits for one more API request per Event, and
//! its object converges that much later. controller-runtime's recorder
//! queues Events and a background goroutine sends them; a full queue drops
//! them (client-go's broadcaster keeps at most 1,000). [`EventRecorder`] is
//! that recorder for kube: [`EventRecorder::publish`] only queues, and one
//! task per recorder sends the queue, folding a repeated Event into a
//! series (one Event object whose `series.count` grows) as kube's
//! `Recorder` and client-go do.
//!
//! It does not send through kube's `Recorder`: that keeps a copy of every
//! Event it sent in the last six minutes, and scans them all on every
//! publish. An operator converging 10,000 objects sends tens of thousands
//! of Events in that time, so the copies cost about 50 MiB and the scans
//! grow with the square of the Events. Here the series are remembered in
//! a few dozen bytes each, at most [`SERIES_REMEMBERED`] of them (as
//! client-go's Event correlator, which keeps 4,096).
//!
//! Events are best effort either way: an Event that cannot be sent is
//! logged, never retried, and never fails the reconcile that caused it.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Reporter};
use kube::{Client, Resource as _};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::json;
use tokio::sync::mpsc;

/// Events waiting to be sent, at most: client-go's queue length.
pub const QUEUE_LENGTH: usize = 1000;

/// Series remembered, at most: client-go's Event correlator cache size.
/// A repeat of a forgotten Event starts a new Event object.
pub const SERIES_REMEMBERED: usize = 4096;

/// How long a series stays open: a repeat after this starts a new Event
/// object (kube's `Recorder` uses the same six minutes).
pub const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);

/// Queues Events for a background task that sends them; see the module
/// documentation. Cheap to clone: clones share the queue.
#[derive(Clone)]
pub struct EventRecorder {
    queue: mpsc::Sender<(Event, ObjectReference)>,
    /// Set while the queue is full, so a burst of dropped Events logs one
    /// warning rather than one per Event.
    overflowing: Arc<AtomicBool>,
}

impl EventRecorder {
    /// A recorder that sends Events as `reporter` through `client`, from a
    /// task spawned on the current tokio runtime. The task ends once every
    /// clone of the recorder is dropped and the queue is empty.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as [`tokio::spawn`] does.
    pub fn new(client: Client, reporter: Reporter) -> Self {
        let (queue, mut queued) = mpsc::channel::<(Event, ObjectReference)>(QUEUE_LENGTH);
        let mut sender = Sender {
            client,
            reporter,
            series: Series::default(),
        };
        tokio::spawn(async move {
            while let Some((event, regarding)) = queued.recv().await {
                if let Err(error) = sender.send(&event, &regarding).await {
                    tracing::warn!(
                        reason = %event.reason,
                        regarding = ?regarding.name,
                        %error,
                        "cannot record event"
                    );
                }
            }
        });
        EventRecorder {
            queue,
            overflowing: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Queues `event` about the object `regarding` refers to (e.g.
    /// `app.object_ref(&())`) and returns at once. When
    /// [`QUEUE_LENGTH`] Events are already waiting, the Event is dropped.
    pub fn publish(&self, event: Event, regarding: ObjectReference) {
        match self.queue.try_send((event, regarding)) {
            Ok(()) => {
                if self.overflowing.swap(false, Ordering::Relaxed) {
                    tracing::info!("event queue has room again");
                }
            }
            Err(mpsc::error::TrySendError::Full((event, _))) => {
                if !self.overflowing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        reason = %event.reason,
                        queued = QUEUE_LENGTH,
                        "event queue full; dropping events until it drains"
                    );
                }
            }
            Err(mpsc::error::TrySendError::Closed((event, _))) => {
                // Only if the sending task panicked; nothing can send it now.
                tracing::warn!(reason = %event.reason, "event recorder stopped; event dropped");
            }
        }
    }
}

/// Sends Events, creating one per new series and patching its count for a
/// repeat.
struct Sender {
    client: Client,
    reporter: Reporter,
    series: Series,
}

impl Sender {
    async fn send(
        &mut self,
        event: &Event,
        regarding: &ObjectReference,
    ) -> Result<(), kube::Error> {
        let namespace = regarding.namespace.as_deref().unwrap_or("default");
        // Raw requests on the Events URL rather than `Api<Event>`: the API
        // server answers every create and patch with the whole Event, and
        // parsing it into a typed `Event` only to drop it was a fifth of
        // the recorder's CPU (perf, the example's manager converging 1,000
        // MyApps). Only the created Event's name is read.
        let events = kube::core::Request::new(K8sEvent::url_path(&(), Some(namespace)));
        let key = series_key(event, regarding);
        let now = Instant::now();
        if let Some((name, count)) = self.series.repeat(key, now) {
            let patch = json!({
                "series": { "count": count, "lastObservedTime": MicroTime(Timestamp::now()) }
            });
            let mut request = events
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .map_err(kube::Error::BuildRequest)?;
            request.extensions_mut().insert("patch");
            match self.client.request::<IgnoredAny>(request).await {
                Ok(_) => return Ok(()),
                // The Event expired on the server (after an hour, by
                // default) or was deleted: start the series again.
                Err(kube::Error::Api(status)) if status.is_not_found() => {}
                Err(error) => return Err(error),
            }
        }
        let body = serde_json::to_vec(&self.new_event(event, regarding))
            .map_err(kube::Error::SerdeError)?;
        let mut request = events
            .create(&PostParams::default(), body)
            .map_err(kube::Error::BuildRequest)?;
        request.extensions_mut().insert("create");
        let created: Created = self.client.request(request).await?;
        if let Some(name) = created.metadata.name {
            self.series.start(key, name, now);
        }
        Ok(())
    }

    /// The events.k8s.io/v1 Event for the first occurrence, named as
    /// kube's `Recorder` names it: the object's name and the time.
    fn new_event(&self, event: &Event, regarding: &ObjectReference) -> K8sEvent {
        let now = Timestamp::now();
        let controller = &self.reporter.controller;
        let name = regarding.name.as_deref().unwrap_or(controller);
        K8sEvent {
            metadata: ObjectMeta {
                name: Some(format!("{name}.{:x}", now.as_nanosecond())),
                namespace: regarding.namespace.clone(),
                ..ObjectMeta::default()
            },
            action: Some(event.action.clone()),
            reason: Some(event.reason.clone()),
            note: event.note.clone(),
            type_: Some(event_type(event.type_).to_owned()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            related: event.secondary.clone(),
            reporting_controller: Some(controller.clone()),
            reporting_instance: Some(
                self.reporter
                    .instance
                    .clone()
                    .unwrap_or_else(|| controller.clone()),
            ),
            ..K8sEvent::default()
        }
    }
}

/// What [`Sender::send`] reads of the Event the API server created; serde
/// skips the rest without allocating.
#[derive(Deserialize)]
struct Created {
    metadata: CreatedMetadata,
}

#[derive(Deserialize)]
struct CreatedMetadata {
    name: Option<String>,
}

fn event_type(type_: EventType) -> &'static str {
    match type_ {
        EventType::Normal => "Normal",
        EventType::Warning => "Warning",
    }
}

/// What makes two Events the same series (kube's and client-go's key: type,
/// action, reason, the object and the related object), hashed.
fn series_key(event: &Event, regarding: &ObjectReference) -> u64 {
    let mut hasher = DefaultHasher::new();
    event_type(event.type_).hash(&mut hasher);
    event.action.hash(&mut hasher);
    event.reason.hash(&mut hasher);
    for reference in [Some(regarding), event.secondary.as_ref()] {
        let fields = reference.map(|r| {
            (
                &r.api_version,
                &r.kind,
                &r.namespace,
                &r.name,
                &r.uid,
                &r.field_path,
            )
        });
        fields.hash(&mut hasher);
    }
    hasher.finish()
}

/// The open series: at most [`SERIES_REMEMBERED`], each at most
/// [`SERIES_WINDOW`] old since its last Event; the oldest started is
/// forgotten first.
#[derive(Default)]
struct Series {
    open: HashMap<u64, Open>,
    /// Keys in the order their series started, with the start's number, so
    /// a key whose series was restarted since is skipped when forgotten.
    started: VecDeque<(u64, u64)>,
    starts: u64,
}

struct Open {
    name: String,
    count: i32,
    last: Instant,
    start: u64,
}

impl Series {
    /// For a repeat within the window: the Event's name and its new count.
    fn repeat(&mut self, key: u64, now: Instant) -> Option<(String, i32)> {
        let open = self.open.get_mut(&key)?;
        if now.duration_since(open.last) > SERIES_WINDOW {
            self.open.remove(&key);
            return None;
        }
        open.count += 1;
        open.last = now;
        Some((open.name.clone(), open.count))
    }

    /// Remembers a new series, forgetting the oldest beyond the bound.
    fn start(&mut self, key: u64, name: String, now: Instant) {
        self.starts += 1;
        let start = self.starts;
        self.open.insert(
            key,
            Open {
                name,
                count: 1,
                last: now,
                start,
            },
        );
        self.started.push_back((key, start));
        while self.open.len() > SERIES_REMEMBERED || self.started.len() > 2 * SERIES_REMEMBERED {
            let Some((oldest, started)) = self.started.pop_front() else {
                break;
            };
            if self
                .open
                .get(&oldest)
                .is_some_and(|open| open.start == started)
            {
                self.open.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(reason: &str) -> Event {
        Event {
            type_: EventType::Normal,
            reason: reason.to_owned(),
            note: None,
            action: "Test".to_owned(),
            secondary: None,
        }
    }

    fn object(name: &str) -> ObjectReference {
        ObjectReference {
            kind: Some("ConfigMap".into()),
            namespace: Some("default".into()),
            name: Some(name.into()),
            ..ObjectReference::default()
        }
    }

    #[test]
    fn the_same_event_about_the_same_object_is_one_series() {
        let key = series_key(&event("Created"), &object("a"));
        assert_eq!(key, series_key(&event("Created"), &object("a")));
        assert_ne!(key, series_key(&event("Updated"), &object("a")));
        assert_ne!(key, series_key(&event("Created"), &object("b")));
        let mut warning = event("Created");
        warning.type_ = EventType::Warning;
        assert_ne!(key, series_key(&warning, &object("a")));
    }

    #[test]
    fn repeats_count_up_within_the_window_only() {
        let mut series = Series::default();
        let now = Instant::now();
        assert_eq!(series.repeat(1, now), None);
        series.start(1, "a.1".into(), now);
        assert_eq!(series.repeat(1, now), Some(("a.1".into(), 2)));
        assert_eq!(series.repeat(1, now), Some(("a.1".into(), 3)));
        let later = now + SERIES_WINDOW + Duration::from_secs(1);
        assert_eq!(series.repeat(1, later), None, "the series closed");
        series.start(1, "a.2".into(), later);
        assert_eq!(series.repeat(1, later), Some(("a.2".into(), 2)));
    }

    #[test]
    fn at_most_so_many_series_are_remembered_the_oldest_forgotten_first() {
        let mut series = Series::default();
        let now = Instant::now();
        let total = SERIES_REMEMBERED as u64 + 10;
        for key in 0..total {
            series.start(key, format!("e.{key}"), now);
        }
        assert_eq!(series.open.len(), SERIES_REMEMBERED);
        assert_eq!(series.repeat(0, now), None, "the oldest was forgotten");
        assert!(series.repeat(total - 1, now).is_some());
        // Restarting keys over and over keeps the bookkeeping bounded too.
        for round in 0..3 {
            for key in 0..total {
                let later = now + (SERIES_WINDOW + Duration::from_secs(1)) * (round + 1);
                let _ = series.repeat(key, later);
                series.start(key, format!("e.{key}"), later);
            }
        }
        assert!(series.open.len() <= SERIES_REMEMBERED);
        assert!(series.started.len() <= 2 * SERIES_REMEMBERED);
    }
}
