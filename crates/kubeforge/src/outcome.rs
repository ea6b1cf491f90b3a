//! One log line per reconcile outcome.
//!
//! A kube-runtime controller reports every reconcile twice: its error
//! policy sees a failure (and decides the retry), and the stream returned
//! by `Controller::run` yields the same failure again. Logging both at WARN
//! doubles every line an operator's on-call reads. The scaffolded error
//! policy logs the failure with its retry delay, so [`log`] keeps the
//! stream's copy at DEBUG and warns only about what no error policy sees:
//! the watch itself failing, or the controller's internal runner.

use std::fmt::{Debug, Display};

use kube::runtime::controller::{Action, Error};
use kube::runtime::reflector::ObjectRef;

/// Logs one item of `Controller::run`'s stream:
/// `.for_each(|outcome| async move { kubeforge::outcome::log(&outcome) })`.
pub fn log<K, E, Q>(outcome: &Result<(ObjectRef<K>, Action), Error<E, Q>>)
where
    K: kube::Resource,
    K::DynamicType: Debug,
    E: Display + 'static,
    Q: Display + 'static,
{
    match outcome {
        Ok((object, _)) => tracing::debug!(object = %object, "reconciled"),
        // Already logged, with its retry delay, by the error policy.
        Err(Error::ReconcilerFailed(error, object)) => {
            tracing::debug!(object = %object, %error, "reconcile failed");
        }
        // A queued object deleted before its turn: expected, not a failure.
        Err(Error::ObjectNotFound(object)) => {
            tracing::debug!(object = %object, "object gone before its reconcile");
        }
        Err(error @ (Error::QueueError(_) | Error::RunnerError(_))) => {
            tracing::warn!(%error, "controller error");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{ApiResource, DynamicObject};
    use kube::runtime::controller::{Action, Error};
    use kube::runtime::reflector::ObjectRef;

    /// The lines logged at WARN or above while `f` runs.
    fn warnings(f: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    fn dynamic_ref() -> Box<ObjectRef<DynamicObject>> {
        let resource = ApiResource::erase::<ConfigMap>(&());
        Box::new(ObjectRef::new_with("app", resource).within("default"))
    }

    type Outcome = Result<(ObjectRef<ConfigMap>, Action), Error<std::io::Error, std::io::Error>>;

    #[test]
    fn a_failed_reconcile_is_left_to_the_error_policy() {
        let failed: Outcome = Err(Error::ReconcilerFailed(
            std::io::Error::other("boom"),
            dynamic_ref(),
        ));
        assert_eq!(warnings(|| super::log(&failed)), "");
        let gone: Outcome = Err(Error::ObjectNotFound(dynamic_ref()));
        assert_eq!(warnings(|| super::log(&gone)), "");
        let ok: Outcome = Ok((ObjectRef::new("app"), Action::await_change()));
        assert_eq!(warnings(|| super::log(&ok)), "");
    }

    #[test]
    fn a_failing_watch_is_a_warning() {
        let queue: Outcome = Err(Error::QueueError(std::io::Error::other("watch failed")));
        let logged = warnings(|| super::log(&queue));
        assert!(
            logged.contains("WARN") && logged.contains("watch failed"),
            "{logged}"
        );
        assert_eq!(logged.lines().count(), 1, "{logged}");
    }
}
