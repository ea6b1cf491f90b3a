//! Turns a CustomResourceDefinition produced at run time (the JSON printed by
//! an API crate's `crdgen` binary) into the file controller-gen would write.
//!
//! The CRD object itself is not changed in meaning; only what the API server
//! fills in or ignores is dropped, so the file diffs cleanly:
//! - `status` and `metadata.creationTimestamp` (server-owned);
//! - keys whose value is `null` (Go's `omitempty` would not write them);
//! - integral floats are written as integers: k8s-openapi keeps `minimum` and
//!   friends as `f64`, so `1` comes back as `1.0`, while Go (and so
//!   controller-gen and kubectl) writes `1`.

use serde_json::Value;

/// One rendered CRD file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedCrd {
    /// `<group>_<plural>.yaml`, as controller-gen names it.
    pub file_name: String,
    /// One YAML document, starting with `---\n`.
    pub yaml: String,
    /// The size of the CRD as compact JSON, in bytes: what `kubectl apply`
    /// sends and stores in its last-applied annotation, and about what
    /// etcd stores (see [`size_budget`]).
    pub json_bytes: usize,
}

/// Client-side `kubectl apply` keeps the whole object, as JSON, in the
/// `kubectl.kubernetes.io/last-applied-configuration` annotation, and an
/// object's annotations may hold 256 KiB in all: a larger CRD needs
/// server-side apply.
pub const CLIENT_SIDE_APPLY_LIMIT: usize = 256 * 1024;

/// etcd refuses requests over 1.5 MiB (its default `--max-request-bytes`,
/// which managed clusters do not let you raise), so the API server cannot
/// store a larger CRD at all.
pub const ETCD_LIMIT: usize = 3 * 512 * 1024;

/// Where a CRD's size stands against [`CLIENT_SIDE_APPLY_LIMIT`] and
/// [`ETCD_LIMIT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeBudget {
    /// Any way of applying it works.
    Fits,
    /// Over the annotation limit: only server-side apply installs it.
    ServerSideApplyOnly,
    /// Over etcd's limit: no API server can store it.
    TooLarge,
}

/// The [`SizeBudget`] of a CRD of `json_bytes` bytes.
pub fn size_budget(json_bytes: usize) -> SizeBudget {
    if json_bytes > ETCD_LIMIT {
        SizeBudget::TooLarge
    } else if json_bytes > CLIENT_SIDE_APPLY_LIMIT {
        SizeBudget::ServerSideApplyOnly
    } else {
        SizeBudget::Fits
    }
}

/// `bytes` for people: `812 B`, `12.3 KiB`, `1.6 MiB`.
pub fn human_size(bytes: usize) -> String {
    const KIB: f64 = 1024.0;
    // Sizes of manifests are far below 2^52, where f64 stops being exact.
    #[allow(clippy::cast_precision_loss)]
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{:.1} MiB", b / (KIB * KIB))
    }
}

/// Why a value is not a CRD we can render.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CrdError {
    /// The value is not a JSON object.
    #[error("a CustomResourceDefinition must be a JSON object")]
    NotAnObject,
    /// `kind` is missing or not `CustomResourceDefinition`.
    #[error("expected kind CustomResourceDefinition, found {0}")]
    WrongKind(String),
    /// A field the file name is made of is missing.
    #[error("the CRD has no {0}")]
    Missing(&'static str),
}

/// Renders one CRD (see the module docs for what is normalized).
pub fn render_crd(crd: &Value) -> Result<RenderedCrd, CrdError> {
    let mut crd = crd.clone();
    let obj = crd.as_object_mut().ok_or(CrdError::NotAnObject)?;
    match obj.get("kind").and_then(Value::as_str) {
        Some("CustomResourceDefinition") => {}
        Some(other) => return Err(CrdError::WrongKind(other.to_string())),
        None => return Err(CrdError::WrongKind("no kind".to_string())),
    }
    obj.remove("status");
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("creationTimestamp");
    }
    normalize(&mut crd);

    let group = str_at(&crd, &["spec", "group"]).ok_or(CrdError::Missing("spec.group"))?;
    let plural =
        str_at(&crd, &["spec", "names", "plural"]).ok_or(CrdError::Missing("spec.names.plural"))?;
    let file_name = format!("{group}_{plural}.yaml");
    Ok(RenderedCrd {
        file_name,
        yaml: crate::yaml::to_document(&crd),
        json_bytes: crd.to_string().len(),
    })
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

/// Drops null-valued keys and writes integral floats as integers, recursively.
fn normalize(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            for v in map.values_mut() {
                normalize(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        Value::Number(n) => {
            if let Some(i) = integral(n) {
                *v = Value::from(i);
            }
        }
        _ => {}
    }
}

/// An f64 with no fractional part that fits i64 exactly.
fn integral(n: &serde_json::Number) -> Option<i64> {
    if !n.is_f64() {
        return None;
    }
    let f = n.as_f64()?;
    // 2^53: beyond it not every integer is representable, keep the float.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    (f.fract() == 0.0 && f.abs() <= EXACT).then_some(f as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": { "name": "widgets.example.com", "creationTimestamp": null, "labels": null },
            "spec": {
                "group": "example.com",
                "names": { "kind": "Widget", "plural": "widgets", "shortNames": null },
                "scope": "Namespaced",
                "versions": [{
                    "name": "v1", "served": true, "storage": true,
                    "schema": { "openAPIV3Schema": {
                        "type": "object",
                        "properties": { "replicas": {
                            "type": "integer", "minimum": 1.0, "maximum": 2.5, "multipleOf": 3.0
                        }}
                    }}
                }]
            },
            "status": { "acceptedNames": { "kind": "", "plural": "" }, "storedVersions": [] }
        })
    }

    fn structural(v: &Value) -> Value {
        let r = render_crd(v).expect("renders");
        serde_saphyr::from_str(&r.yaml).expect("valid yaml")
    }

    #[test]
    fn file_name_is_group_and_plural() {
        let r = render_crd(&sample()).expect("renders");
        assert_eq!(r.file_name, "example.com_widgets.yaml");
        assert!(r.yaml.starts_with("---\n"), "{}", r.yaml);
    }

    #[test]
    fn drops_status_timestamp_and_nulls() {
        let out = structural(&sample());
        assert!(out.get("status").is_none());
        assert_eq!(out["metadata"], json!({ "name": "widgets.example.com" }));
        assert!(out["spec"]["names"].get("shortNames").is_none());
    }

    #[test]
    fn integral_floats_become_integers() {
        let r = render_crd(&sample()).expect("renders");
        assert!(r.yaml.contains("minimum: 1\n"), "{}", r.yaml);
        assert!(r.yaml.contains("multipleOf: 3\n"), "{}", r.yaml);
        assert!(r.yaml.contains("maximum: 2.5\n"), "{}", r.yaml);
        assert!(!r.yaml.contains("1.0"), "{}", r.yaml);
    }

    #[test]
    fn rejects_non_crds() {
        assert_eq!(render_crd(&json!([])), Err(CrdError::NotAnObject));
        assert_eq!(
            render_crd(&json!({"kind": "Role"})),
            Err(CrdError::WrongKind("Role".into()))
        );
        let mut no_group = sample();
        no_group["spec"]["group"] = Value::Null;
        assert_eq!(render_crd(&no_group), Err(CrdError::Missing("spec.group")));
    }

    #[test]
    fn size_is_the_compact_json() {
        let r = render_crd(&sample()).expect("renders");
        let yaml: Value = serde_saphyr::from_str(&r.yaml).expect("valid yaml");
        assert_eq!(r.json_bytes, yaml.to_string().len());
    }

    #[test]
    fn the_size_budget_has_two_limits() {
        assert_eq!(size_budget(0), SizeBudget::Fits);
        assert_eq!(size_budget(256 * 1024), SizeBudget::Fits);
        assert_eq!(size_budget(256 * 1024 + 1), SizeBudget::ServerSideApplyOnly);
        assert_eq!(size_budget(1536 * 1024), SizeBudget::ServerSideApplyOnly);
        assert_eq!(size_budget(1536 * 1024 + 1), SizeBudget::TooLarge);
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(812), "812 B");
        assert_eq!(human_size(12_595), "12.3 KiB");
        assert_eq!(human_size(1_677_722), "1.6 MiB");
    }

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(render_crd(&sample()).expect("renders").yaml);
    }
}
