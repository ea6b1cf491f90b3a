//! The registry of custom resources, read by `kubeforge manifests`.
//!
//! Every `#[kubeforge::crd]` type registers one [`CrdVersion`] at link time
//! (through `inventory`), so the API crate's `crdgen` binary can list every
//! kind without anyone maintaining a list by hand:
//!
//! ```no_run
//! // src/bin/crdgen.rs of a generated API crate, which also says
//! // `use myapp_api as _;` so the API crate's registrations are linked in.
//! fn main() -> std::process::ExitCode {
//!     kubeforge::manifests::crdgen_main()
//! }
//! ```
//!
//! The CRDs come from each type's own `crd()` (kube-derive), so what the CLI
//! writes is exactly what the operator would apply at run time; versions of
//! one kind are merged into one CRD with [`kube::core::crd::merge_crds`].

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

/// One version of one kind, as registered by `#[crd]`.
#[derive(Debug)]
pub struct CrdVersion {
    /// The kind, e.g. `MyApp`.
    pub kind: &'static str,
    /// The version, e.g. `v1`.
    pub version: &'static str,
    /// Whether `#[crd(storage)]` marks this as the storage version.
    pub storage: bool,
    /// The Rust path of the generated type, for error messages.
    pub rust_type: &'static str,
    /// The type's `CustomResourceExt::crd` (a single-version CRD).
    pub crd: fn() -> CustomResourceDefinition,
}

inventory::collect!(CrdVersion);

/// Why the registered CRDs can't be turned into manifests.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Several versions, none marked as storage.
    #[error(
        "kind {kind} ({crd}) has versions {versions} but none is marked as the storage version; add `storage` to exactly one #[crd(...)]"
    )]
    NoStorageVersion {
        /// The kind.
        kind: String,
        /// The CRD name, `<plural>.<group>`.
        crd: String,
        /// The versions, comma separated.
        versions: String,
    },
    /// Several versions marked as storage.
    #[error(
        "kind {kind} ({crd}) marks versions {versions} as the storage version; exactly one #[crd(...)] may say `storage`"
    )]
    SeveralStorageVersions {
        /// The kind.
        kind: String,
        /// The CRD name.
        crd: String,
        /// The versions marked `storage`, comma separated.
        versions: String,
    },
    /// The same version of a kind defined by two types.
    #[error("version {version} of {crd} is defined twice: by {first} and by {second}")]
    DuplicateVersion {
        /// The CRD name.
        crd: String,
        /// The duplicated version.
        version: String,
        /// One defining type.
        first: String,
        /// The other defining type.
        second: String,
    },
    /// Versions of one CRD that disagree on group, kind or scope.
    #[error("cannot merge the versions of {crd}: {source}")]
    Merge {
        /// The CRD name.
        crd: String,
        /// kube's reason.
        #[source]
        source: kube::core::crd::MergeError,
    },
    /// A CRD without `metadata.name` (kube-derive always sets it).
    #[error("the CRD of {0} has no metadata.name")]
    Unnamed(String),
    /// Serializing the result failed.
    #[error("cannot serialize the CRDs: {0}")]
    Json(#[from] serde_json::Error),
}

/// Every CRD registered by `#[crd]` types linked into this program, one per
/// kind with all its versions, sorted by CRD name.
pub fn all_crds() -> Result<Vec<CustomResourceDefinition>, ManifestError> {
    crds_from(inventory::iter::<CrdVersion>)
}

/// [`all_crds`] over an explicit list (what the registry holds, or a test's).
///
/// Rules: a kind with one version stores that version; a kind with several
/// must mark exactly one `storage`. Kind-level settings (names, scope,
/// labels, annotations) come from the storage version.
pub fn crds_from<'a>(
    versions: impl IntoIterator<Item = &'a CrdVersion>,
) -> Result<Vec<CustomResourceDefinition>, ManifestError> {
    // Grouped by CRD name; BTreeMap gives the sorted output order.
    let mut by_name: BTreeMap<String, Vec<(&CrdVersion, CustomResourceDefinition)>> =
        BTreeMap::new();
    for v in versions {
        let crd = (v.crd)();
        let name = crd
            .metadata
            .name
            .clone()
            .ok_or_else(|| ManifestError::Unnamed(v.rust_type.to_string()))?;
        let entry = by_name.entry(name.clone()).or_default();
        if let Some((first, _)) = entry.iter().find(|(o, _)| o.version == v.version) {
            return Err(ManifestError::DuplicateVersion {
                crd: name,
                version: v.version.to_string(),
                first: first.rust_type.to_string(),
                second: v.rust_type.to_string(),
            });
        }
        entry.push((v, crd));
    }

    let mut out = Vec::with_capacity(by_name.len());
    for (name, mut group) in by_name {
        if group.len() == 1 {
            let (_, mut crd) = group.remove(0);
            for ver in &mut crd.spec.versions {
                ver.storage = true;
            }
            out.push(crd);
            continue;
        }
        group.sort_by_key(|(v, _)| std::cmp::Reverse(version_priority(v.version)));
        let kind = group[0].0.kind.to_string();
        let marked: Vec<&str> = group
            .iter()
            .filter(|(v, _)| v.storage)
            .map(|(v, _)| v.version)
            .collect();
        let storage = match marked.as_slice() {
            [one] => one.to_string(),
            [] => {
                return Err(ManifestError::NoStorageVersion {
                    kind,
                    crd: name,
                    versions: group
                        .iter()
                        .map(|(v, _)| v.version)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            several => {
                return Err(ManifestError::SeveralStorageVersions {
                    kind,
                    crd: name,
                    versions: several.join(", "),
                });
            }
        };
        let crds: Vec<CustomResourceDefinition> = group.into_iter().map(|(_, c)| c).collect();
        let mut merged =
            kube::core::crd::merge_crds(crds, &storage).map_err(|source| ManifestError::Merge {
                crd: name.clone(),
                source,
            })?;
        // merge_crds puts the storage version first and the rest in reverse;
        // order them the way kubectl does (GA > beta > alpha, newest first).
        merged
            .spec
            .versions
            .sort_by_key(|v| std::cmp::Reverse(version_priority(&v.name)));
        out.push(merged);
    }
    Ok(out)
}

/// Kubernetes' version ordering as a sortable key: GA above beta above
/// alpha, then by major and minor number.
fn version_priority(v: &str) -> (u8, u64, u64, String) {
    let rest = v.strip_prefix('v').unwrap_or(v);
    let split = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (major, tail) = rest.split_at(split);
    let major = major.parse().unwrap_or(0);
    let (stage, minor) = if tail.is_empty() {
        (3, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, n.parse().unwrap_or(0))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n.parse().unwrap_or(0))
    } else {
        (0, 0)
    };
    // Unknown shapes (not produced by #[crd], which validates versions) sort last.
    (stage, major, minor, v.to_string())
}

/// The JSON that `crdgen` prints: `{"crds": [...]}`.
pub fn crdgen_json() -> Result<String, ManifestError> {
    let crds = all_crds()?;
    Ok(serde_json::to_string(&serde_json::json!({ "crds": crds }))?)
}

/// The `main` of an API crate's `crdgen` binary: prints [`crdgen_json`] to
/// stdout; on error, one line on stderr and exit code 1.
pub fn crdgen_main() -> ExitCode {
    match crdgen_json() {
        Ok(json) => {
            let mut stdout = std::io::stdout().lock();
            match writeln!(stdout, "{json}").and_then(|()| stdout.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("crdgen: cannot write to stdout: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("crdgen: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Schema rewrites `#[field(...)]` expands to, where schemars' `extend`
/// cannot express them (they remove keys). Not a stable API.
#[doc(hidden)]
pub mod __schema {
    use schemars::Schema;
    use serde_json::{Map, Value};

    /// Keys that describe the shape of a value; dropped when a field's shape
    /// is replaced (int-or-string) so the schema stays structural.
    const SHAPE_KEYS: &[&str] = &[
        "type",
        "format",
        "anyOf",
        "oneOf",
        "allOf",
        "items",
        "properties",
        "additionalProperties",
        "required",
        "enum",
        "const",
    ];

    fn was_nullable(obj: &Map<String, Value>) -> bool {
        let type_has_null = match obj.get("type") {
            Some(Value::Array(types)) => types.iter().any(|t| t == "null"),
            _ => false,
        };
        let any_of_null = obj.get("anyOf").and_then(Value::as_array).is_some_and(|a| {
            a.iter()
                .any(|s| s.get("type") == Some(&Value::from("null")))
        });
        type_has_null || any_of_null || obj.get("nullable") == Some(&Value::Bool(true))
    }

    /// What `#[field(default = "text")]` needs from the field's type: a
    /// string literal only makes a string. Anything else (an enum, a number)
    /// is written as a Rust value instead, so a mismatch is a compile error.
    #[diagnostic::on_unimplemented(
        message = "`default = \"...\"` needs a string field, but this field is `{Self}`",
        label = "a string literal can only default a String field",
        note = "write the default as a value of the field's type, e.g. `default = 3` or `default = MyEnum::Variant`"
    )]
    pub trait StrDefault {
        /// Builds the field's default from the literal.
        fn from_default_str(s: &'static str) -> Self;
    }

    impl StrDefault for String {
        fn from_default_str(s: &'static str) -> Self {
            s.to_string()
        }
    }

    impl StrDefault for &'static str {
        fn from_default_str(s: &'static str) -> Self {
            s
        }
    }

    impl StrDefault for std::borrow::Cow<'static, str> {
        fn from_default_str(s: &'static str) -> Self {
            std::borrow::Cow::Borrowed(s)
        }
    }

    /// `x-kubernetes-int-or-string: true` in place of the field's own shape.
    pub fn int_or_string(schema: &mut Schema) {
        let obj = schema.ensure_object();
        let nullable = was_nullable(obj);
        for k in SHAPE_KEYS {
            obj.remove(*k);
        }
        obj.insert("x-kubernetes-int-or-string".into(), Value::Bool(true));
        if nullable {
            obj.insert("nullable".into(), Value::Bool(true));
        }
    }

    /// `x-kubernetes-embedded-resource: true` on an object; an object with no
    /// declared properties (e.g. `serde_json::Value`) also keeps unknown
    /// fields, which the API server requires for an embedded resource.
    pub fn embedded_resource(schema: &mut Schema) {
        let obj = schema.ensure_object();
        let nullable = was_nullable(obj);
        let has_props = obj
            .get("properties")
            .is_some_and(|p| p.as_object().is_some_and(|m| !m.is_empty()));
        for k in ["anyOf", "oneOf", "allOf"] {
            obj.remove(k);
        }
        obj.insert("type".into(), Value::from("object"));
        obj.insert("x-kubernetes-embedded-resource".into(), Value::Bool(true));
        if !has_props {
            obj.insert(
                "x-kubernetes-preserve-unknown-fields".into(),
                Value::Bool(true),
            );
        }
        if nullable {
            obj.insert("nullable".into(), Value::Bool(true));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd_json(kind: &str, version: &str, scope: &str) -> CustomResourceDefinition {
        let plural = format!("{}s", kind.to_lowercase());
        serde_json::from_value(json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": { "name": format!("{plural}.example.com") },
            "spec": {
                "group": "example.com",
                "names": { "kind": kind, "plural": plural },
                "scope": scope,
                "versions": [{ "name": version, "served": true, "storage": true }],
            }
        }))
        .expect("valid test CRD")
    }

    fn widget_v1() -> CustomResourceDefinition {
        crd_json("Widget", "v1", "Namespaced")
    }
    fn widget_v1beta1() -> CustomResourceDefinition {
        crd_json("Widget", "v1beta1", "Namespaced")
    }
    fn widget_v2alpha1_cluster() -> CustomResourceDefinition {
        crd_json("Widget", "v2alpha1", "Cluster")
    }
    fn gadget_v1() -> CustomResourceDefinition {
        crd_json("Gadget", "v1", "Namespaced")
    }

    fn reg(
        version: &'static str,
        storage: bool,
        crd: fn() -> CustomResourceDefinition,
    ) -> CrdVersion {
        CrdVersion {
            kind: "Widget",
            version,
            storage,
            rust_type: "tests::Widget",
            crd,
        }
    }

    #[test]
    fn single_version_is_storage_and_sorted_by_name() {
        let list = [reg("v1", false, widget_v1), reg("v1", false, gadget_v1)];
        let crds = crds_from(&list).expect("merges");
        let names: Vec<_> = crds
            .iter()
            .map(|c| c.metadata.name.clone().unwrap_or_default())
            .collect();
        assert_eq!(names, ["gadgets.example.com", "widgets.example.com"]);
        assert!(crds[1].spec.versions[0].storage);
    }

    #[test]
    fn explicit_storage_wins_and_versions_are_ordered() {
        let list = [
            reg("v1beta1", false, widget_v1beta1),
            reg("v1", true, widget_v1),
        ];
        let crds = crds_from(&list).expect("merges");
        assert_eq!(crds.len(), 1);
        let v: Vec<_> = crds[0]
            .spec
            .versions
            .iter()
            .map(|v| (v.name.as_str(), v.storage))
            .collect();
        assert_eq!(v, [("v1", true), ("v1beta1", false)]);

        // The beta version can be the storage one too.
        let list = [
            reg("v1beta1", true, widget_v1beta1),
            reg("v1", false, widget_v1),
        ];
        let crds = crds_from(&list).expect("merges");
        let v: Vec<_> = crds[0]
            .spec
            .versions
            .iter()
            .map(|v| (v.name.as_str(), v.storage))
            .collect();
        assert_eq!(v, [("v1", false), ("v1beta1", true)]);
    }

    #[test]
    fn storage_errors_name_kind_and_versions() {
        let none = [
            reg("v1beta1", false, widget_v1beta1),
            reg("v1", false, widget_v1),
        ];
        let err = crds_from(&none).expect_err("no storage").to_string();
        assert!(
            err.contains("Widget") && err.contains("v1, v1beta1"),
            "{err}"
        );

        let two = [
            reg("v1beta1", true, widget_v1beta1),
            reg("v1", true, widget_v1),
        ];
        let err = crds_from(&two).expect_err("two storage").to_string();
        assert!(
            err.contains("Widget") && err.contains("v1, v1beta1"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_and_mismatched_versions_fail() {
        let dup = [reg("v1", false, widget_v1), reg("v1", false, widget_v1)];
        assert!(matches!(
            crds_from(&dup),
            Err(ManifestError::DuplicateVersion { .. })
        ));
        let scope = [
            reg("v1", true, widget_v1),
            reg("v2alpha1", false, widget_v2alpha1_cluster),
        ];
        assert!(matches!(
            crds_from(&scope),
            Err(ManifestError::Merge { .. })
        ));
    }

    #[test]
    fn version_priority_matches_kubernetes() {
        let mut v = vec!["v1alpha1", "v2", "v1beta2", "v1", "v1beta1", "v10"];
        v.sort_by_key(|s| std::cmp::Reverse(version_priority(s)));
        assert_eq!(v, ["v10", "v2", "v1", "v1beta2", "v1beta1", "v1alpha1"]);
    }

    #[test]
    fn int_or_string_replaces_shape() {
        let mut s: schemars::Schema =
            serde_json::from_value(json!({"type": ["string", "null"], "description": "d"}))
                .expect("schema");
        __schema::int_or_string(&mut s);
        assert_eq!(
            s.to_value(),
            json!({"description": "d", "x-kubernetes-int-or-string": true, "nullable": true})
        );
    }

    #[test]
    fn embedded_resource_keeps_unknown_fields_without_properties() {
        let mut s = schemars::Schema::from(true);
        __schema::embedded_resource(&mut s);
        assert_eq!(
            s.to_value(),
            json!({"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true})
        );
    }
}
