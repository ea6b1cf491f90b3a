//! The templates under the repository's `templates/`, embedded at build time
//! so an installed `kubeforge` needs no checkout.
//!
//! Each scaffold is a directory laid out as the tree it produces
//! (`templates/api/`), beside a declaration of the same name
//! (`templates/api.yaml`) saying what happens when one of its files exists
//! already and which fragments it inserts at [`Marker`]s in files other
//! scaffolds made. A file's path is itself a template
//! (`config/samples/{{ group }}_{{ version }}_{{ kind_lower }}.yaml`).
//!
//! The same sources are meant to serve cargo-generate (Liquid) too, so they
//! use only the syntax both engines share: underscore variables,
//! `if`/`else`/`for`/`raw`, no filter arguments, no `elif`, `not`, `set` or
//! comments. [`tests::templates_use_the_shared_syntax`] enforces that,
//! outside `{% raw %}` blocks: those hold another engine's syntax (Helm's
//! `{{ }}` in the chart, Grafana's legend formats) that both leave as is. A
//! template whose output is blank is not written: that is how a file is made
//! optional without a side table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use anyhow::{Result, anyhow};
use include_dir::{Dir, include_dir};
use serde::Deserialize;

use super::marker::Marker;
use super::plan::Plan;

static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../templates");

/// Names of every template rendered to a non-blank file in this process, so
/// a test can prove no template file is dead.
static RENDERED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// One scaffold: a directory of templates and its declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaffold {
    /// A new project (`kubeforge init`).
    Init,
    /// A kind's types, sample and roles (`create api --resource`).
    Api,
    /// A controller (`create api --controller`).
    Controller,
    /// A kind's webhooks (`create webhook`).
    Webhook,
    /// One spoke's conversions (`create webhook --conversion --spoke`).
    Spoke,
    /// Grafana dashboards (`edit --plugins grafana`).
    Grafana,
    /// A Helm chart's project-wide files (`edit --plugins helm`).
    Helm,
    /// A kind's roles in the Helm chart (`create api` with the helm plugin).
    HelmApi,
    /// The webhooks' Service, certificates and values in the Helm chart
    /// (`create webhook` with the helm plugin).
    HelmWebhook,
}

impl Scaffold {
    /// Every scaffold, for checks over all templates.
    pub const ALL: [Scaffold; 9] = [
        Scaffold::Init,
        Scaffold::Api,
        Scaffold::Controller,
        Scaffold::Webhook,
        Scaffold::Spoke,
        Scaffold::Grafana,
        Scaffold::Helm,
        Scaffold::HelmApi,
        Scaffold::HelmWebhook,
    ];

    fn dir(self) -> &'static str {
        match self {
            Scaffold::Init => "init",
            Scaffold::Api => "api",
            Scaffold::Controller => "controller",
            Scaffold::Webhook => "webhook",
            Scaffold::Spoke => "spoke",
            Scaffold::Grafana => "grafana",
            Scaffold::Helm => "helm",
            Scaffold::HelmApi => "helm-api",
            Scaffold::HelmWebhook => "helm-webhook",
        }
    }
}

/// What happens when a file a scaffold renders exists already.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IfExists {
    /// Stop with an error: the file may hold the user's edits.
    #[default]
    Refuse,
    /// Keep the existing file: it is shared, e.g. a group's `mod.rs` that
    /// every version of the group needs and the first one creates.
    Skip,
}

/// `templates/<scaffold>.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Declaration {
    /// Template path (as under the scaffold's directory) -> policy; files
    /// not listed are refused when they exist.
    #[serde(default)]
    if_exists: BTreeMap<String, IfExists>,
    /// Fragments inserted at markers, in order.
    #[serde(default)]
    inserts: Vec<Insert>,
}

/// A fragment inserted before a marker in a file another scaffold made.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Insert {
    /// The file (a template, like file paths).
    file: String,
    marker: Marker,
    /// The fragment (a template).
    fragment: String,
}

/// Renders `scaffold` with `model`'s variables into `plan`: creates its files
/// (honouring each one's [`IfExists`]) and makes its insertions.
pub fn render(scaffold: Scaffold, model: &impl serde::Serialize, plan: &mut Plan) -> Result<()> {
    let context = tera::Context::from_serialize(model)
        .map_err(|err| anyhow!("internal error: template variables: {err}"))?;
    let compiled = compiled(scaffold)?;
    let render = |name: &str| compiled.render(name, &context);
    for file in &compiled.files {
        let contents = render(&file.name)?;
        if contents.trim().is_empty() {
            continue;
        }
        mark_rendered(&file.name);
        let path = PathBuf::from(render(&file.path)?);
        if file.if_exists == IfExists::Skip && plan.exists(&path) {
            continue;
        }
        plan.create(path, contents)?;
    }
    for (index, insert) in compiled.declaration.inserts.iter().enumerate() {
        let file = render(&insert.file)?;
        let fragment = render(&Compiled::fragment_name(index))?;
        plan.insert_at_marker(file, insert.marker, &fragment)?;
    }
    Ok(())
}

/// One template file of a scaffold as written, before parsing.
struct SourceFile {
    /// The body's template name (`api/api/src/...`).
    name: String,
    /// Its path under the scaffold, itself a template.
    path: String,
    /// The body, a template.
    body: String,
    if_exists: IfExists,
}

/// The template files of `scaffold`, with what its declaration says to do
/// when each exists: what both the renderer ([`Compiled`]) and the
/// cargo-generate template ([`sources`]) are made from.
fn source_files(scaffold: Scaffold, declaration: &Declaration) -> Result<Vec<SourceFile>> {
    let dir = TEMPLATES.get_dir(scaffold.dir()).ok_or_else(|| {
        anyhow!(
            "internal error: no templates for scaffold `{}`",
            scaffold.dir()
        )
    })?;
    files(dir)
        .into_iter()
        .map(|file| {
            let name = file.path().to_string_lossy().into_owned();
            let body = file
                .contents_utf8()
                .ok_or_else(|| anyhow!("internal error: template {name} is not UTF-8"))?
                .to_owned();
            let path = relative(file.path(), scaffold)?;
            let if_exists = declaration
                .if_exists
                .get(&path)
                .copied()
                .unwrap_or_default();
            Ok(SourceFile {
                name,
                path,
                body,
                if_exists,
            })
        })
        .collect()
}

/// One template file of a scaffold, ready to render.
struct CompiledFile {
    /// The body's template name (`api/api/src/...`).
    name: String,
    /// Its path under the scaffold, itself a template.
    path: String,
    if_exists: IfExists,
}

/// A scaffold with every template it renders (bodies, paths, insertion
/// files and fragments) parsed once per process: parsing, not rendering,
/// is what costs time, and a command renders a scaffold several times
/// (once for the project, again for the record of the pristine scaffold).
struct Compiled {
    tera: tera::Tera,
    /// Sources without tags, which render as themselves, by name.
    literals: std::collections::HashMap<String, String>,
    declaration: Declaration,
    files: Vec<CompiledFile>,
}

impl Compiled {
    fn new(scaffold: Scaffold) -> Result<Compiled> {
        let declaration = declaration(scaffold)?;
        let mut sources: Vec<(String, String)> = Vec::new();
        let mut compiled_files = Vec::new();
        for file in source_files(scaffold, &declaration)? {
            sources.push((file.name.clone(), file.body));
            sources.push((file.path.clone(), file.path.clone()));
            compiled_files.push(CompiledFile {
                name: file.name,
                path: file.path,
                if_exists: file.if_exists,
            });
        }
        for (index, insert) in declaration.inserts.iter().enumerate() {
            sources.push((insert.file.clone(), insert.file.clone()));
            sources.push((Compiled::fragment_name(index), insert.fragment.clone()));
        }
        let mut tera = tera::Tera::default();
        tera.autoescape_on(vec![]);
        // Text with no tags renders as itself; only the rest is parsed.
        let (templates, literals): (Vec<_>, Vec<_>) = sources
            .into_iter()
            .partition(|(_, source)| source.contains("{{") || source.contains("{%"));
        tera.add_raw_templates(templates).map_err(|err| {
            anyhow!(
                "internal error: a template of `{}` does not parse: {}",
                scaffold.dir(),
                error_chain(&err)
            )
        })?;
        Ok(Compiled {
            tera,
            literals: literals.into_iter().collect(),
            declaration,
            files: compiled_files,
        })
    }

    fn fragment_name(index: usize) -> String {
        format!("insert #{index}")
    }

    /// Renders the template called `name`.
    fn render(&self, name: &str, context: &tera::Context) -> Result<String> {
        if let Some(text) = self.literals.get(name) {
            return Ok(text.clone());
        }
        self.tera
            .render(name, context)
            .map_err(|err| anyhow!("internal error: rendering {name}: {}", error_chain(&err)))
    }
}

/// The parsed scaffold, once per process.
fn compiled(scaffold: Scaffold) -> Result<&'static Compiled> {
    static COMPILED: [OnceLock<std::result::Result<Compiled, String>>; Scaffold::ALL.len()] =
        [const { OnceLock::new() }; Scaffold::ALL.len()];
    let index = Scaffold::ALL
        .iter()
        .position(|s| *s == scaffold)
        .unwrap_or_default();
    COMPILED[index]
        .get_or_init(|| Compiled::new(scaffold).map_err(|err| format!("{err:#}")))
        .as_ref()
        .map_err(|err| anyhow!("{err}"))
}

fn declaration(scaffold: Scaffold) -> Result<Declaration> {
    let name = format!("{}.yaml", scaffold.dir());
    let Some(file) = TEMPLATES.get_file(&name) else {
        return Ok(Declaration::default());
    };
    let text = file
        .contents_utf8()
        .ok_or_else(|| anyhow!("internal error: templates/{name} is not UTF-8"))?;
    serde_saphyr::from_str(text).map_err(|err| anyhow!("internal error: templates/{name}: {err}"))
}

/// A template's path under its scaffold's directory, `/`-separated.
fn relative(path: &Path, scaffold: Scaffold) -> Result<String> {
    let rel = path.strip_prefix(scaffold.dir()).map_err(|_| {
        anyhow!(
            "internal error: {} outside {}",
            path.display(),
            scaffold.dir()
        )
    })?;
    Ok(rel.to_string_lossy().replace('\\', "/"))
}

/// Every file under `dir`, sorted by path.
fn files<'a>(dir: &'a Dir<'a>) -> Vec<&'a include_dir::File<'a>> {
    fn collect<'a>(dir: &'a Dir<'a>, out: &mut Vec<&'a include_dir::File<'a>>) {
        out.extend(dir.files());
        for sub in dir.dirs() {
            collect(sub, out);
        }
    }
    let mut out = Vec::new();
    collect(dir, &mut out);
    out.sort_by(|a, b| a.path().cmp(b.path()));
    out
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

/// A scaffold's sources as written, before rendering: what the
/// cargo-generate template (`crate::cargo_generate`) is assembled from, so
/// both engines render the same text.
pub struct Sources {
    /// Each file's path under the scaffold (a template) and its body (a
    /// template), sorted by path.
    pub files: Vec<(String, String, IfExists)>,
    /// Each insertion: the file (a template), its marker and the fragment
    /// (a template), in the declaration's order.
    pub inserts: Vec<(String, Marker, String)>,
}

/// The unrendered sources of `scaffold`.
pub fn sources(scaffold: Scaffold) -> Result<Sources> {
    let declaration = declaration(scaffold)?;
    let files = source_files(scaffold, &declaration)?
        .into_iter()
        .map(|file| (file.path, file.body, file.if_exists))
        .collect();
    Ok(Sources {
        files,
        inserts: declaration
            .inserts
            .into_iter()
            .map(|i| (i.file, i.marker, i.fragment))
            .collect(),
    })
}

/// Renders one template source with `model`'s variables, as [`render`]
/// renders a scaffold's files (no autoescaping).
pub fn render_str(source: &str, model: &impl serde::Serialize) -> Result<String> {
    let context = tera::Context::from_serialize(model)
        .map_err(|err| anyhow!("internal error: template variables: {err}"))?;
    tera::Tera::one_off(source, &context, false).map_err(|err| {
        anyhow!(
            "internal error: rendering a template: {}",
            error_chain(&err)
        )
    })
}

/// Every template file of every scaffold, by name (`init/Cargo.toml`, ...).
pub fn all_template_names() -> Vec<String> {
    Scaffold::ALL
        .iter()
        .filter_map(|s| TEMPLATES.get_dir(s.dir()))
        .flat_map(files)
        .map(|f| f.path().to_string_lossy().into_owned())
        .collect()
}

/// The templates rendered so far in this process.
pub fn rendered_template_names() -> BTreeSet<String> {
    RENDERED.lock().map(|s| s.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::{Context as _, bail};

    /// Checks that every embedded file belongs to a scaffold and every
    /// declaration parses and names real templates: a typo in a declaration
    /// would otherwise silently refuse a shared file.
    fn check_declarations() -> Result<()> {
        for file in TEMPLATES.files() {
            let name = file.path().to_string_lossy();
            if !Scaffold::ALL
                .iter()
                .any(|s| name == format!("{}.yaml", s.dir()))
            {
                bail!("templates/{name} is not a scaffold's declaration");
            }
        }
        for dir in TEMPLATES.dirs() {
            let name = dir.path().to_string_lossy();
            if !Scaffold::ALL.iter().any(|s| name == s.dir()) {
                bail!("templates/{name}/ is not a scaffold");
            }
        }
        for scaffold in Scaffold::ALL {
            let declaration = declaration(scaffold)?;
            let dir = TEMPLATES
                .get_dir(scaffold.dir())
                .context("scaffold directory")?;
            let names: BTreeSet<String> = files(dir)
                .into_iter()
                .map(|f| relative(f.path(), scaffold))
                .collect::<Result<_>>()?;
            for path in declaration.if_exists.keys() {
                if !names.contains(path) {
                    bail!(
                        "templates/{}.yaml: `{path}` is not a template of this scaffold",
                        scaffold.dir()
                    );
                }
            }
        }
        Ok(())
    }

    /// Every template's source, declarations included, for checks.
    fn all_template_sources() -> Vec<(String, String)> {
        files(&TEMPLATES)
            .iter()
            .map(|f| {
                (
                    f.path().to_string_lossy().into_owned(),
                    f.contents_utf8().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn declarations_name_real_templates() {
        check_declarations().unwrap();
    }

    /// Every marker the code knows appears in some template, and every
    /// marker-looking line in a template is one the code knows.
    #[test]
    fn markers_in_templates_are_in_the_table() {
        let sources = all_template_sources();
        for marker in Marker::ALL {
            let name = format!("{}{}", super::super::marker::PREFIX, marker.name());
            assert!(
                sources
                    .iter()
                    .any(|(_, s)| s.lines().any(|l| l.trim().ends_with(&name))),
                "no template holds marker {name}"
            );
        }
        for (file, source) in &sources {
            for line in source.lines().filter(|l| l.contains("scaffold:")) {
                let known = Marker::ALL.iter().any(|m| {
                    let path = Path::new(file.as_str());
                    line.trim() == m.line(path)
                });
                let declaration = file.ends_with(".yaml") && !file.contains('/');
                assert!(known || declaration, "{file}: unknown marker line `{line}`");
            }
        }
    }

    /// `source` without its `{% raw %}...{% endraw %}` blocks: text both
    /// engines copy through unparsed, such as Helm's own `{{ }}`.
    fn outside_raw(source: &str) -> String {
        let mut out = String::new();
        let mut rest = source;
        while let Some(start) = rest.find("{% raw %}") {
            out.push_str(&rest[..start]);
            rest = match rest[start..].find("{% endraw %}") {
                Some(end) => &rest[start + end + "{% endraw %}".len()..],
                None => "",
            };
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn raw_blocks_are_left_out_of_the_syntax_check() {
        assert_eq!(
            outside_raw("a {{ b }} {% raw %}{{ .Values.x | default (list) }}{% endraw %} c"),
            "a {{ b }}  c"
        );
    }

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
            let source = outside_raw(&source);
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
