//! The registry of custom resources, read by `kubeforge manifests`.
//!
//! Every `#[kubeforge::crd]` type registers one [`CrdVersion`] at link time
//! (through `inventory`), so the API crate's `crdgen` binary can list every
//! kind without anyone maintaining a list by hand. A version marked
//! `#[crd(skip_version)]` (controller-gen's `+kubebuilder:skipversion`) does
//! not register, so it is in no CRD, and a kind whose versions are all
//! skipped has none:
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

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceConversion, CustomResourceDefinition, ServiceReference, WebhookClientConfig,
    WebhookConversion,
};
use kube::core::Version;

/// The path `#[crd]` expansions name the `#[field(...)]` schema helpers by
/// (`::kubeforge::manifests::__schema::...`); kept so code expanded by any
/// kubeforge-macros of this version keeps compiling. Not a stable API.
#[doc(hidden)]
pub use crate::__private::field_schema as __schema;

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

/// A kind's conversion hub, registered by [`conversion_hub!`](crate::conversion_hub):
/// the version every other version converts through. It becomes the CRD's
/// storage version, and the CRD gets a webhook conversion at `/convert` on
/// the project's webhook Service, as controller-gen writes it for a hub.
#[derive(Debug)]
pub struct ConversionHub {
    /// The CRD's name, `<plural>.<group>`.
    pub crd_name: fn() -> &'static str,
    /// The hub's version.
    pub version: fn() -> String,
}

inventory::collect!(ConversionHub);

/// Declares `$kind` (a `#[crd]` type) the hub of its kind's conversion
/// webhook: its version is stored, and `kubeforge manifests` writes the
/// CRD's `conversion` stanza. `kubeforge create webhook --conversion` puts
/// this in the hub version's module; the spokes' `From` conversions live in
/// theirs.
///
/// ```ignore
/// kubeforge::conversion_hub!(MyApp);
/// ```
#[macro_export]
macro_rules! conversion_hub {
    ($kind:ty) => {
        $crate::__private::inventory::submit! {
            $crate::manifests::ConversionHub {
                crd_name: <$kind as $crate::kube::CustomResourceExt>::crd_name,
                version: $crate::manifests::__resource_version::<$kind>,
            }
        }
    };
}

/// Project-wide settings of every CRD the API crate defines, declared once
/// with [`crd_settings!`](crate::crd_settings). They live in the code, next
/// to the kinds, rather than in a flag of `kubeforge manifests`, because the
/// CRDs are what each kind's `crd()` returns at run time: a setting only the
/// CLI knew would make the files differ from what the operator and its tests
/// install.
#[derive(Debug)]
pub struct CrdSettings {
    /// controller-gen's `crd:maxDescLen`: descriptions longer than this many
    /// characters are cut at a word and end in "..."; `0` drops them.
    pub max_desc_len: Option<usize>,
    /// Where it was declared, for the error when there are two.
    pub declared_at: &'static str,
}

inventory::collect!(CrdSettings);

/// Declares the project-wide settings of the API crate's CRDs, once, e.g. in
/// its `lib.rs`:
///
/// ```ignore
/// // Descriptions of at most 120 characters in every CRD (controller-gen's
/// // `crd:maxDescLen=120`); 0 drops them all.
/// kubeforge::crd_settings!(max_desc_len = 120);
/// ```
///
/// `#[field(max_desc_len = N)]` sets a tighter limit for one field and
/// everything inside it (e.g. an embedded `PodTemplateSpec`).
#[macro_export]
macro_rules! crd_settings {
    (max_desc_len = $max:expr $(,)?) => {
        $crate::__private::inventory::submit! {
            $crate::manifests::CrdSettings {
                max_desc_len: ::core::option::Option::Some($max),
                declared_at: ::core::concat!(::core::file!(), ":", ::core::line!()),
            }
        }
    };
}

/// The project-wide `max_desc_len`, if [`crd_settings!`](crate::crd_settings)
/// declares one (the tightest, if it is declared twice, which
/// [`all_crds`] reports).
pub fn project_max_desc_len() -> Option<usize> {
    inventory::iter::<CrdSettings>
        .into_iter()
        .filter_map(|s| s.max_desc_len)
        .min()
}

/// The version of a resource type, as a `fn` pointer for [`ConversionHub`].
#[doc(hidden)]
pub fn __resource_version<K: kube::Resource<DynamicType = ()>>() -> String {
    K::version(&()).into_owned()
}

/// The Service `kubeforge manifests` points conversion webhooks at, before
/// kustomize's namespace and name prefix (config/webhook/service.yaml).
const WEBHOOK_SERVICE: (&str, &str) = ("webhook-service", "system");

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
    /// `crd_settings!` declared more than once.
    #[error(
        "kubeforge::crd_settings! is declared more than once ({0}); keep one for the whole API crate"
    )]
    SeveralSettings(String),
    /// Serializing the result failed.
    #[error("cannot serialize the CRDs: {0}")]
    Json(#[from] serde_json::Error),
}

/// Every CRD registered by `#[crd]` types linked into this program, one per
/// kind with all its versions, sorted by CRD name.
pub fn all_crds() -> Result<Vec<CustomResourceDefinition>, ManifestError> {
    let settings: Vec<&str> = inventory::iter::<CrdSettings>
        .into_iter()
        .map(|s| s.declared_at)
        .collect();
    if settings.len() > 1 {
        return Err(ManifestError::SeveralSettings(settings.join(", ")));
    }
    let hubs: BTreeMap<String, String> = inventory::iter::<ConversionHub>
        .into_iter()
        .map(|hub| ((hub.crd_name)().to_string(), (hub.version)()))
        .collect();
    crds_with_hubs(inventory::iter::<CrdVersion>, &hubs)
}

/// [`all_crds`] over an explicit list (what the registry holds, or a test's).
///
/// Rules: a kind with one version stores that version; a kind with several
/// must mark exactly one `storage`. Kind-level settings (names, scope,
/// labels, annotations) come from the storage version.
pub fn crds_from<'a>(
    versions: impl IntoIterator<Item = &'a CrdVersion>,
) -> Result<Vec<CustomResourceDefinition>, ManifestError> {
    crds_with_hubs(versions, &BTreeMap::new())
}

/// [`crds_from`] with conversion hubs (CRD name -> hub version): a hub is
/// the storage version whatever `#[crd(storage)]` says elsewhere, and its
/// CRD converts through the webhook.
pub fn crds_with_hubs<'a>(
    versions: impl IntoIterator<Item = &'a CrdVersion>,
    hubs: &BTreeMap<String, String>,
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
        sort_by_version_priority(&mut group, |(v, _)| v.version);
        let kind = group[0].0.kind.to_string();
        let hub = hubs.get(&name).map(String::as_str);
        let marked: Vec<&str> = match hub {
            Some(hub) => vec![hub],
            None => group
                .iter()
                .filter(|(v, _)| v.storage)
                .map(|(v, _)| v.version)
                .collect(),
        };
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
        sort_by_version_priority(&mut merged.spec.versions, |v| &v.name);
        if hub.is_some() {
            merged.spec.conversion = Some(webhook_conversion());
        }
        out.push(merged);
    }
    Ok(out)
}

/// Conversion through the project's webhook Service at `/convert`.
fn webhook_conversion() -> CustomResourceConversion {
    let (name, namespace) = WEBHOOK_SERVICE;
    CustomResourceConversion {
        strategy: "Webhook".into(),
        webhook: Some(WebhookConversion {
            client_config: Some(WebhookClientConfig {
                service: Some(ServiceReference {
                    name: name.into(),
                    namespace: namespace.into(),
                    path: Some("/convert".into()),
                    port: None,
                }),
                ..WebhookClientConfig::default()
            }),
            conversion_review_versions: vec!["v1".into()],
        }),
    }
}

/// Sorts `items` highest version priority first, the order kubectl and API
/// discovery use (GA > beta > alpha, newer first), with kube's own
/// [`Version`] so the rules cannot drift from Kubernetes'.
fn sort_by_version_priority<T>(items: &mut [T], version: impl Fn(&T) -> &str) {
    items.sort_by_cached_key(|item| Reverse(Version::parse(version(item)).priority()));
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

    // Two declarations in this test binary (the integration tests have
    // one each, or none).
    crate::crd_settings!(max_desc_len = 80);
    crate::crd_settings!(max_desc_len = 20,);

    #[test]
    fn crd_settings_are_declared_once() {
        assert_eq!(project_max_desc_len(), Some(20));
        let err = all_crds().unwrap_err().to_string();
        assert!(
            err.starts_with("kubeforge::crd_settings! is declared more than once (crates/kubeforge/src/manifests.rs:"),
            "{err}"
        );
        assert!(err.ends_with("; keep one for the whole API crate"), "{err}");
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
    fn a_conversion_hub_is_stored_and_converts_through_the_webhook() {
        let list = [
            reg("v1beta1", false, widget_v1beta1),
            reg("v1", false, widget_v1),
        ];
        let hubs = [("widgets.example.com".to_string(), "v1beta1".to_string())].into();
        let crds = crds_with_hubs(&list, &hubs).expect("merges");
        let v: Vec<_> = crds[0]
            .spec
            .versions
            .iter()
            .map(|v| (v.name.as_str(), v.storage))
            .collect();
        assert_eq!(v, [("v1", false), ("v1beta1", true)]);
        let conversion = serde_json::to_value(&crds[0].spec.conversion).unwrap();
        assert_eq!(
            conversion,
            json!({
                "strategy": "Webhook",
                "webhook": {
                    "clientConfig": { "service": {
                        "name": "webhook-service", "namespace": "system", "path": "/convert"
                    } },
                    "conversionReviewVersions": ["v1"]
                }
            })
        );
        // Without a hub, no conversion stanza.
        let list = [
            reg("v1", true, widget_v1),
            reg("v1beta1", false, widget_v1beta1),
        ];
        assert!(crds_from(&list).unwrap()[0].spec.conversion.is_none());
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
        sort_by_version_priority(&mut v, |s| s);
        assert_eq!(v, ["v10", "v2", "v1", "v1beta2", "v1beta1", "v1alpha1"]);

        // The example from the Kubernetes docs ("Version priority" in
        // custom-resource-definition-versioning), listed there highest first.
        let documented = [
            "v10",
            "v2",
            "v1",
            "v11beta2",
            "v10beta3",
            "v3beta1",
            "v12alpha1",
            "v11alpha2",
            "foo1",
            "foo10",
        ];
        let mut shuffled = documented;
        shuffled.reverse();
        shuffled.swap(0, 4);
        sort_by_version_priority(&mut shuffled, |s| s);
        assert_eq!(shuffled, documented);
    }
}
