//! Reading Kubernetes manifests (CRD and webhook directories, role.yaml) from disk.

use std::path::{Path, PathBuf};

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
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

/// Every CRD in the manifest files directly inside `dir` (sorted by file name, so install
/// order is deterministic). Documents of other kinds are ignored: a CRD directory may
/// also hold a kustomization.yaml.
pub(crate) fn read_crd_dir(dir: &Path) -> Result<Vec<CustomResourceDefinition>, Error> {
    let mut crds = Vec::new();
    for file in manifest_files(dir, "CRD")? {
        for doc in read_documents(&file)? {
            if kind(&doc) != "CustomResourceDefinition" {
                continue;
            }
            let crd: CustomResourceDefinition =
                serde_json::from_value(doc).map_err(|e| Error::Manifest {
                    path: file.clone(),
                    message: format!("invalid CustomResourceDefinition: {e}"),
                })?;
            crds.push(crd);
        }
    }
    Ok(crds)
}

/// The webhook configurations found in a directory, in file-name order.
#[derive(Debug, Default, Clone)]
pub(crate) struct WebhookConfigurations {
    pub mutating: Vec<MutatingWebhookConfiguration>,
    pub validating: Vec<ValidatingWebhookConfiguration>,
}

/// The only API version of the webhook configuration kinds that kube-apiserver 1.22+ serves.
const ADMISSION_V1: &str = "admissionregistration.k8s.io/v1";

/// Every MutatingWebhookConfiguration and ValidatingWebhookConfiguration in the manifest
/// files directly inside `dir` (as [`read_crd_dir`] reads CRDs). Other kinds are ignored: a
/// `config/webhook` directory also holds a kustomization.yaml and the webhook Service.
pub(crate) fn read_webhook_dir(dir: &Path) -> Result<WebhookConfigurations, Error> {
    let mut found = WebhookConfigurations::default();
    for file in manifest_files(dir, "webhook")? {
        for doc in read_documents(&file)? {
            let kind = kind(&doc).to_owned();
            if kind != "MutatingWebhookConfiguration" && kind != "ValidatingWebhookConfiguration" {
                continue;
            }
            let api_version = doc
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if api_version != ADMISSION_V1 {
                return Err(Error::Manifest {
                    path: file.clone(),
                    message: format!(
                        "{kind} has apiVersion {api_version:?}; only {ADMISSION_V1} is served by kube-apiserver"
                    ),
                });
            }
            let invalid = |e: serde_json::Error| Error::Manifest {
                path: file.clone(),
                message: format!("invalid {kind}: {e}"),
            };
            if kind == "MutatingWebhookConfiguration" {
                found
                    .mutating
                    .push(serde_json::from_value(doc).map_err(invalid)?);
            } else {
                found
                    .validating
                    .push(serde_json::from_value(doc).map_err(invalid)?);
            }
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
        let names: Vec<_> = crds
            .iter()
            .filter_map(|c| c.metadata.name.clone())
            .collect();
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
            .filter_map(|c| c.metadata.name)
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
        let webhooks = found.validating[0].webhooks.as_deref().unwrap_or_default();
        assert_eq!(webhooks[0].name, "vfoo.kb.io");
        let service = webhooks[0].client_config.service.as_ref().expect("service");
        assert_eq!(service.path.as_deref(), Some("/validate-foo"));
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
