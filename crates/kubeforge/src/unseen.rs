//! Writes a controller made that its cache has not shown it yet.
//!
//! A reconcile reads its object from the controller's cache, which the
//! watch updates a moment after each write. When something else triggers
//! the next reconcile in that moment (the Deployment it just created shows
//! up in its own watch), the reconcile sees the object as it was before
//! its own status write, derives the same status again, finds it differs
//! from the stale one, and writes it a second time. Measured with the
//! MyApp example converging 1,000 objects (docs/benchmarks.md), 545 of
//! 1,545 status writes were such repeats (Kubebuilder's operator made 403
//! of 1,403), and with the client's rate limit on the kind, every repeat
//! delays the next object's write.
//!
//! [`UnseenWrites`] remembers, per object, the version a write replaced and
//! a fingerprint of what was written. A reconcile that still sees that very
//! version, and would write the same thing, skips the write: the API server
//! has it already. Any newer version (the watch caught up, or someone else
//! wrote) drops the entry, and the usual comparison decides. Entries live
//! from a write until the object's next reconcile, so the map stays small.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hasher as _};
use std::sync::{Mutex, PoisonError};

use kube::Resource;
use serde::Serialize;

/// Per object (by uid): the resource version a write replaced and the
/// fingerprint of what it wrote. Cheap to share: keep one in the
/// controller's state, per kind of write (e.g. one for statuses).
#[derive(Debug, Default)]
pub struct UnseenWrites {
    by_uid: Mutex<HashMap<String, (String, u64)>>,
}

impl UnseenWrites {
    /// Whether `value` was already written over the version of `object`
    /// this reconcile sees, so writing it again would change nothing. A
    /// newer version of `object` forgets the earlier write, so ask this
    /// before comparing `value` with the object's own copy: that is what
    /// ends an entry once the cache has caught up.
    pub fn already_written<K: Resource, V: Serialize>(&self, object: &K, value: &V) -> bool {
        let meta = object.meta();
        let (Some(uid), Some(version)) = (meta.uid.as_deref(), meta.resource_version.as_deref())
        else {
            return false;
        };
        let mut by_uid = self.by_uid.lock().unwrap_or_else(PoisonError::into_inner);
        match by_uid.get(uid) {
            Some((written_over, written)) if written_over == version => {
                fingerprint(value) == Some(*written)
            }
            Some(_) => {
                by_uid.remove(uid);
                false
            }
            None => false,
        }
    }

    /// Records that `value` was written over the version of `object` this
    /// reconcile saw. Call it after the write succeeded.
    pub fn record<K: Resource, V: Serialize>(&self, object: &K, value: &V) {
        let meta = object.meta();
        let (Some(uid), Some(version), Some(written)) = (
            meta.uid.as_deref(),
            meta.resource_version.as_deref(),
            fingerprint(value),
        ) else {
            return;
        };
        let mut by_uid = self.by_uid.lock().unwrap_or_else(PoisonError::into_inner);
        by_uid.insert(uid.to_owned(), (version.to_owned(), written));
    }

    /// Forgets `object`, e.g. once it is being deleted and will not be
    /// reconciled again.
    pub fn forget<K: Resource>(&self, object: &K) {
        if let Some(uid) = object.meta().uid.as_deref() {
            let mut by_uid = self.by_uid.lock().unwrap_or_else(PoisonError::into_inner);
            by_uid.remove(uid);
        }
    }

    /// How many objects have a write remembered.
    pub fn len(&self) -> usize {
        self.by_uid
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no write is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A hash of `value`'s JSON, written straight into the hasher (no buffer).
/// `None` if it cannot be serialized, which makes it never "already
/// written".
fn fingerprint<V: Serialize>(value: &V) -> Option<u64> {
    struct HashWriter(DefaultHasher);
    impl std::io::Write for HashWriter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.write(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut writer = HashWriter(DefaultHasher::new());
    serde_json::to_writer(&mut writer, value).ok()?;
    Some(writer.0.finish())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;
    use serde_json::json;

    use super::*;

    fn object(uid: &str, version: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                uid: Some(uid.into()),
                resource_version: Some(version.into()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    #[test]
    fn a_write_over_the_version_still_seen_is_not_repeated() {
        let writes = UnseenWrites::default();
        let stale = object("a", "10");
        let status = json!({ "observedGeneration": 1 });
        assert!(!writes.already_written(&stale, &status));
        writes.record(&stale, &status);
        assert!(writes.already_written(&stale, &status));
        // Something else to write over the same version: write it.
        assert!(!writes.already_written(&stale, &json!({ "observedGeneration": 2 })));
        // Another object is unaffected.
        assert!(!writes.already_written(&object("b", "10"), &status));
        assert_eq!(writes.len(), 1);
    }

    #[test]
    fn a_newer_version_forgets_the_write() {
        let writes = UnseenWrites::default();
        let status = json!({ "observedGeneration": 1 });
        writes.record(&object("a", "10"), &status);
        // The cache caught up (or someone else wrote): compare as usual.
        assert!(!writes.already_written(&object("a", "11"), &status));
        assert!(writes.is_empty());
        // Forgotten for good, even if an old copy shows up again.
        assert!(!writes.already_written(&object("a", "10"), &status));
    }

    #[test]
    fn objects_without_uid_or_version_are_never_remembered() {
        let writes = UnseenWrites::default();
        let status = json!({});
        let mut unsaved = object("a", "1");
        unsaved.metadata.resource_version = None;
        writes.record(&unsaved, &status);
        assert!(writes.is_empty());
        assert!(!writes.already_written(&unsaved, &status));
        writes.record(&object("a", "1"), &status);
        writes.forget(&object("a", "2"));
        assert!(writes.is_empty());
    }
}
