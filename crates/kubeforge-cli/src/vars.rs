//! The variables templates see. Every name a template uses is computed here,
//! in Rust, so templates stay free of logic and filters (which Tera and
//! Liquid spell differently).

use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::names;
use crate::project::{Project, Resource};

/// The kubeforge version generated projects depend on by default.
pub const KUBEFORGE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The Kubernetes version kubeforge targets: k8s-openapi's feature and the
/// control plane kubeforge-envtest runs.
pub const KUBERNETES_VERSION: &str = "1.37.2";

/// How a generated project finds the kubeforge crates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeforgeSource {
    /// A checkout's root; crates are under `crates/`.
    Path(PathBuf),
    Version(String),
}

impl KubeforgeSource {
    /// The source when no flag says otherwise: the checkout this binary was
    /// built from if it is still there (developing kubeforge itself), else
    /// crates.io at this version.
    pub fn default_for_this_build() -> KubeforgeSource {
        let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        match checkout.join("crates/kubeforge/Cargo.toml").is_file() {
            true => match std::fs::canonicalize(&checkout) {
                Ok(path) => KubeforgeSource::Path(path),
                Err(_) => KubeforgeSource::Version(KUBEFORGE_VERSION.to_string()),
            },
            false => KubeforgeSource::Version(KUBEFORGE_VERSION.to_string()),
        }
    }

    /// The TOML fields for one crate (`path = "..."` or `version = "..."`),
    /// as seen from the project root.
    pub fn toml_for(&self, krate: &str, project_root: &Path) -> Result<String> {
        match self {
            KubeforgeSource::Version(v) => Ok(format!("version = \"{v}\"")),
            KubeforgeSource::Path(checkout) => {
                let target = checkout.join("crates").join(krate);
                if !target.join("Cargo.toml").is_file() {
                    bail!(
                        "--kubeforge-path {} is not a kubeforge checkout (no crates/{krate}/Cargo.toml); pass the checkout's root",
                        checkout.display()
                    );
                }
                let path = dependency_path(&target, project_root)?;
                Ok(format!("path = \"{}\"", path.replace('\\', "/")))
            }
        }
    }
}

/// Relative when the project lives inside the same checkout (so examples
/// stay portable), absolute otherwise (a relative path out of /tmp into a
/// home directory would break as soon as either moves).
fn dependency_path(target: &Path, project_root: &Path) -> Result<String> {
    let target =
        std::fs::canonicalize(target).with_context(|| format!("resolving {}", target.display()))?;
    let checkout = target
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let root = absolute(project_root)?;
    if root.starts_with(&checkout) {
        Ok(relative_path(&target, &root).to_string_lossy().into_owned())
    } else {
        Ok(target.to_string_lossy().into_owned())
    }
}

/// An absolute, normalized path even when it doesn't exist yet (a new
/// project directory).
pub fn absolute(path: &Path) -> Result<PathBuf> {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(canon) = std::fs::canonicalize(&existing) {
            let mut out = canon;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return Ok(out);
        }
        let Some(name) = existing.file_name().map(|n| n.to_os_string()) else {
            let cwd = std::env::current_dir().context("reading the current directory")?;
            let mut out = cwd;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return Ok(out);
        };
        rest.push(name);
        if !existing.pop() || existing.as_os_str().is_empty() {
            existing = PathBuf::from(".");
        }
    }
}

fn relative_path(target: &Path, from: &Path) -> PathBuf {
    let t: Vec<Component> = target.components().collect();
    let f: Vec<Component> = from.components().collect();
    let common = t.iter().zip(&f).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// How the generated workspace depends on the kubeforge crates: the TOML
/// fields (`path = "..."` or `version = "..."`) for each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependencies {
    pub kubeforge: String,
    pub kubeforge_envtest: String,
}

impl Dependencies {
    pub fn insert_into(&self, ctx: &mut tera::Context) {
        ctx.insert("kubeforge_source", &self.kubeforge);
        ctx.insert("kubeforge_envtest_source", &self.kubeforge_envtest);
    }

    /// Reads them back from a project's workspace Cargo.toml, where `init`
    /// wrote them, so later commands render the same lines.
    pub fn from_workspace(root: &Path) -> Result<Dependencies> {
        let path = root.join("Cargo.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let find = |krate: &str, suffix: &str| -> Result<String> {
            let prefix = format!("{krate} = {{ ");
            text.lines()
                .find_map(|line| line.strip_prefix(&prefix)?.strip_suffix(suffix))
                .map(str::to_string)
                .with_context(|| {
                    format!(
                        "Cargo.toml has no `{prefix}...{suffix}` line; kubeforge needs it as `init` wrote it"
                    )
                })
        };
        Ok(Dependencies {
            kubeforge: find("kubeforge", ", default-features = false }")?,
            kubeforge_envtest: find("kubeforge-envtest", " }")?,
        })
    }
}

/// The licence header put on top of generated Rust sources. No year, so the
/// same commands give the same bytes on any day.
pub fn license_header(license: &str, owner: Option<&str>) -> String {
    let owner = owner.unwrap_or("the project authors");
    match license {
        "apache2" => format!(
            "// Copyright {owner}.\n//\n// Licensed under the Apache License, Version 2.0 (the \"License\");\n// you may not use this file except in compliance with the License.\n// You may obtain a copy of the License at\n//\n//     http://www.apache.org/licenses/LICENSE-2.0\n//\n// Unless required by applicable law or agreed to in writing, software\n// distributed under the License is distributed on an \"AS IS\" BASIS,\n// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.\n// See the License for the specific language governing permissions and\n// limitations under the License.\n\n"
        ),
        "mit" => format!("// Copyright {owner}.\n// SPDX-License-Identifier: MIT\n\n"),
        _ => String::new(),
    }
}

/// The SPDX expression for Cargo.toml's `license` field.
pub fn spdx(license: &str) -> &'static str {
    match license {
        "apache2" => "Apache-2.0",
        "mit" => "MIT",
        _ => "",
    }
}

/// Variables every scaffold of a project sees.
pub fn project_context(project: &Project) -> tera::Context {
    let mut ctx = tera::Context::new();
    let name = &project.project_name;
    ctx.insert("project_name", name);
    ctx.insert("domain", &project.domain);
    ctx.insert("api_crate", &format!("{name}-api"));
    ctx.insert("api_lib", &format!("{}_api", name.replace('-', "_")));
    ctx.insert("manager_crate", &format!("{name}-manager"));
    ctx.insert(
        "manager_lib",
        &format!("{}_manager", name.replace('-', "_")),
    );
    ctx.insert("namespace", &format!("{name}-system"));
    ctx.insert("leader_election_id", &format!("{name}.{}", project.domain));
    ctx.insert(
        "license_header",
        &license_header(&project.license, project.owner.as_deref()),
    );
    ctx.insert("license_spdx", spdx(&project.license));
    ctx.insert("has_license", &!spdx(&project.license).is_empty());
    ctx.insert("kubeforge_version", KUBEFORGE_VERSION);
    ctx.insert("kubernetes_version", KUBERNETES_VERSION);
    ctx
}

/// Variables for one resource (a kind at a group and version).
pub fn resource_context(
    project: &Project,
    resource: &Resource,
    controller_module: &str,
) -> tera::Context {
    let mut ctx = project_context(project);
    let kind_snake = names::snake_case(&resource.kind);
    let group_dir = resource.group.replace(['.', '-'], "_");
    let api_group = resource.api_group();
    ctx.insert("group", &resource.group);
    ctx.insert("version", &resource.version);
    ctx.insert("kind", &resource.kind);
    ctx.insert("plural", &resource.plural);
    ctx.insert("kind_snake", &kind_snake);
    ctx.insert("kind_lower", &resource.kind.to_ascii_lowercase());
    ctx.insert("group_dir", &group_dir);
    ctx.insert("group_module", &names::rust_ident(&group_dir));
    ctx.insert("api_group", &api_group);
    // The group as RBAC and owner references spell it: "" for core.
    ctx.insert(
        "api_version",
        &match api_group.as_str() {
            "" => resource.version.clone(),
            g => format!("{g}/{}", resource.version),
        },
    );
    ctx.insert("crd_name", &format!("{}.{api_group}", resource.plural));
    ctx.insert(
        "namespaced",
        &resource.api.as_ref().map(|a| a.namespaced).unwrap_or(true),
    );
    ctx.insert("type_path", &resource.path);
    ctx.insert("builtin", &resource.core);
    ctx.insert("controller_module", controller_module);
    // The controller's name in logs and metrics labels: its module's name.
    ctx.insert("controller_name", controller_module);
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative_path(
                Path::new("/r/crates/kubeforge"),
                Path::new("/r/examples/app")
            ),
            PathBuf::from("../../crates/kubeforge")
        );
        assert_eq!(
            relative_path(Path::new("/r/crates/kubeforge"), Path::new("/r")),
            PathBuf::from("crates/kubeforge")
        );
    }
}
