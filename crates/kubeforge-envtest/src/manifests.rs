//! Reading Kubernetes manifests (CRD and webhook directories, role.yaml) from disk.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use walkdir::WalkDir;

use crate::Error;

/// All documents of a `.yaml`/`.yml`/`.json` file, skipping empty ones.
pub(crate) fn read_documents(path: &Path) -> Result<Vec<Value>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let is_json = path.extension().is_some_and(|e| e == "json");
    let docs: Vec<Value> = if is_json {
        vec![serde_json::from_str(&text).map_err(|e| Error::Manifest {
            path: path.to_owned(),
            message: e.to_string(),
        })?]
    } else {
        serde_saphyr::from_multiple(&text).map_err(|e| Error::Manifest {
            path: path.to_owned(),
            message: one_line(&e.to_string()),
        })?
    };
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn kind(doc: &Value) -> &str {
    doc.get("kind").and_then(Value::as_str).unwrap_or_default()
}

fn api_version(doc: &Value) -> &str {
    doc.get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A Kubernetes object as it is sent to the API server: the document exactly as written
/// (unknown fields and all, as `kubectl apply` sends a file), with its name.
///
/// Objects are JSON rather than k8s-openapi types so that installing them needs no kube
/// (see `api`). What this crate reads or rewrites in them is checked when they are read
/// ([`Object::crd`], [`Object::webhook_configuration`]); the API server validates the rest.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Object {
    pub(crate) name: String,
    pub(crate) doc: Value,
}

/// The API version of CustomResourceDefinitions, the only one kube-apiserver 1.22+ serves.
pub(crate) const APIEXTENSIONS_V1: &str = "apiextensions.k8s.io/v1";

/// The only API version of the webhook configuration kinds that kube-apiserver 1.22+ serves.
pub(crate) const ADMISSION_V1: &str = "admissionregistration.k8s.io/v1";

/// The fields of a CustomResourceDefinition this crate reads: its name, and what it takes to
/// list each served version (`crds`).
#[derive(Deserialize)]
pub(crate) struct CrdView {
    pub(crate) metadata: Metadata,
    pub(crate) spec: CrdSpec,
    #[serde(default)]
    pub(crate) status: Option<CrdStatus>,
}

#[derive(Deserialize)]
pub(crate) struct Metadata {
    pub(crate) name: String,
}

#[derive(Deserialize)]
pub(crate) struct CrdSpec {
    pub(crate) group: String,
    pub(crate) names: CrdNames,
    pub(crate) versions: Vec<CrdVersion>,
    /// Read only by `webhooks`, as JSON; checked here.
    #[serde(default, rename = "conversion")]
    _conversion: Option<shape::Conversion>,
}

#[derive(Deserialize)]
pub(crate) struct CrdNames {
    pub(crate) kind: String,
    pub(crate) plural: String,
}

#[derive(Deserialize)]
pub(crate) struct CrdVersion {
    pub(crate) name: String,
    pub(crate) served: bool,
}

#[derive(Deserialize)]
pub(crate) struct CrdStatus {
    #[serde(default)]
    pub(crate) conditions: Vec<Condition>,
}

#[derive(Deserialize)]
pub(crate) struct Condition {
    #[serde(rename = "type")]
    pub(crate) type_: String,
    pub(crate) status: String,
}

/// Documents whose shape is checked but whose fields this crate reads as JSON (`webhooks`
/// rewrites client configurations in place), so a wrongly typed one is refused with its
/// file's name when read instead of half rewritten.
mod shape {
    #![allow(dead_code)] // the fields are only deserialized, which is the check

    use serde::Deserialize;

    #[derive(Deserialize)]
    pub(super) struct WebhookConfiguration {
        pub(super) metadata: super::Metadata,
        #[serde(default)]
        webhooks: Option<Vec<Webhook>>,
    }

    #[derive(Deserialize)]
    struct Webhook {
        name: String,
        #[serde(rename = "clientConfig")]
        client_config: ClientConfig,
    }

    #[derive(Deserialize)]
    pub(super) struct Conversion {
        strategy: String,
        #[serde(default)]
        webhook: Option<ConversionWebhook>,
    }

    #[derive(Deserialize)]
    struct ConversionWebhook {
        #[serde(rename = "clientConfig", default)]
        client_config: Option<ClientConfig>,
        #[serde(rename = "conversionReviewVersions", default)]
        conversion_review_versions: Option<Vec<String>>,
    }

    #[derive(Deserialize)]
    struct ClientConfig {
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        service: Option<ServiceReference>,
        #[serde(rename = "caBundle", default)]
        ca_bundle: Option<String>,
    }

    #[derive(Deserialize)]
    struct ServiceReference {
        #[serde(default)]
        path: Option<String>,
    }
}

impl Object {
    /// `doc` as a CustomResourceDefinition, or what is wrong with it (one line).
    pub(crate) fn crd(doc: Value) -> Result<Object, String> {
        const KIND: &str = "CustomResourceDefinition";
        check_type(&doc, KIND, APIEXTENSIONS_V1)?;
        let view = CrdView::deserialize(&doc).map_err(|e| format!("invalid {KIND}: {e}"))?;
        Ok(Object {
            name: view.metadata.name,
            doc,
        })
    }

    /// `doc` as a webhook configuration of `kind` (`MutatingWebhookConfiguration` or
    /// `ValidatingWebhookConfiguration`), or what is wrong with it (one line).
    pub(crate) fn webhook_configuration(doc: Value, kind: &str) -> Result<Object, String> {
        check_type(&doc, kind, ADMISSION_V1)?;
        let view = shape::WebhookConfiguration::deserialize(&doc)
            .map_err(|e| format!("invalid {kind}: {e}"))?;
        Ok(Object {
            name: view.metadata.name,
            doc,
        })
    }
}

/// Errors unless `doc` is a `kind` of `api_version`, the version kube-apiserver serves.
fn check_type(doc: &Value, kind: &str, api_version: &str) -> Result<(), String> {
    let found_kind = self::kind(doc);
    if found_kind != kind {
        return Err(format!("expected a {kind}, found kind {found_kind:?}"));
    }
    let found = self::api_version(doc);
    if found != api_version {
        return Err(format!(
            "{kind} has apiVersion {found:?}; only {api_version} is served by kube-apiserver"
        ));
    }
    Ok(())
}

/// Every CRD in the manifest files directly inside `dir` (sorted by file name, so install
/// order is deterministic). Documents of other kinds are ignored: a CRD directory may
/// also hold a kustomization.yaml.
pub(crate) fn read_crd_dir(dir: &Path) -> Result<Vec<Object>, Error> {
    let mut crds = Vec::new();
    for file in manifest_files(dir, "CRD")? {
        for doc in read_documents(&file)? {
            if kind(&doc) != "CustomResourceDefinition" {
                continue;
            }
            crds.push(Object::crd(doc).map_err(|message| Error::Manifest {
                path: file.clone(),
                message,
            })?);
        }
    }
    Ok(crds)
}

/// The webhook configurations found in a directory, in file-name order.
#[derive(Debug, Default, Clone)]
pub(crate) struct WebhookConfigurations {
    pub mutating: Vec<Object>,
    pub validating: Vec<Object>,
}

/// Every MutatingWebhookConfiguration and ValidatingWebhookConfiguration in the manifest
/// files directly inside `dir` (as [`read_crd_dir`] reads CRDs). Other kinds are ignored: a
/// `config/webhook` directory also holds a kustomization.yaml and the webhook Service.
pub(crate) fn read_webhook_dir(dir: &Path) -> Result<WebhookConfigurations, Error> {
    let mut found = WebhookConfigurations::default();
    for file in manifest_files(dir, "webhook")? {
        for doc in read_documents(&file)? {
            let kind = kind(&doc).to_owned();
            let list = match kind.as_str() {
                "MutatingWebhookConfiguration" => &mut found.mutating,
                "ValidatingWebhookConfiguration" => &mut found.validating,
                _ => continue,
            };
            list.push(
                Object::webhook_configuration(doc, &kind).map_err(|message| Error::Manifest {
                    path: file.clone(),
                    message,
                })?,
            );
        }
    }
    Ok(found)
}

/// The `.yaml`/`.yml`/`.json` files (or symlinks to files) directly inside `dir`, sorted by
/// name. Subdirectories are not entered, as with `kubectl apply -f <dir>` without `-R`.
/// `what` names the directory in errors ("CRD", "webhook").
fn manifest_files(dir: &Path, what: &str) -> Result<Vec<PathBuf>, Error> {
    let context = || format!("reading {what} directory {}", dir.display());
    let mut files = Vec::new();
    for entry in WalkDir::new(dir)
        .max_depth(1)
        .sort_by_file_name()
        .into_iter()
    {
        let entry = entry.map_err(|e| Error::io(context(), e.into()))?;
        if entry.depth() == 0 {
            // walkdir yields a file root as a single entry; reading it as a directory
            // would silently find no CRDs.
            if !entry.file_type().is_dir() {
                return Err(Error::io(
                    context(),
                    std::io::Error::from(std::io::ErrorKind::NotADirectory),
                ));
            }
            continue;
        }
        let path = entry.into_path();
        let manifest = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
        // `Path::is_file` follows symlinks, so a linked manifest counts.
        if manifest && path.is_file() {
            files.push(path);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_multi_document_crd_dirs_and_skips_other_kinds() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("a.yaml"),
            "---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: foos.example.com\nspec:\n  group: example.com\n  names: {kind: Foo, plural: foos}\n  scope: Namespaced\n  versions: []\n---\nkind: Kustomization\n---\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("b.json"),
            r#"{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"bars.example.com"},"spec":{"group":"example.com","names":{"kind":"Bar","plural":"bars"},"scope":"Cluster","versions":[]}}"#,
        )
        .expect("write");
        std::fs::write(
            dir.path().join("notes.txt"),
            "kind: CustomResourceDefinition",
        )
        .expect("write");
        let crds = read_crd_dir(dir.path()).expect("read");
        let names: Vec<_> = crds.iter().map(|c| c.name.clone()).collect();
        assert_eq!(names, ["foos.example.com", "bars.example.com"]);
    }

    fn crd_yaml(name: &str) -> String {
        format!(
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {name}\nspec:\n  group: example.com\n  names: {{kind: Foo, plural: foos}}\n  scope: Namespaced\n  versions: []\n"
        )
    }

    #[test]
    fn reads_files_in_name_order_without_entering_subdirectories() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("c.yml"), crd_yaml("c.example.com")).expect("write");
        std::fs::write(dir.path().join("a.yaml"), crd_yaml("a.example.com")).expect("write");
        std::fs::write(dir.path().join("b.YAML"), crd_yaml("upper.example.com")).expect("write");
        std::fs::create_dir(dir.path().join("b.yaml")).expect("a directory named like a file");
        std::fs::create_dir(dir.path().join("nested")).expect("mkdir");
        std::fs::write(
            dir.path().join("nested/d.yaml"),
            crd_yaml("nested.example.com"),
        )
        .expect("write");
        std::os::unix::fs::symlink(dir.path().join("c.yml"), dir.path().join("e.yaml"))
            .expect("symlink");
        let names: Vec<_> = read_crd_dir(dir.path())
            .expect("read")
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["a.example.com", "c.example.com", "c.example.com"]);
    }

    #[test]
    fn a_crd_dir_that_is_missing_or_a_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing");
        let err = read_crd_dir(&missing).expect_err("missing").to_string();
        assert!(
            err.starts_with(&format!("reading CRD directory {}: ", missing.display())),
            "{err}"
        );
        let file = dir.path().join("crd.yaml");
        std::fs::write(&file, crd_yaml("a.example.com")).expect("write");
        let err = read_crd_dir(&file).expect_err("a file").to_string();
        assert!(
            err.starts_with(&format!("reading CRD directory {}: ", file.display())),
            "{err}"
        );
    }

    #[test]
    fn reads_webhook_configurations_and_skips_the_service_and_kustomization() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("kustomization.yaml"),
            "resources:\n- manifests.yaml\n- service.yaml\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("service.yaml"),
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: webhook-service\n  namespace: system\nspec:\n  ports:\n  - port: 443\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("manifests.yaml"),
            "---\napiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: mutating-webhook-configuration\nwebhooks:\n- name: mfoo.kb.io\n  admissionReviewVersions: [v1]\n  sideEffects: None\n  clientConfig:\n    service: {name: webhook-service, namespace: system, path: /mutate-foo}\n---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata:\n  name: validating-webhook-configuration\nwebhooks:\n- name: vfoo.kb.io\n  admissionReviewVersions: [v1]\n  sideEffects: None\n  clientConfig:\n    service: {name: webhook-service, namespace: system, path: /validate-foo}\n",
        )
        .expect("write");
        let found = read_webhook_dir(dir.path()).expect("read");
        assert_eq!(found.mutating.len(), 1);
        assert_eq!(found.validating.len(), 1);
        assert_eq!(found.validating[0].name, "validating-webhook-configuration");
        let webhook = &found.validating[0].doc["webhooks"][0];
        assert_eq!(webhook["name"], "vfoo.kb.io");
        assert_eq!(webhook["clientConfig"]["service"]["path"], "/validate-foo");
    }

    #[test]
    fn webhook_dir_errors_name_the_directory_or_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("webhook");
        let err = read_webhook_dir(&missing).expect_err("missing").to_string();
        assert!(
            err.starts_with(&format!(
                "reading webhook directory {}: ",
                missing.display()
            )),
            "{err}"
        );
        std::fs::write(
            dir.path().join("old.yaml"),
            "apiVersion: admissionregistration.k8s.io/v1beta1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: old}\n",
        )
        .expect("write");
        let err = read_webhook_dir(dir.path())
            .expect_err("v1beta1")
            .to_string();
        assert!(err.contains("old.yaml") && err.contains("v1beta1"), "{err}");
        std::fs::write(
            dir.path().join("old.yaml"),
            "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: bad}\nwebhooks: [{name: 3}]\n",
        )
        .expect("write");
        let err = read_webhook_dir(dir.path()).expect_err("bad").to_string();
        assert!(
            err.contains("old.yaml") && err.contains("invalid ValidatingWebhookConfiguration"),
            "{err}"
        );
    }

    #[test]
    fn parse_errors_name_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("bad.yaml");
        std::fs::write(&file, "kind: [unclosed").expect("write");
        let err = read_crd_dir(dir.path()).expect_err("must fail").to_string();
        assert!(err.contains("bad.yaml"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}
