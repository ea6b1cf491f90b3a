//! The templates under the repository's `templates/`, embedded at build time
//! so an installed `kubeforge` needs no checkout.
//!
//! Each top-level directory is one scaffold (`init`, `api`, `controller`,
//! ...) laid out as the tree it produces: a file's path, itself a template
//! (`config/samples/{{ group }}_{{ version }}_{{ kind_snake }}.yaml`), is where
//! it lands in the project. The same sources are meant to serve cargo-generate
//! (Liquid) too, so they use only the syntax both engines share: underscore
//! variables, `if`/`else`/`for`/`raw`, no filter arguments, no `elif`, `not`,
//! `set` or comments. [`tests::templates_use_the_shared_syntax`] enforces that.
//!
//! A template whose output is blank is not written: that is how a file is
//! made optional without a side table.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{Context as _, Result, anyhow};
use include_dir::{Dir, include_dir};

static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../templates");

/// Names of every template rendered to a non-blank file in this process, so
/// a test can prove no template file is dead.
static RENDERED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// One rendered file: where it goes (relative to the project root) and what it holds.
pub struct RenderedFile {
    pub path: PathBuf,
    pub contents: String,
}

/// Renders every file of one scaffold with the given variables.
pub fn render_scaffold(scaffold: &str, context: &tera::Context) -> Result<Vec<RenderedFile>> {
    let dir = TEMPLATES
        .get_dir(scaffold)
        .ok_or_else(|| anyhow!("internal error: no templates for scaffold `{scaffold}`"))?;
    let mut files = Vec::new();
    collect(dir, &mut files);
    files.sort_by(|a, b| a.path().cmp(b.path()));
    let mut out = Vec::new();
    for file in files {
        let name = file.path().to_string_lossy().into_owned();
        let source = file
            .contents_utf8()
            .ok_or_else(|| anyhow!("internal error: template {name} is not UTF-8"))?;
        let contents = render_str(&name, source, context)?;
        let rel = file
            .path()
            .strip_prefix(scaffold)
            .map_err(|_| anyhow!("internal error: {name} outside {scaffold}"))?;
        let path = render_str(&format!("{name} (path)"), &rel.to_string_lossy(), context)?;
        if contents.trim().is_empty() {
            continue;
        }
        mark_rendered(&name);
        out.push(RenderedFile {
            path: PathBuf::from(path),
            contents,
        });
    }
    Ok(out)
}

fn collect<'a>(dir: &'a Dir<'a>, out: &mut Vec<&'a include_dir::File<'a>>) {
    out.extend(dir.files());
    for sub in dir.dirs() {
        collect(sub, out);
    }
}

/// Renders one template string (also used for fragments inserted at markers).
pub fn render_str(name: &str, source: &str, context: &tera::Context) -> Result<String> {
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![]);
    tera.add_raw_template(name, source)
        .with_context(|| format!("internal error: template {name} does not parse"))?;
    tera.render(name, context)
        .map_err(|err| anyhow!("internal error: rendering {name}: {}", error_chain(&err)))
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut msg = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

fn mark_rendered(name: &str) {
    if let Ok(mut set) = RENDERED.lock() {
        set.insert(name.to_string());
    }
}

/// Every embedded template file, by name (`init/Cargo.toml`, ...).
pub fn all_template_names() -> Vec<String> {
    let mut files = Vec::new();
    collect(&TEMPLATES, &mut files);
    let mut names: Vec<String> = files
        .iter()
        .map(|f| f.path().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The templates rendered so far in this process.
pub fn rendered_template_names() -> BTreeSet<String> {
    RENDERED.lock().map(|s| s.clone()).unwrap_or_default()
}

/// Every template's source, for checks.
pub fn all_template_sources() -> Vec<(String, String)> {
    let mut files = Vec::new();
    collect(&TEMPLATES, &mut files);
    files
        .iter()
        .map(|f| {
            (
                f.path().to_string_lossy().into_owned(),
                f.contents_utf8().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Syntax Tera has and Liquid lacks (or spells differently). Keeping to
    /// the common subset lets the same tree serve cargo-generate.
    #[test]
    fn templates_use_the_shared_syntax() {
        let forbidden = [
            ("{#", "comments"),
            ("elif", "elif"),
            ("{% set", "set"),
            ("{%- set", "set"),
            (" not ", "`not`"),
            ("{% macro", "macros"),
            ("{% include", "include"),
            ("{% extends", "extends"),
        ];
        let mut problems = Vec::new();
        for (name, source) in all_template_sources() {
            for block in source.split("{%").skip(1).chain(source.split("{{").skip(1)) {
                let tag = block.split(['}', '%']).next().unwrap_or_default();
                if tag.contains('(') {
                    problems.push(format!(
                        "{name}: filter or function with arguments in `{tag}`"
                    ));
                }
                if tag.contains('-')
                    && !tag.starts_with('-')
                    && !tag.ends_with('-')
                    && !tag.contains('"')
                {
                    problems.push(format!("{name}: dashed variable in `{tag}`"));
                }
            }
            for (needle, what) in forbidden {
                if needle == "{#" || needle.starts_with("{%") {
                    if source.contains(needle) {
                        problems.push(format!("{name}: uses {what}"));
                    }
                } else {
                    for block in source.split("{%").skip(1) {
                        let tag = block.split("%}").next().unwrap_or_default();
                        if tag.contains(needle) || tag.trim_start().starts_with(needle.trim()) {
                            problems.push(format!("{name}: uses {what}"));
                        }
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
