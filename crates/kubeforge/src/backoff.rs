//! Per-object retry delays for a controller's error policy.
//!
//! kube-runtime's `Controller` calls the error policy with the failed object
//! and requeues it after the returned delay, but keeps no retry history. A
//! fixed delay either hammers the API server with one broken object or makes
//! every transient failure slow to heal. [`Backoffs`] gives each object its
//! own exponential, jittered backoff (kube's `DefaultBackoff`: from 0.8 s,
//! doubling up to 30 s, plus up to as much again at random so retries spread
//! out), and forgets it when the object reconciles successfully, which is
//! what controller-runtime's rate-limited work queue does for Go operators.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use kube::Resource;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::DefaultBackoff;

/// The delay used if a backoff ever runs out (kube's never does).
const FALLBACK: Duration = Duration::from_secs(30);

/// Retry delays, one backoff per object. Cheap to share: keep one in the
/// controller's state.
pub struct Backoffs<K: Resource>
where
    K::DynamicType: Eq + Hash,
{
    delays: Mutex<HashMap<ObjectRef<K>, DefaultBackoff>>,
}

impl<K: Resource> Default for Backoffs<K>
where
    K::DynamicType: Eq + Hash,
{
    fn default() -> Self {
        Backoffs {
            delays: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Resource> Backoffs<K>
where
    K::DynamicType: Default + Eq + Hash + Clone,
{
    /// The delay before retrying `object` after one more failure: call it
    /// from the error policy and requeue after it. Each call counts as a
    /// failure, so the next delay for the same object is longer.
    pub fn next_delay(&self, object: &K) -> Duration {
        let mut delays = self.delays.lock().unwrap_or_else(PoisonError::into_inner);
        delays
            .entry(ObjectRef::from(object))
            .or_default()
            .next()
            .unwrap_or(FALLBACK)
    }

    /// Forgets `object`'s failures: call it after a successful reconcile, so
    /// its next failure is retried quickly again and the map does not keep
    /// entries for healthy objects.
    pub fn reset(&self, object: &K) {
        let mut delays = self.delays.lock().unwrap_or_else(PoisonError::into_inner);
        delays.remove(&ObjectRef::from(object));
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    use super::*;

    fn config_map(name: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    #[test]
    fn grows_per_object_and_resets_on_success() {
        let backoffs = Backoffs::<ConfigMap>::default();
        let (a, b) = (config_map("a"), config_map("b"));
        let first = backoffs.next_delay(&a);
        let mut later = first;
        for _ in 0..6 {
            later = backoffs.next_delay(&a);
        }
        // Jitter adds at most 100%, so after six doublings the delays
        // cannot overlap: the first is below 1.6 s, the seventh at least 25.6 s.
        assert!(first < Duration::from_millis(1600), "{first:?}");
        assert!(later >= Duration::from_millis(25_600), "{later:?}");
        assert!(later < Duration::from_secs(60), "capped: {later:?}");
        assert!(
            backoffs.next_delay(&b) < later,
            "another object starts from the beginning"
        );
        backoffs.reset(&a);
        assert!(backoffs.next_delay(&a) < later, "success resets");
    }
}
