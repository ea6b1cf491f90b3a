//! Reading Kubernetes manifests (CRD directories, role.yaml) from disk.

use std::path::{Path, PathBuf};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

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
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::io(format!("reading CRD directory {}", dir.display()), e))?;
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| Error::io(format!("reading CRD directory {}", dir.display()), e))?
            .path();
        let manifest = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
        if manifest && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    let mut crds = Vec::new();
    for file in files {
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
