//! `builtin-kinds [--check]`: writes crates/kubeforge-cli/src/builtin_kinds.rs
//! from the sources of the k8s-openapi that generated projects use, so the
//! table `create api --resource=false` looks kinds up in names only types
//! that exist.
//!
//! The k8s-openapi package is the one `kubeforge` (the crate generated
//! projects depend on) resolves to in this workspace, found with `cargo
//! metadata`; its enabled `v1_*` feature picks the Kubernetes version's
//! module. Every `impl crate::Resource for T` under that version's `api/` is
//! read with syn: group, version, kind, plural (URL_PATH_SEGMENT) and scope.
//! Subresources (`SubResourceScope`: Scale, Eviction, TokenRequest) are left
//! out, since a controller cannot watch them.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::root;

/// The generated file, relative to the repository root.
const OUTPUT: &str = "crates/kubeforge-cli/src/builtin_kinds.rs";

/// One row of the table, in the order its fields sort by.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Kind {
    group: String,
    version: String,
    kind: String,
    plural: String,
    namespaced: bool,
    module: String,
}

pub fn run(check: bool) -> Result<()> {
    let source = k8s_openapi_source()?;
    let kinds = collect(&source.api_dir)?;
    let text = render(&source, &kinds);
    let path = root().join(OUTPUT);
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if check {
        if current != text {
            bail!(
                "{OUTPUT} is stale: it is not what k8s-openapi {} gives; run `cargo xtask builtin-kinds` and commit the result",
                source.package_version
            );
        }
        eprintln!(
            "{OUTPUT} matches k8s-openapi {} ({} kinds)",
            source.package_version,
            kinds.len()
        );
    } else if current == text {
        eprintln!("{OUTPUT} is up to date ({} kinds)", kinds.len());
    } else {
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        eprintln!(
            "wrote {OUTPUT} ({} kinds from k8s-openapi {})",
            kinds.len(),
            source.package_version
        );
    }
    Ok(())
}

/// Where the kinds are read from, and the versions the header names.
struct Source {
    /// e.g. "0.29.0"
    package_version: String,
    /// e.g. "1.37"
    kubernetes_version: String,
    /// `<k8s-openapi>/src/v1_37/api`
    api_dir: PathBuf,
}

fn k8s_openapi_source() -> Result<Source> {
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(root().join("Cargo.toml"))
        .exec()
        .context("cargo metadata (to find k8s-openapi's sources)")?;
    let resolve = metadata
        .resolve
        .as_ref()
        .context("cargo metadata gave no dependency graph")?;
    let node = |id: &cargo_metadata::PackageId| resolve.nodes.iter().find(|n| &n.id == id);
    let kubeforge = metadata
        .workspace_packages()
        .into_iter()
        .find(|p| p.name.as_str() == "kubeforge")
        .context("the workspace has no `kubeforge` package")?;
    let k8s_openapi = node(&kubeforge.id)
        .context("`kubeforge` is not in cargo's dependency graph")?
        .dependencies
        .iter()
        .find(|id| metadata[*id].name.as_str() == "k8s-openapi")
        .context("`kubeforge` does not depend on k8s-openapi")?;
    let package = &metadata[k8s_openapi];
    let versions: Vec<&str> = node(k8s_openapi)
        .context("k8s-openapi is not in cargo's dependency graph")?
        .features
        .iter()
        .map(|f| f.as_str())
        .filter(|f| f.starts_with("v1_"))
        .collect();
    let [version] = versions.as_slice() else {
        bail!(
            "k8s-openapi needs exactly one `v1_*` feature enabled, this workspace enables {versions:?}"
        );
    };
    let src = package
        .manifest_path
        .parent()
        .context("k8s-openapi's manifest has no directory")?
        .join("src");
    let api_dir = src.join(version).join("api").into_std_path_buf();
    if !api_dir.is_dir() {
        bail!(
            "k8s-openapi {} has no {}",
            package.version,
            api_dir.display()
        );
    }
    Ok(Source {
        package_version: package.version.to_string(),
        kubernetes_version: version.trim_start_matches('v').replace('_', "."),
        api_dir,
    })
}

/// Every `.rs` file under `dir`, sorted, so the reading order never depends
/// on the file system.
fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "rs") {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// The kinds of every `impl crate::Resource` under `api_dir`, sorted by
/// group, version and kind.
fn collect(api_dir: &Path) -> Result<BTreeSet<Kind>> {
    let mut kinds = BTreeSet::new();
    for file in rust_files(api_dir)? {
        let rel = file.strip_prefix(api_dir)?;
        let mut dirs = rel.iter().map(|c| c.to_string_lossy().into_owned());
        let (Some(module), Some(version_dir)) = (dirs.next(), dirs.next()) else {
            continue;
        };
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let syntax =
            syn::parse_file(&text).with_context(|| format!("parsing {}", file.display()))?;
        for item in &syntax.items {
            let syn::Item::Impl(imp) = item else {
                continue;
            };
            if !imp
                .trait_
                .as_ref()
                .is_some_and(|(path, _)| is_path(path, &["crate", "Resource"]))
            {
                continue;
            }
            let at = || format!("impl crate::Resource in {}", file.display());
            if let Some(kind) = read_impl(imp, &module, &version_dir).with_context(at)? {
                kinds.insert(kind);
            }
        }
    }
    if kinds.is_empty() {
        bail!(
            "no `impl crate::Resource` found under {}",
            api_dir.display()
        );
    }
    Ok(kinds)
}

fn is_path(path: &syn::Path, segments: &[&str]) -> bool {
    path.segments.len() == segments.len()
        && path
            .segments
            .iter()
            .zip(segments)
            .all(|(s, want)| s.ident == want)
}

/// One `impl crate::Resource for T` as a row; `None` for a subresource.
/// Checks what `create api` relies on: the type is reachable as
/// `k8s_openapi::api::<module>::<VERSION>::<KIND>`.
fn read_impl(imp: &syn::ItemImpl, module: &str, version_dir: &str) -> Result<Option<Kind>> {
    let self_name = match &*imp.self_ty {
        syn::Type::Path(ty) => ty.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
    .context("the Self type is not a plain type name")?;
    let mut consts = std::collections::BTreeMap::new();
    let mut scope = None;
    for item in &imp.items {
        match item {
            syn::ImplItem::Const(c) => {
                if let syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) = &c.expr
                {
                    consts.insert(c.ident.to_string(), s.value());
                }
            }
            syn::ImplItem::Type(t) if t.ident == "Scope" => {
                if let syn::Type::Path(ty) = &t.ty {
                    scope = ty.path.segments.last().map(|s| s.ident.to_string());
                }
            }
            _ => {}
        }
    }
    let get = |name: &str| {
        consts
            .get(name)
            .cloned()
            .with_context(|| format!("{self_name} has no string const {name}"))
    };
    let namespaced = match scope.as_deref() {
        Some("NamespaceResourceScope") => true,
        Some("ClusterResourceScope") => false,
        Some("SubResourceScope") => return Ok(None),
        other => bail!("{self_name} has an unknown Scope {other:?}"),
    };
    let kind = Kind {
        group: get("GROUP")?,
        version: get("VERSION")?,
        kind: get("KIND")?,
        plural: get("URL_PATH_SEGMENT")?,
        namespaced,
        module: module.to_string(),
    };
    let api_version = if kind.group.is_empty() {
        kind.version.clone()
    } else {
        format!("{}/{}", kind.group, kind.version)
    };
    if get("API_VERSION")? != api_version {
        bail!("{self_name}: API_VERSION is not GROUP/VERSION");
    }
    if kind.kind != self_name || kind.version != version_dir {
        bail!(
            "{self_name}: KIND {} VERSION {} does not match its path api::{module}::{version_dir}::{self_name}",
            kind.kind,
            kind.version
        );
    }
    Ok(Some(kind))
}

/// The file, formatted as rustfmt formats it (`cargo fmt --check` holds it
/// to that).
fn render(source: &Source, kinds: &BTreeSet<Kind>) -> String {
    let minor = source
        .package_version
        .rsplit_once('.')
        .map_or(source.package_version.as_str(), |(major_minor, _)| {
            major_minor
        });
    let mut out = format!(
        r#"//! Built-in Kubernetes kinds that `create api --resource=false` can scaffold a
//! controller for. Generated from k8s-openapi {minor} (Kubernetes {k8s}), the
//! version generated projects depend on, so every entry names a real type.
//!
//! Written by `cargo xtask builtin-kinds`; do not edit. `cargo xtask ci` fails
//! when it is stale.

/// One built-in kind: its API group ("" for core), version, kind, plural,
/// whether it is namespaced, and its module under `k8s_openapi::api`.
pub struct BuiltinKind {{
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
    pub module: &'static str,
}}

pub const BUILTIN_KINDS: &[BuiltinKind] = &[
"#,
        k8s = source.kubernetes_version,
    );
    for k in kinds {
        // `{:?}` writes a valid Rust string literal.
        let _ = write!(
            out,
            "    BuiltinKind {{\n        group: {:?},\n        version: {:?},\n        kind: {:?},\n        plural: {:?},\n        namespaced: {},\n        module: {:?},\n    }},\n",
            k.group, k.version, k.kind, k.plural, k.namespaced, k.module
        );
    }
    out.push_str("];\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(src: &str) -> Result<Option<Kind>> {
        let file = syn::parse_file(src)?;
        let Some(syn::Item::Impl(imp)) = file.items.first() else {
            bail!("no impl");
        };
        read_impl(imp, "apps", "v1")
    }

    #[test]
    fn reads_a_resource_impl() {
        let kind = read(
            r#"impl crate::Resource for Deployment {
                const API_VERSION: &'static str = "apps/v1";
                const GROUP: &'static str = "apps";
                const KIND: &'static str = "Deployment";
                const VERSION: &'static str = "v1";
                const URL_PATH_SEGMENT: &'static str = "deployments";
                type Scope = crate::NamespaceResourceScope;
            }"#,
        )
        .unwrap();
        assert_eq!(
            kind,
            Some(Kind {
                group: "apps".into(),
                version: "v1".into(),
                kind: "Deployment".into(),
                plural: "deployments".into(),
                namespaced: true,
                module: "apps".into(),
            })
        );
    }

    #[test]
    fn skips_subresources_and_refuses_mismatched_paths() {
        let scale = r#"impl crate::Resource for Scale {
            const API_VERSION: &'static str = "apps/v1";
            const GROUP: &'static str = "apps";
            const KIND: &'static str = "Scale";
            const VERSION: &'static str = "v1";
            const URL_PATH_SEGMENT: &'static str = "scale";
            type Scope = crate::SubResourceScope;
        }"#;
        assert_eq!(read(scale).unwrap(), None);
        let wrong_version = scale
            .replace("SubResourceScope", "ClusterResourceScope")
            .replace("\"v1\"", "\"v2\"")
            .replace("apps/v1", "apps/v2");
        assert!(read(&wrong_version).is_err());
    }

    #[test]
    fn renders_rows_sorted_with_core_first() {
        let source = Source {
            package_version: "0.29.0".into(),
            kubernetes_version: "1.37".into(),
            api_dir: PathBuf::new(),
        };
        let row = |group: &str, kind: &str| Kind {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
            plural: format!("{}s", kind.to_lowercase()),
            namespaced: true,
            module: if group.is_empty() { "core" } else { "apps" }.into(),
        };
        let kinds = BTreeSet::from([row("apps", "Deployment"), row("", "Pod")]);
        let text = render(&source, &kinds);
        assert!(text.contains("k8s-openapi 0.29 (Kubernetes 1.37)"));
        let pod = text.find("kind: \"Pod\"").unwrap();
        let deployment = text.find("kind: \"Deployment\"").unwrap();
        assert!(pod < deployment, "core group sorts first");
        assert!(text.ends_with("    },\n];\n"));
    }
}
