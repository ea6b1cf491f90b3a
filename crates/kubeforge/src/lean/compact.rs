//! [`Compact`]: a cached object kept as its JSON text.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::runtime::reflector::{ObjectRef, Store};
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// An object of kind `K` as a cache keeps it: its JSON text (without
/// `managedFields` and the last-applied annotation, as [`super::strip`]),
/// plus the metadata that names it and its owners.
///
/// Why: a typed Kubernetes object is mostly room for fields it does not
/// set. A `Deployment` is 2.4 KiB before any of its data, each container
/// another 2.3 KiB, and every label map and string is a separate
/// allocation: about 8 KiB in memory for a Deployment whose JSON is under
/// 2 KiB. A controller caching its children holds one per child for its
/// whole life, so the text is what it keeps; it is decoded ([`object`],
/// [`to_value`]) only when a reconcile reads it. Building one costs less
/// than a typed object: only `metadata` is parsed, the rest is copied as
/// the API server sent it.
///
/// It deserializes only from `serde_json` (kube's client), which can hand
/// over the raw text of a value.
///
/// [`object`]: Compact::object
/// [`to_value`]: Compact::to_value
pub struct Compact<K> {
    /// Name, namespace, uid, resource version, generation, owner references
    /// and deletion timestamp: what stores, owner lookups and reconciles
    /// ask of a cached object without decoding it.
    metadata: ObjectMeta,
    json: Box<str>,
    kind: PhantomData<fn() -> K>,
}

impl<K> Compact<K> {
    /// The object's JSON text, as the API server sent it but for
    /// `managedFields` and the last-applied annotation.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The object as a JSON value, e.g. to compare with what a reconcile
    /// would apply.
    pub fn to_value(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::from_str(&self.json)
    }
}

impl<K: DeserializeOwned> Compact<K> {
    /// The object itself, decoded from its text.
    pub fn object(&self) -> serde_json::Result<K> {
        serde_json::from_str(&self.json)
    }
}

impl<K: Resource<DynamicType = ()> + 'static> Compact<K> {
    /// The key under which a store of compact objects keeps `object`'s
    /// counterpart: `store.get(&Compact::key_of(&desired))`.
    pub fn key_of(object: &K) -> ObjectRef<Self> {
        let meta = object.meta();
        let key = ObjectRef::new(meta.name.as_deref().unwrap_or_default());
        match meta.namespace.as_deref() {
            Some(namespace) => key.within(namespace),
            None => key,
        }
    }

    /// `object`'s counterpart in `store`, if the store holds it.
    pub fn find(store: &Store<Self>, object: &K) -> Option<Arc<Self>> {
        store.get(&Self::key_of(object))
    }
}

impl<K: Serialize + Resource> Compact<K>
where
    K::DynamicType: Default,
{
    /// The compact form of `object`, [`super::strip`]ped.
    pub fn new(object: &K) -> serde_json::Result<Self> {
        let json = serde_json::to_string(object)?;
        serde_json::from_str(&json)
    }
}

impl<K> Clone for Compact<K> {
    fn clone(&self) -> Self {
        Compact {
            metadata: self.metadata.clone(),
            json: self.json.clone(),
            kind: PhantomData,
        }
    }
}

impl<K: Resource> fmt::Debug for Compact<K>
where
    K::DynamicType: Default,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compact")
            .field("kind", &K::kind(&K::DynamicType::default()))
            .field("namespace", &self.metadata.namespace)
            .field("name", &self.metadata.name)
            .field("resource_version", &self.metadata.resource_version)
            .field("bytes", &self.json.len())
            .finish()
    }
}

impl<K: Resource> Resource for Compact<K> {
    type DynamicType = K::DynamicType;
    type Scope = K::Scope;

    fn kind(dt: &Self::DynamicType) -> std::borrow::Cow<'_, str> {
        K::kind(dt)
    }
    fn group(dt: &Self::DynamicType) -> std::borrow::Cow<'_, str> {
        K::group(dt)
    }
    fn version(dt: &Self::DynamicType) -> std::borrow::Cow<'_, str> {
        K::version(dt)
    }
    fn plural(dt: &Self::DynamicType) -> std::borrow::Cow<'_, str> {
        K::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl<'de, K> Deserialize<'de> for Compact<K>
where
    K: Resource,
    K::DynamicType: Default,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(CompactVisitor(PhantomData))
    }
}

struct CompactVisitor<K>(PhantomData<fn() -> K>);

impl<'de, K> Visitor<'de> for CompactVisitor<K>
where
    K: Resource,
    K::DynamicType: Default,
{
    type Value = Compact<K>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // Every field but `metadata` is copied as text, unparsed.
        let mut fields: Vec<(String, Box<RawValue>)> = Vec::new();
        let mut metadata: Option<ObjectMeta> = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "metadata" {
                metadata = Some(map.next_value()?);
            } else {
                fields.push((key, map.next_value()?));
            }
        }
        let mut metadata = metadata.unwrap_or_default();
        super::strip_meta(&mut metadata);
        let mut json = String::with_capacity(
            2 + fields
                .iter()
                .map(|(key, value)| key.len() + value.get().len() + 4)
                .sum::<usize>(),
        );
        json.push('{');
        let mut write = |key: &str, value: &str| -> Result<(), A::Error> {
            if json.len() > 1 {
                json.push(',');
            }
            json.push_str(&serde_json::to_string(key).map_err(de::Error::custom)?);
            json.push(':');
            json.push_str(value);
            Ok(())
        };
        // A list's items come without `apiVersion` and `kind` (the list
        // names them once); a typed object always has them.
        let dt = K::DynamicType::default();
        for (key, value) in [("apiVersion", K::api_version(&dt)), ("kind", K::kind(&dt))] {
            if !fields.iter().any(|(field, _)| field == key) {
                write(
                    key,
                    &serde_json::to_string(&value).map_err(de::Error::custom)?,
                )?;
            }
        }
        let meta_json = serde_json::to_string(&metadata).map_err(de::Error::custom)?;
        write("metadata", &meta_json)?;
        for (key, value) in &fields {
            write(key, value.get())?;
        }
        json.push('}');
        // What identifies the object stays typed; labels and annotations
        // are in the text.
        let identity = ObjectMeta {
            name: metadata.name,
            namespace: metadata.namespace,
            uid: metadata.uid,
            resource_version: metadata.resource_version,
            generation: metadata.generation,
            owner_references: metadata.owner_references,
            deletion_timestamp: metadata.deletion_timestamp,
            ..ObjectMeta::default()
        };
        Ok(Compact {
            metadata: identity,
            json: json.into_boxed_str(),
            kind: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::ConfigMap;
    use serde_json::json;

    use super::super::LAST_APPLIED_ANNOTATION;
    use super::*;

    fn sent() -> serde_json::Value {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "entry",
                "namespace": "registry",
                "uid": "u-1",
                "resourceVersion": "42",
                "labels": { "app.kubernetes.io/managed-by": "myapp-operator" },
                "annotations": { LAST_APPLIED_ANNOTATION: "{}", "keep": "me" },
                "managedFields": [{ "manager": "kubectl", "operation": "Apply" }],
                "ownerReferences": [{
                    "apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "u-0"
                }]
            },
            "data": { "app": "web", "unicode": "\u{e9}\"quoted\"" }
        })
    }

    #[test]
    fn keeps_the_object_but_its_bookkeeping() {
        let compact: Compact<ConfigMap> = serde_json::from_value(sent()).unwrap();
        let mut expected: ConfigMap = serde_json::from_value(sent()).unwrap();
        super::super::strip(&mut expected);
        assert_eq!(compact.object().unwrap(), expected);
        assert_eq!(
            compact.to_value().unwrap(),
            serde_json::to_value(&expected).unwrap()
        );
    }

    #[test]
    fn reads_watch_events_and_lists_as_kube_parses_them() {
        let event = format!(r#"{{"type":"MODIFIED","object":{}}}"#, sent());
        let parsed: kube::api::WatchEvent<Compact<ConfigMap>> =
            serde_json::from_str(&event).unwrap();
        let kube::api::WatchEvent::Modified(compact) = parsed else {
            panic!("not a MODIFIED event");
        };
        assert_eq!(compact.meta().name.as_deref(), Some("entry"));
        // Items of a list come without apiVersion and kind.
        let mut item = sent();
        let object = item.as_object_mut().unwrap();
        object.remove("apiVersion");
        object.remove("kind");
        let list = json!({ "metadata": {}, "items": [item, sent()] }).to_string();
        let parsed: kube::core::ObjectList<Compact<ConfigMap>> =
            serde_json::from_str(&list).unwrap();
        assert_eq!(parsed.items.len(), 2);
        let values: Vec<_> = parsed
            .items
            .iter()
            .map(|item| item.to_value().unwrap())
            .collect();
        assert_eq!(values[0], values[1]);
    }

    #[test]
    fn names_itself_and_its_owners_without_decoding() {
        let compact: Compact<ConfigMap> = serde_json::from_str(&sent().to_string()).unwrap();
        let meta = compact.meta();
        assert_eq!(meta.name.as_deref(), Some("entry"));
        assert_eq!(meta.namespace.as_deref(), Some("registry"));
        assert_eq!(meta.resource_version.as_deref(), Some("42"));
        assert_eq!(meta.owner_references.as_ref().map(Vec::len), Some(1));
        assert_eq!(meta.labels, None, "labels stay in the text");
        let key = Compact::key_of(&compact.object().unwrap());
        assert_eq!(key, ObjectRef::new("entry").within("registry"));
    }

    #[test]
    fn is_smaller_than_the_typed_object() {
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": { "name": "web", "namespace": "default",
                          "labels": { "app": "web" } },
            "spec": {
                "selector": { "matchLabels": { "app": "web" } },
                "template": {
                    "metadata": { "labels": { "app": "web" } },
                    "spec": { "containers": [{ "name": "app", "image": "nginx:1.27" }] }
                }
            }
        }))
        .unwrap();
        let compact = Compact::new(&deployment).unwrap();
        assert_eq!(compact.object().unwrap(), deployment);
        // The text plus what identifies it, against the typed object's
        // inline size alone (its maps, strings and container come on top).
        let compact_bytes = size_of::<Compact<Deployment>>() + compact.json().len();
        assert!(
            compact_bytes < size_of::<Deployment>(),
            "{compact_bytes} bytes compact, {} typed",
            size_of::<Deployment>()
        );
    }
}
