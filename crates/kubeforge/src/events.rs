//! Events recorded in the background, as Go operators record them.
//!
//! kube's [`Recorder::publish`] sends the Event before it returns, so a
//! reconcile that awaits it waits for one more API request per Event, and
//! its object converges that much later. controller-runtime's recorder
//! queues Events and a background goroutine sends them; a full queue drops
//! them (client-go's broadcaster keeps at most 1,000). [`EventRecorder`] is
//! that recorder for kube: [`EventRecorder::publish`] only queues, and one
//! task per recorder sends the queue through kube's [`Recorder`], which
//! still folds repeated Events into series.
//!
//! Events are best effort either way: an Event that cannot be sent is
//! logged, never retried, and never fails the reconcile that caused it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, Recorder, Reporter};
use tokio::sync::mpsc;

/// Events waiting to be sent, at most: client-go's queue length.
pub const QUEUE_LENGTH: usize = 1000;

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
        let recorder = Recorder::new(client, reporter);
        tokio::spawn(async move {
            while let Some((event, regarding)) = queued.recv().await {
                if let Err(error) = recorder.publish(&event, &regarding).await {
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
