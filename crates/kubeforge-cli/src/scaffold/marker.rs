//! Scaffold markers: the lines in generated files where later scaffolds
//! insert code, as Kubebuilder's `+kubebuilder:scaffold:<name>` markers.
//!
//! Every marker is in [`Marker`]'s one table with one prefix,
//! `+kubeforge:scaffold:`; the comment around it follows the file's type
//! (`// ` in Rust, `# ` in YAML), so a marker is named once and spelled
//! right in every file.

use std::path::Path;

use anyhow::{Result, bail};
use serde::Deserialize;

/// The prefix of every marker.
pub const PREFIX: &str = "+kubeforge:scaffold:";

/// Every scaffold marker kubeforge knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Marker {
    /// `api/src/lib.rs`: one `pub mod` per API group.
    Groups,
    /// A group's `mod.rs`: one `pub mod` per version.
    Versions,
    /// A version's `mod.rs`: one module per kind.
    Kinds,
    /// The manager's controller modules, and their wiring in `main.rs`.
    Controllers,
    /// `config/crd/kustomization.yaml`: one CRD file per kind.
    CrdResources,
    /// `config/samples/kustomization.yaml`: one sample per kind and version.
    Samples,
    /// `config/rbac/kustomization.yaml`: the admin/editor/viewer roles per kind.
    Rbac,
    /// The manager crate's `lib.rs`: modules added by later scaffolds.
    Modules,
    /// The manager's `main.rs`: `use` lines for what later scaffolds wire in.
    Imports,
    /// The manager's `Cargo.toml`: dependencies later scaffolds add (an
    /// external kind's crate).
    Dependencies,
    /// The manager's `Cargo.toml`: test-only dependencies later scaffolds need.
    DevDependencies,
    /// The webhooks' modules (`webhook/mod.rs`) and their registration (`main.rs`).
    Webhooks,
    /// `webhook/mod.rs`'s `register`: one line per webhook.
    WebhookRegistrations,
    /// `config/default/kustomization.yaml`: bases turned on by later scaffolds.
    DefaultResources,
    /// `config/default/kustomization.yaml`: patches added by later scaffolds.
    DefaultPatches,
    /// `config/network-policy/kustomization.yaml`: one policy per kind of traffic.
    NetworkPolicies,
}

impl Marker {
    /// The table: every marker, for checks that templates and code agree.
    pub const ALL: [Marker; 16] = [
        Marker::Groups,
        Marker::Versions,
        Marker::Kinds,
        Marker::Controllers,
        Marker::CrdResources,
        Marker::Samples,
        Marker::Rbac,
        Marker::Modules,
        Marker::Imports,
        Marker::Dependencies,
        Marker::DevDependencies,
        Marker::Webhooks,
        Marker::WebhookRegistrations,
        Marker::DefaultResources,
        Marker::DefaultPatches,
        Marker::NetworkPolicies,
    ];

    /// The marker's name after the prefix.
    pub fn name(self) -> &'static str {
        match self {
            Marker::Groups => "groups",
            Marker::Versions => "versions",
            Marker::Kinds => "kinds",
            Marker::Controllers => "controllers",
            Marker::CrdResources => "crd-resources",
            Marker::Samples => "samples",
            Marker::Rbac => "rbac",
            Marker::Modules => "modules",
            Marker::Imports => "imports",
            Marker::Dependencies => "dependencies",
            Marker::DevDependencies => "dev-dependencies",
            Marker::Webhooks => "webhooks",
            Marker::WebhookRegistrations => "webhook-registrations",
            Marker::DefaultResources => "default-resources",
            Marker::DefaultPatches => "default-patches",
            Marker::NetworkPolicies => "network-policies",
        }
    }

    /// The marker line (without indentation) as it appears in `file`.
    pub fn line(self, file: &Path) -> String {
        format!("{} {PREFIX}{}", comment_syntax(file), self.name())
    }

    /// Inserts `fragment` just before the marker's line in `text` (the
    /// contents of `file`), indented like the marker. Idempotent: if the
    /// fragment's lines are already in the file (ignoring indentation),
    /// nothing changes. A one-line `pub mod` joins the run of them above the
    /// marker in sorted order, where rustfmt would put it, so the scaffold
    /// stays `cargo fmt --check` clean whatever order kinds are added in.
    pub fn insert(self, file: &Path, text: &str, fragment: &str) -> Result<String> {
        let marker = self.line(file);
        let fragment = fragment.trim_end_matches('\n');
        if fragment.trim().is_empty() {
            return Ok(text.to_string());
        }
        let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
        let Some(mut index) = lines.iter().position(|l| l.trim() == marker) else {
            bail!(
                "scaffold marker `{marker}` not found; put the marker line back so kubeforge can insert code there"
            );
        };
        let wanted: Vec<&str> = fragment.lines().map(str::trim).collect();
        let present: Vec<&str> = text.lines().map(str::trim).collect();
        if present
            .windows(wanted.len())
            .any(|w| w == wanted.as_slice())
        {
            return Ok(text.to_string());
        }
        let indent: String = lines[index]
            .chars()
            .take_while(|c| c.is_whitespace() && *c != '\n')
            .collect();
        if let [line] = wanted.as_slice()
            && line.starts_with("pub mod ")
        {
            while index > 0 {
                let above = lines[index - 1].trim();
                if above.starts_with("pub mod ") && above > *line {
                    index -= 1;
                } else {
                    break;
                }
            }
        }
        let mut block = String::new();
        for line in fragment.lines() {
            if !line.trim().is_empty() {
                block.push_str(&indent);
                block.push_str(line);
            }
            block.push('\n');
        }
        lines.insert(index, &block);
        Ok(lines.concat())
    }
}

/// The line-comment syntax of a file, by its type.
fn comment_syntax(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()) {
        Some("rs") => "//",
        _ => "#",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs() -> &'static Path {
        Path::new("src/lib.rs")
    }

    #[test]
    fn markers_follow_the_file_type() {
        assert_eq!(Marker::Kinds.line(rs()), "// +kubeforge:scaffold:kinds");
        assert_eq!(
            Marker::CrdResources.line(Path::new("config/crd/kustomization.yaml")),
            "# +kubeforge:scaffold:crd-resources"
        );
    }

    #[test]
    fn inserts_before_marker_with_its_indent() {
        let text = "fn main() {\n    a();\n    // +kubeforge:scaffold:controllers\n}\n";
        let out = Marker::Controllers
            .insert(rs(), text, "b();\nc();")
            .unwrap();
        assert_eq!(
            out,
            "fn main() {\n    a();\n    b();\n    c();\n    // +kubeforge:scaffold:controllers\n}\n"
        );
        let again = Marker::Controllers
            .insert(rs(), &out, "b();\nc();")
            .unwrap();
        assert_eq!(again, out, "insertion is idempotent");
    }

    #[test]
    fn mod_declarations_are_inserted_sorted() {
        let m = Marker::Groups;
        let text = "pub mod beta;\npub mod delta;\n// +kubeforge:scaffold:groups\n";
        let out = m.insert(rs(), text, "pub mod alpha;").unwrap();
        assert!(out.starts_with("pub mod alpha;\npub mod beta;\npub mod delta;\n"));
        let out = m.insert(rs(), &out, "pub mod gamma;").unwrap();
        let out = m.insert(rs(), &out, "pub mod charlie;").unwrap();
        assert_eq!(
            out,
            "pub mod alpha;\npub mod beta;\npub mod charlie;\npub mod delta;\npub mod gamma;\n// +kubeforge:scaffold:groups\n"
        );
    }

    #[test]
    fn missing_marker_is_an_error() {
        let err = Marker::Kinds.insert(rs(), "x\n", "y").unwrap_err();
        assert!(
            err.to_string()
                .contains("`// +kubeforge:scaffold:kinds` not found"),
            "{err}"
        );
    }

    #[test]
    fn names_are_unique() {
        let names: std::collections::BTreeSet<_> = Marker::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names.len(), Marker::ALL.len());
    }
}
