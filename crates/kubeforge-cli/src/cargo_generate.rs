//! The cargo-generate template in `cargo-generate/operator/`, generated
//! from the same `templates/` that `kubeforge init` and `kubeforge create
//! api` render, so `cargo generate` and those two commands make the same
//! project for the same answers.
//!
//! One job: turn the scaffolds into one template folder. The folder is
//! committed (cargo-generate reads it straight from a checkout or a git
//! repository) and kept current by the `cargo_generate_template` test, which
//! regenerates it and fails when it was stale (rust-analyzer's pattern, as
//! `cli_reference` does for docs/reference/cli.md).
//!
//! - **Scaffold files** are the `init`, `api` and `controller` templates as
//!   written: their trees merged (a shared file once, as `if_exists: skip`
//!   says), each scaffold's fragments inserted at their markers in the
//!   template text, and the Tera expressions left alone. The templates keep
//!   to the syntax Tera and Liquid share (the `templates_use_the_shared_syntax`
//!   test), so cargo-generate's Liquid renders them as Tera would; their
//!   paths hold `{{ var }}` too, which cargo-generate substitutes in file
//!   names. A copy of each goes under `.kubeforge/scaffold/`: the record of
//!   the pristine scaffold `alpha update` merges against is exactly those
//!   files.
//! - **Files kubeforge computes** rather than renders (PROJECT, written by
//!   its YAML writer, and config/rbac/role.yaml, merged from the
//!   controller's `#[rbac]` attributes) are made by running `init` and
//!   `create api` for real, with marker answers, once per variant of every
//!   answer that changes their shape; the marker values become `{{ var }}`
//!   and the variants' differences become `{% if %}` blocks. What they hold
//!   is therefore what kubeforge writes, not a copy that could drift.
//! - **The Rhai pre-hook** derives every name the templates use from the
//!   answers, as `scaffold::model` does in Rust (plural, snake case, module
//!   and crate names, the licence header, YAML quoting), and refuses what
//!   `kubeforge_codegen::names` refuses with the same words.
//!   `cargo-generate.toml` asks the questions, with regexes spelling the
//!   same naming rules.
//!
//! Versions are baked in at generation: the `cliVersion` PROJECT records and
//! the crates.io version of the kubeforge dependency are this checkout's,
//! which is what `kubeforge init` from the same commit writes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Parser as _;
use kubeforge_codegen::names::{PRELUDE_NAMES, RUST_KEYWORDS};

use crate::project::{self, Api, KubeforgeSource, License, Project, Resource};
use crate::regenerate;
use crate::scaffold::templates::{self, IfExists, Scaffold};
use crate::scaffold::{self, ResourceModel};

/// Where the template lives, relative to the repository root: the
/// subfolder `cargo generate --path <checkout>` is given.
pub const DIR: &str = "cargo-generate/operator";

/// The Rhai pre-hook's file name; cargo-generate removes it from the output.
pub const HOOK: &str = "kubeforge-names.rhai";

/// cargo-generate's configuration file.
pub const CONFIG: &str = "cargo-generate.toml";

/// The scaffolds `kubeforge init` followed by `kubeforge create api` (with
/// its defaults: a resource and a controller) renders, in that order.
const SCAFFOLDS: [Scaffold; 3] = [Scaffold::Init, Scaffold::Api, Scaffold::Controller];

/// The whole template folder: relative path -> contents.
pub fn template() -> Result<BTreeMap<PathBuf, String>> {
    let scaffold = merged_scaffold()?;
    let mut out = BTreeMap::new();
    for (path, body) in &scaffold {
        out.insert(PathBuf::from(path), body.clone());
        out.insert(Path::new(regenerate::BASE_DIR).join(path), body.clone());
    }
    let (project_file, role) = computed_files()?;
    out.insert(PathBuf::from(project::FILE_NAME), project_file);
    out.insert(PathBuf::from(scaffold::ROLE_FILE), role);
    out.insert(PathBuf::from(CONFIG), config());
    out.insert(PathBuf::from(HOOK), hook());
    Ok(out)
}

/// Writes the template folder into `dir`, removing files it no longer has.
/// Returns whether anything changed.
pub fn write(dir: &Path) -> Result<bool> {
    let wanted = template()?;
    let existing = if dir.is_dir() {
        regenerate::read_tree(dir, |_| true)?
    } else {
        BTreeMap::new()
    };
    if existing == wanted {
        return Ok(false);
    }
    for rel in existing.keys().filter(|rel| !wanted.contains_key(*rel)) {
        let path = dir.join(rel);
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    }
    for (rel, text) in &wanted {
        if existing.get(rel) == Some(text) {
            continue;
        }
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    remove_empty_dirs(dir)?;
    Ok(true)
}

/// Removes directories left empty under `dir` (a renamed template's old
/// directory), deepest first.
fn remove_empty_dirs(dir: &Path) -> Result<()> {
    let dirs: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .contents_first(true)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_dir() && e.path() != dir)
        .map(|e| e.into_path())
        .collect();
    for sub in dirs {
        let empty = std::fs::read_dir(&sub)
            .with_context(|| format!("reading {}", sub.display()))?
            .next()
            .is_none();
        if empty {
            std::fs::remove_dir(&sub).with_context(|| format!("removing {}", sub.display()))?;
        }
    }
    Ok(())
}

/// The init, api and controller templates as one tree of template texts:
/// what `kubeforge init` + `kubeforge create api` write, before rendering.
pub fn merged_scaffold() -> Result<BTreeMap<String, String>> {
    let samples = sample_models();
    let mut tree: BTreeMap<String, String> = BTreeMap::new();
    for scaffold in SCAFFOLDS {
        let sources = templates::sources(scaffold)?;
        for (path, body, if_exists) in sources.files {
            for model in &samples {
                if templates::render_str(&body, model)?.trim().is_empty() {
                    // kubeforge leaves out a template that renders blank;
                    // cargo-generate would write an empty file.
                    bail!(
                        "internal error: {path} renders blank for some answers, which the cargo-generate template cannot leave out"
                    );
                }
            }
            if tree.contains_key(&path) {
                if if_exists == IfExists::Skip {
                    continue;
                }
                bail!("internal error: two scaffolds write {path}");
            }
            tree.insert(path, body);
        }
        for (file, marker, fragment) in sources.inserts {
            // A fragment that renders blank is not inserted (an external
            // kind's dependency line); none of them depends on the answers
            // this template asks for, which the samples check.
            let blank: BTreeSet<bool> = samples
                .iter()
                .map(|m| Ok(templates::render_str(&fragment, m)?.trim().is_empty()))
                .collect::<Result<_>>()?;
            if blank.len() > 1 {
                bail!("internal error: the fragment for {file} is blank for some answers only");
            }
            if blank.contains(&true) {
                continue;
            }
            let text = tree.get(&file).ok_or_else(|| {
                anyhow!("internal error: an insert names {file}, which no scaffold writes")
            })?;
            let new = marker.insert(Path::new(&file), text, &fragment)?;
            tree.insert(file, new);
        }
    }
    Ok(tree)
}

/// Models for a namespaced and a cluster-scoped kind, for checks that hold
/// whatever the answers.
fn sample_models() -> Vec<ResourceModel> {
    [true, false]
        .into_iter()
        .map(|namespaced| {
            let answers = Answers {
                namespaced,
                ..Answers::default()
            };
            let (project, resource) = answers.project();
            let mut before = project.clone();
            before.resources.clear();
            ResourceModel::new(&before, &resource)
        })
        .collect()
}

/// Marker answers: each value is unique in the output, so it can be turned
/// back into the variable that holds it.
const NAME: &str = "kfcgname";
const DOMAIN: &str = "kfcgdomain";
const VERSION: &str = "v9beta7";
const KIND: &str = "Kfcgkind";
const PLURAL: &str = "kfcgkinds";
const CHECKOUT: &str = "/kfcgcheckout";
const OWNER: &str = "Kfcgowner";
/// Groups sorting before and after `events.k8s.io`, the other API group of
/// the controller's `#[rbac]` rules: role.yaml lists rules by group.
const GROUP_BEFORE_EVENTS: &str = "aaakfcg";
const GROUP_AFTER_EVENTS: &str = "zzzkfcg";

/// One set of answers to the template's questions.
#[derive(Debug, Clone)]
struct Answers {
    group: &'static str,
    namespaced: bool,
    from_path: bool,
    license: License,
    owner: bool,
}

impl Default for Answers {
    fn default() -> Answers {
        Answers {
            group: GROUP_BEFORE_EVENTS,
            namespaced: true,
            from_path: false,
            license: License::Apache2,
            owner: false,
        }
    }
}

impl Answers {
    fn source(&self) -> KubeforgeSource {
        if self.from_path {
            KubeforgeSource::Path(CHECKOUT.into())
        } else {
            KubeforgeSource::Version(crate::KUBEFORGE_VERSION.into())
        }
    }

    /// PROJECT after `init` and `create api` with these answers, as
    /// `commands::init` and `commands::create_api` build it.
    fn project(&self) -> (Project, Resource) {
        let resource = Resource {
            api: Some(Api {
                crd_version: "v1".into(),
                namespaced: self.namespaced,
            }),
            controller: true,
            domain: Some(DOMAIN.into()),
            group: self.group.into(),
            kind: KIND.into(),
            path: format!(
                "{}::{}::{VERSION}::{KIND}",
                crate::names::crate_ident(&format!("{NAME}-api")),
                crate::names::group_module(self.group)
            ),
            plural: crate::names::plural(KIND),
            version: VERSION.into(),
            ..Resource::default()
        };
        let project = Project {
            cli_version: crate::KUBEFORGE_VERSION.into(),
            domain: DOMAIN.into(),
            kubeforge: self.source(),
            layout: vec![project::LAYOUT.into()],
            license: self.license,
            namespaced: false,
            owner: self.owner.then(|| OWNER.to_string()),
            plugins: Default::default(),
            project_name: NAME.into(),
            resources: vec![resource.clone()],
            version: "3".into(),
        };
        (project, resource)
    }

    /// What `kubeforge init` and `kubeforge create api` write with these
    /// answers, run for real in a scratch directory: PROJECT and role.yaml.
    fn kubeforge_output(&self) -> Result<(String, String)> {
        let scratch = tempfile::tempdir().context("creating a scratch directory")?;
        let root = scratch.path().join(NAME);
        let license = format!("{:?}", self.license).to_ascii_lowercase();
        let mut init = vec![
            "kubeforge",
            "init",
            "--domain",
            DOMAIN,
            "--project-name",
            NAME,
            "--license",
            &license,
        ];
        if self.owner {
            init.extend(["--owner", OWNER]);
        }
        init.extend(["--kubeforge-version", crate::KUBEFORGE_VERSION]);
        let namespaced = format!("--namespaced={}", self.namespaced);
        let create = [
            "kubeforge",
            "create",
            "api",
            "--group",
            self.group,
            "--version",
            VERSION,
            "--kind",
            KIND,
            &namespaced,
        ];
        let cli = crate::cli::Cli::try_parse_from(init).map_err(|e| anyhow!("{e}"))?;
        let crate::cli::Command::Init(args) = cli.command else {
            bail!("internal error: not an init command");
        };
        crate::commands::init::plan(&args, &root)?.0.apply()?;
        if self.from_path {
            // `--kubeforge-path` needs a real checkout; the marker path
            // stands for the one the user names.
            let mut project = Project::load(&root)?;
            project.kubeforge = self.source();
            std::fs::write(root.join(project::FILE_NAME), project.render()?)
                .context("writing PROJECT")?;
        }
        let cli = crate::cli::Cli::try_parse_from(create).map_err(|e| anyhow!("{e}"))?;
        let crate::cli::Command::Create(crate::cli::CreateCommand::Api(args)) = cli.command else {
            bail!("internal error: not a create api command");
        };
        crate::commands::create_api::plan(&args, &root)?.apply()?;
        let read = |rel: &str| {
            std::fs::read_to_string(root.join(rel)).with_context(|| format!("reading {rel}"))
        };
        let written = read(project::FILE_NAME)?;
        let (expected, _) = self.project();
        if Project::load(&root)? != expected {
            bail!(
                "internal error: PROJECT after init and create api is not what the template models"
            );
        }
        Ok((written, read(scaffold::ROLE_FILE)?))
    }
}

/// PROJECT and config/rbac/role.yaml as templates.
fn computed_files() -> Result<(String, String)> {
    // PROJECT: every combination of the answers that change its lines,
    // innermost first.
    let project_for = |a: &Answers| -> Result<String> {
        let (text, _) = a.kubeforge_output()?;
        Ok(project_placeholders(&text))
    };
    let mut by_source = Vec::new();
    for from_path in [true, false] {
        let mut by_license = Vec::new();
        for license in [License::Apache2, License::Mit, License::None] {
            let mut by_owner = Vec::new();
            for owner in [true, false] {
                let mut by_scope = Vec::new();
                for namespaced in [true, false] {
                    by_scope.push(project_for(&Answers {
                        namespaced,
                        from_path,
                        license,
                        owner,
                        ..Answers::default()
                    })?);
                }
                by_owner.push(branch("namespaced", &by_scope[0], &by_scope[1]));
            }
            by_license.push(branch("has_owner", &by_owner[0], &by_owner[1]));
        }
        let mit_or_none = branch("license_mit", &by_license[1], &by_license[2]);
        by_source.push(branch("license_apache2", &by_license[0], &mit_or_none));
    }
    let project_file = branch("kubeforge_from_path", &by_source[0], &by_source[1]);

    let role_for = |group: &'static str| -> Result<String> {
        let (_, role) = Answers {
            group,
            ..Answers::default()
        }
        .kubeforge_output()?;
        Ok(role
            .replace(&format!("{group}.{DOMAIN}"), "{{ api_group_yaml }}")
            .replace(&format!("{PLURAL}/"), "{{ plural }}/")
            .replace(PLURAL, "{{ plural_yaml }}"))
    };
    let role = branch(
        "events_first",
        &role_for(GROUP_AFTER_EVENTS)?,
        &role_for(GROUP_BEFORE_EVENTS)?,
    );
    for (what, text) in [("PROJECT", &project_file), ("role.yaml", &role)] {
        if text.contains("kfcg") {
            bail!("internal error: a marker answer is left in the template of {what}:\n{text}");
        }
    }
    Ok((project_file, role))
}

/// PROJECT's marker values as the variables that hold them, quoted for YAML
/// by the hook where kubeforge's YAML writer would quote them.
fn project_placeholders(text: &str) -> String {
    let type_path = format!("{NAME}_api::{GROUP_BEFORE_EVENTS}::{VERSION}::{KIND}");
    text.replace(&type_path, "{{ type_path }}")
        .replace(&format!("{CHECKOUT}\n"), "{{ kubeforge_path_yaml }}\n")
        .replace(&format!(" {DOMAIN}\n"), " {{ domain_yaml }}\n")
        .replace(&format!(" {GROUP_BEFORE_EVENTS}\n"), " {{ group_yaml }}\n")
        .replace(&format!(" {KIND}\n"), " {{ kind_yaml }}\n")
        .replace(&format!(" {PLURAL}\n"), " {{ plural_yaml }}\n")
        .replace(&format!(" {NAME}\n"), " {{ project_name_yaml }}\n")
        .replace(&format!(" {OWNER}\n"), " {{ owner_yaml }}\n")
        .replace(&format!(" {VERSION}\n"), " {{ version }}\n")
}

/// One text that renders as `when_true` when `var` is true and as
/// `when_false` otherwise: the lines both share as they are, each run of
/// lines where they differ as `{% if var %}...{% else %}...{% endif %}`
/// (a longest-common-subsequence line diff, Liquid and Tera alike).
fn branch(var: &str, when_true: &str, when_false: &str) -> String {
    if when_true == when_false {
        return when_true.to_string();
    }
    let a = units(when_true);
    let b = units(when_false);
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    let (mut only_a, mut only_b) = (String::new(), String::new());
    let flush = |out: &mut String, only_a: &mut String, only_b: &mut String| {
        if !only_a.is_empty() || !only_b.is_empty() {
            out.push_str(&format!(
                "{{% if {var} %}}{only_a}{{% else %}}{only_b}{{% endif %}}"
            ));
            only_a.clear();
            only_b.clear();
        }
    };
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            flush(&mut out, &mut only_a, &mut only_b);
            out.push_str(&a[i]);
            i += 1;
            j += 1;
        } else if j == b.len() || (i < a.len() && lcs[i + 1][j] >= lcs[i][j + 1]) {
            only_a.push_str(&a[i]);
            i += 1;
        } else {
            only_b.push_str(&b[j]);
            j += 1;
        }
    }
    flush(&mut out, &mut only_a, &mut only_b);
    out
}

/// `text` in runs of whole lines, each with as many `{% if` as `{% endif %}`:
/// a difference is wrapped around whole runs, so blocks from an inner
/// [`branch`] stay balanced.
fn units(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut unit = String::new();
    let mut depth = 0i64;
    for line in text.split_inclusive('\n') {
        unit.push_str(line);
        depth += line.matches("{% if ").count() as i64;
        depth -= line.matches("{% endif %}").count() as i64;
        if depth == 0 {
            out.push(std::mem::take(&mut unit));
        }
    }
    if !unit.is_empty() {
        out.push(unit);
    }
    out
}

/// The regexes of `cargo-generate.toml`: kubeforge_codegen::names' rules
/// as far as a regex can say them (lengths of the whole and keywords are
/// the hook's).
const DNS_LABEL: &str = "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?";

fn dns_subdomain_regex() -> String {
    format!("^{DNS_LABEL}([.]{DNS_LABEL})*$")
}

/// `cargo-generate.toml`: the questions, each with kubeforge's default and
/// naming rule, and the hook that derives the rest.
fn config() -> String {
    let subdomain = toml_string(&dns_subdomain_regex());
    let version_regex = toml_string("^v[1-9][0-9]*((alpha|beta)[1-9][0-9]*)?$");
    let kind_regex = toml_string("^[A-Z][A-Za-z0-9]{0,62}$");
    let owner_regex = toml_string(OWNER_REGEX);
    let path_regex = toml_string(PATH_REGEX);
    format!(
        r#"# Generated from kubeforge's templates/ by
# `cargo test -p kubeforge-cli --test cargo_generate_template`. Do not edit:
# change templates/ (or crates/kubeforge-cli/src/cargo_generate.rs) instead.
#
# `cargo generate` with this template makes what `kubeforge init` followed
# by `kubeforge create api` make for the same answers (see
# docs/cargo-generate.md). The project name is cargo-generate's own
# (`--name`); the hook checks it as `kubeforge init --project-name` does.

[template]
cargo_generate_version = ">=0.23.0"

[hooks]
pre = ["{HOOK}"]

[placeholders.domain]
type = "string"
prompt = "Domain of the project's API groups (kubeforge init --domain)"
default = "example.com"
regex = {subdomain}

[placeholders.group]
type = "string"
prompt = "API group of the first kind, without the domain (create api --group)"
default = "apps"
regex = {subdomain}

[placeholders.version]
type = "string"
prompt = "API version of the kind: v<N>, v<N>alpha<M> or v<N>beta<M> (create api --version)"
default = "v1"
regex = {version_regex}

[placeholders.kind]
type = "string"
prompt = "Kind, in UpperCamelCase (create api --kind)"
default = "MyApp"
regex = {kind_regex}

[placeholders.namespaced]
type = "bool"
prompt = "Is the kind namespaced? false makes it cluster-scoped (create api --namespaced)"
default = true

[placeholders.license]
type = "string"
prompt = "Licence header of generated sources (kubeforge init --license)"
choices = ["apache2", "mit", "none"]
default = "apache2"

[placeholders.owner]
type = "string"
prompt = "Copyright owner in the licence header, empty for \"the project authors\" (kubeforge init --owner)"
default = ""
regex = {owner_regex}

[placeholders.kubeforge_path]
type = "string"
prompt = "Absolute path of a kubeforge checkout to depend on, empty for crates.io {version} (kubeforge init --kubeforge-path)"
default = ""
regex = {path_regex}
"#,
        version = crate::KUBEFORGE_VERSION,
    )
}

/// `--owner` through the template: letters, digits, spaces and a little
/// punctuation, so the PROJECT line needs at most double quotes (the hook's
/// YAML quoting handles no more than that).
const OWNER_REGEX: &str = r"^([A-Za-z0-9][A-Za-z0-9 .,()&'-]*[A-Za-z0-9.)])?$";

/// `--kubeforge-path` through the template: an absolute path without
/// spaces, quotes or backslashes, written as is into TOML and YAML.
const PATH_REGEX: &str = r"^(/[A-Za-z0-9._+/-]*)?$";

/// The pre-hook, with this build's versions and licence headers filled in.
fn hook() -> String {
    const OWNER_MARK: &str = "\u{1}";
    let header = |license: License| {
        let text = license.header(Some(OWNER_MARK));
        let (before, after) = text.split_once(OWNER_MARK).unwrap_or((&text, ""));
        (rhai_string(before), rhai_string(after))
    };
    let (apache_before, apache_after) = header(License::Apache2);
    let (mit_before, mit_after) = header(License::Mit);
    let keywords = rhai_array(RUST_KEYWORDS);
    let prelude = rhai_array(PRELUDE_NAMES);
    HOOK_SOURCE
        .replace(
            "@KUBEFORGE_VERSION@",
            &rhai_string(crate::KUBEFORGE_VERSION),
        )
        .replace(
            "@KUBERNETES_VERSION@",
            &rhai_string(crate::KUBERNETES_VERSION),
        )
        .replace("@APACHE_BEFORE@", &apache_before)
        .replace("@APACHE_AFTER@", &apache_after)
        .replace("@MIT_BEFORE@", &mit_before)
        .replace("@MIT_AFTER@", &mit_after)
        .replace("@RUST_KEYWORDS@", &keywords)
        .replace("@PRELUDE_NAMES@", &prelude)
        .replace("@PROJECT_NAME_ERROR@", &rhai_string(PROJECT_NAME_ERROR))
        .replace("@DNS_ALLOWED@", &rhai_string(DNS_ALLOWED))
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A Rhai string literal.
fn rhai_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn rhai_array(items: &[&str]) -> String {
    let items: Vec<String> = items.iter().map(|s| rhai_string(s)).collect();
    format!("[{}]", items.join(", "))
}

// The same words kubeforge_codegen::names uses in its messages.
const PROJECT_NAME_ERROR: &str = "is invalid; allowed: lowercase letters, digits and '-', starting with a letter and ending with a letter or digit, at most 40 characters (e.g. myapp-operator); set it with --name";
const DNS_ALLOWED: &str = "lowercase letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit (e.g. example.com)";

/// The hook's source; `@NAME@` are filled in by [`hook`].
const HOOK_SOURCE: &str = include_str!("cargo_generate/hook.rhai");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_wraps_each_difference() {
        let t = "a\nb\nc\nd\n";
        let f = "a\nB\nc\n";
        assert_eq!(
            branch("x", t, f),
            "a\n{% if x %}b\n{% else %}B\n{% endif %}c\n{% if x %}d\n{% else %}{% endif %}"
        );
        assert_eq!(branch("x", t, t), t);
        // An inner branch's block is kept whole.
        let inner = branch("y", "p\nq\nr\n", "p\nQ\nr\n");
        assert_eq!(
            branch("x", &inner, "p\nq\nr\n"),
            "p\n{% if x %}{% if y %}q\n{% else %}Q\n{% endif %}r\n{% else %}q\nr\n{% endif %}"
        );
    }

    /// A value cargo-generate hands the hook or the hook sets.
    #[derive(Debug, Clone, PartialEq)]
    enum Val {
        S(String),
        B(bool),
    }

    /// Runs the hook as cargo-generate 0.23 does (its `variable` module, its
    /// heck-based `to_snake_case`, its `abort`) on `answers`; returns every
    /// variable afterwards, or the message it aborted with.
    fn run_hook(answers: &[(&str, Val)]) -> Result<BTreeMap<String, Val>, String> {
        use std::cell::RefCell;
        use std::rc::Rc;
        type Hook<T> = Result<T, Box<rhai::EvalAltResult>>;
        let vars: Rc<RefCell<BTreeMap<String, Val>>> = Rc::new(RefCell::new(
            answers
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        ));
        let mut module = rhai::Module::new();
        let v = vars.clone();
        module.set_native_fn("get", move |name: &str| -> Hook<rhai::Dynamic> {
            Ok(match v.borrow().get(name) {
                Some(Val::S(s)) => s.clone().into(),
                Some(Val::B(b)) => (*b).into(),
                None => String::new().into(),
            })
        });
        let v = vars.clone();
        module.set_native_fn("set", move |name: &str, value: &str| -> Hook<()> {
            v.borrow_mut().insert(name.into(), Val::S(value.into()));
            Ok(())
        });
        let v = vars.clone();
        module.set_native_fn("set", move |name: &str, value: bool| -> Hook<()> {
            v.borrow_mut().insert(name.into(), Val::B(value));
            Ok(())
        });
        let mut engine = rhai::Engine::new();
        engine
            .register_static_module("variable", module.into())
            .register_fn("to_snake_case", crate::names::snake_case)
            .register_fn("abort", |error: &str| -> Hook<String> { Err(error.into()) });
        match engine.run(&hook()) {
            Ok(()) => Ok(vars.borrow().clone()),
            Err(err) => match *err {
                rhai::EvalAltResult::ErrorRuntime(message, _) => Err(message.to_string()),
                other => panic!("the hook failed to run: {other}"),
            },
        }
    }

    /// One set of answers, as cargo-generate hands them to the hook.
    struct Given<'a> {
        name: &'a str,
        domain: &'a str,
        group: &'a str,
        version: &'a str,
        kind: &'a str,
        namespaced: bool,
        license: License,
        owner: &'a str,
        path: &'a str,
    }

    impl Given<'_> {
        fn answers(&self) -> Vec<(&'static str, Val)> {
            let s = |v: &str| Val::S(v.to_string());
            vec![
                ("project-name", s(self.name)),
                ("domain", s(self.domain)),
                ("group", s(self.group)),
                ("version", s(self.version)),
                ("kind", s(self.kind)),
                ("namespaced", Val::B(self.namespaced)),
                (
                    "license",
                    s(&format!("{:?}", self.license).to_ascii_lowercase()),
                ),
                ("owner", s(self.owner)),
                ("kubeforge_path", s(self.path)),
            ]
        }

        /// The model kubeforge renders these answers with.
        fn model(&self) -> ResourceModel {
            let resource = Resource {
                api: Some(Api {
                    crd_version: "v1".into(),
                    namespaced: self.namespaced,
                }),
                controller: true,
                domain: Some(self.domain.into()),
                group: self.group.into(),
                kind: self.kind.into(),
                path: format!(
                    "{}::{}::{}::{}",
                    crate::names::crate_ident(&format!("{}-api", self.name)),
                    crate::names::group_module(self.group),
                    self.version,
                    self.kind
                ),
                plural: crate::names::plural(self.kind),
                version: self.version.into(),
                ..Resource::default()
            };
            let project = Project {
                cli_version: crate::KUBEFORGE_VERSION.into(),
                domain: self.domain.into(),
                kubeforge: if self.path.is_empty() {
                    KubeforgeSource::Version(crate::KUBEFORGE_VERSION.into())
                } else {
                    KubeforgeSource::Path(self.path.into())
                },
                layout: vec![project::LAYOUT.into()],
                license: self.license,
                namespaced: false,
                owner: (!self.owner.is_empty()).then(|| self.owner.to_string()),
                plugins: Default::default(),
                project_name: self.name.into(),
                resources: Vec::new(),
                version: "3".into(),
            };
            ResourceModel::new(&project, &resource)
        }
    }

    /// How kubeforge's YAML writer writes `value` as a mapping's value.
    fn yaml_scalar(value: &str) -> String {
        let doc = kubeforge_codegen::yaml::to_document(&serde_json::json!({ "k": value }));
        doc.strip_prefix("---\nk: ")
            .and_then(|rest| rest.strip_suffix('\n'))
            .unwrap_or(&doc)
            .to_string()
    }

    /// The hook derives every variable of kubeforge's model, with the same
    /// values, for kinds that exercise every plural and snake-case rule and
    /// values the YAML writer quotes.
    #[test]
    fn the_hook_derives_what_the_model_derives() {
        let kinds = [
            "MyApp",
            "CronJob",
            "DNSRecord",
            "V2Thing",
            "HTTPRoute",
            "IPAddress",
            "X509Cert",
            "A1",
            "Ab1Cd",
            "Policy",
            "Ingress",
            "Bus",
            "Fox",
            "Buzz",
            "Church",
            "Dish",
            "Day",
            "Key",
            "Boy",
            "Y",
            "Fly",
            "Person",
            "SalesPerson",
            "Salesman",
            "Man",
            "German",
            "Woman",
            "Child",
            "Index",
            "PolicyIndex",
            "Matrix",
            "Vertex",
            "Criterion",
            "Datum",
            "Leaf",
            "Quiz",
            "Endpoints",
            "Data",
            "Metadata",
            "News",
            "Series",
            "Species",
            "Yes",
            "No",
            "On",
            "Off",
            "Null",
            "Nan",
            "Inf",
            "Infinity",
            "N",
            "Ye",
        ];
        let groups = [
            "apps",
            "batch.tutorial",
            "my-group",
            "type",
            "on",
            "1",
            "no.way",
            "zz",
        ];
        let domains = ["example.com", "on", "1.2", "io", "tutorial.kubebuilder.io"];
        let owners = [
            "",
            "1.0",
            "Yes",
            "The CronJob Authors",
            "O'Reilly (Media) & Co.",
        ];
        let names = ["shop", "cron-operator", "a1", "no", "on", "y"];
        let paths = ["", "/work/kubeforge", "/1.5"];
        let versions = ["v1", "v1alpha1", "v2beta3"];
        let licenses = [License::Apache2, License::Mit, License::None];
        for (i, kind) in kinds.iter().enumerate() {
            let given = Given {
                name: names[i % names.len()],
                domain: domains[i % domains.len()],
                group: groups[i % groups.len()],
                version: versions[i % versions.len()],
                kind,
                namespaced: i % 2 == 0,
                license: licenses[i % licenses.len()],
                owner: owners[i % owners.len()],
                path: paths[i % paths.len()],
            };
            let vars = run_hook(&given.answers()).unwrap_or_else(|e| panic!("{kind}: {e}"));
            let model = given.model();
            let serde_json::Value::Object(fields) = serde_json::to_value(&model).unwrap() else {
                panic!("the model is not an object");
            };
            for (key, value) in fields {
                let expected = match value {
                    serde_json::Value::String(s) => Val::S(s),
                    serde_json::Value::Bool(b) => Val::B(b),
                    other => panic!("{key}: unexpected {other}"),
                };
                assert_eq!(vars.get(&key), Some(&expected), "{kind}: `{key}`");
            }
            let mut quoted = vec![
                ("domain_yaml", given.domain.to_string()),
                ("group_yaml", given.group.to_string()),
                ("kind_yaml", given.kind.to_string()),
                ("plural_yaml", model.plural.clone()),
                ("project_name_yaml", given.name.to_string()),
                ("api_group_yaml", model.api_group.clone()),
            ];
            if !given.owner.is_empty() {
                quoted.push(("owner_yaml", given.owner.to_string()));
            }
            if !given.path.is_empty() {
                quoted.push(("kubeforge_path_yaml", given.path.to_string()));
            }
            for (key, value) in quoted {
                assert_eq!(
                    vars.get(key),
                    Some(&Val::S(yaml_scalar(&value))),
                    "{kind}: `{key}` for {value:?}"
                );
            }
            assert_eq!(
                vars.get("events_first"),
                Some(&Val::B(model.api_group.as_str() > "events.k8s.io")),
                "{kind}"
            );
        }
    }

    /// What kubeforge refuses beyond the regexes, the hook refuses, in the
    /// same words.
    #[test]
    fn the_hook_refuses_what_kubeforge_refuses() {
        let base = || Given {
            name: "shop",
            domain: "example.com",
            group: "apps",
            version: "v1",
            kind: "MyApp",
            namespaced: true,
            license: License::Apache2,
            owner: "",
            path: "",
        };
        for kind in [
            "Box", "Self", "Option", "Type", "True", "Async", "Fn", "MyApp", "Boxes",
        ] {
            let given = Given { kind, ..base() };
            let hook = run_hook(&given.answers()).err();
            let names = crate::names::validate_kind(kind)
                .err()
                .map(|e| e.to_string());
            assert_eq!(hook, names, "kind {kind}");
        }
        let long_name = "a".repeat(41);
        for name in ["a", "a1-b", "1a", "a-", &long_name, "ab_c"] {
            let given = Given { name, ..base() };
            let hook = run_hook(&given.answers()).is_err();
            let names = crate::names::validate_project_name(name).is_err();
            assert_eq!(hook, names, "project name {name}");
        }
        let label = "a".repeat(63);
        let long_domain = [label.as_str(); 4].join(".");
        let given = Given {
            domain: &long_domain,
            ..base()
        };
        let hook = run_hook(&given.answers()).err();
        let names = crate::names::validate_dns1123_subdomain("domain", &long_domain)
            .err()
            .map(|e| e.to_string());
        assert_eq!(hook, names);
    }

    #[test]
    fn rhai_strings_are_escaped() {
        assert_eq!(rhai_string("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
    }
}
