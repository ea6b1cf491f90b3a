//! Finds `#[rbac(...)]` and `#[webhook(...)]` attributes in Rust sources
//! without compiling them, as controller-gen finds `+kubebuilder:rbac` and
//! `+kubebuilder:webhook` markers in Go sources. One walk over the sources
//! collects both ([`Attributes`]).
//!
//! Reading the source (instead of collecting rules at run time through the
//! macro) keeps `kubeforge manifests` fast and lets it run on a project that
//! does not build yet, which is exactly when users are adding permissions.
//!
//! An attribute counts when its path is `rbac`, `kubeforge::rbac` or
//! `::kubeforge::rbac` (`webhook` likewise), outer (`#[...]`) or inner (`#![...]`), on any item:
//! at file level, in inline modules, impl and trait blocks (on the block and
//! on its members), extern blocks, and items declared at the top level of
//! function bodies. Attributes behind `cfg_attr` or produced by other macros
//! are not seen, just as controller-gen only sees markers that are literally
//! in the source.

use crate::rbac::RbacRule;
use crate::webhook::WebhookArgs;
use proc_macro2::Span;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use syn::spanned::Spanned;
use syn::{Attribute, Block, ImplItem, Item, Meta, Stmt, TraitItem};
use walkdir::{DirEntry, WalkDir};

/// Why scanning failed: a file that is not valid Rust, an invalid `#[rbac]`
/// or `#[webhook]`, two webhooks with one name, or an I/O error. Displays as `path:line:column: message` like compiler
/// diagnostics, so editors and terminals can link to the spot.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        /// 1-based.
        line: usize,
        /// 1-based, in characters.
        column: usize,
        message: String,
    },
    /// Two `#[webhook]` attributes with the same `name`, which the API
    /// server refuses; both places are named.
    #[error(
        "{}: webhook name `{name}` is already used at {}; give each #[webhook] its own `name`",
        second.display(),
        first.display()
    )]
    DuplicateWebhook {
        name: String,
        first: Location,
        second: Location,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ScanError {
    fn at(path: &Path, span: Span, message: impl Into<String>) -> ScanError {
        let start = span.start();
        ScanError::Invalid {
            path: path.to_path_buf(),
            line: start.line,
            column: start.column + 1,
            message: message.into(),
        }
    }

    fn from_syn(path: &Path, err: &syn::Error) -> ScanError {
        ScanError::at(path, err.span(), err.to_string())
    }
}

/// Where an attribute starts in a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
}

impl Location {
    fn of(path: &Path, span: Span) -> Location {
        let start = span.start();
        Location {
            path: path.to_path_buf(),
            line: start.line,
            column: start.column + 1,
        }
    }

    /// `path:line:column`, as compilers print locations.
    pub fn display(&self) -> String {
        format!("{}:{}:{}", self.path.display(), self.line, self.column)
    }
}

/// A `#[webhook]` attribute and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundWebhook {
    pub location: Location,
    pub args: WebhookArgs,
}

/// The attributes `kubeforge manifests` generates from, in the order
/// the sources were read (files in sorted path order, then source order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    pub rbac: Vec<RbacRule>,
    pub webhooks: Vec<FoundWebhook>,
}

impl Attributes {
    /// The attributes of one Rust file; `path` is only used in error
    /// messages and locations.
    pub fn from_source(path: &Path, source: &str) -> Result<Attributes, ScanError> {
        let file = syn::parse_file(source).map_err(|e| ScanError::from_syn(path, &e))?;
        let mut scanner = Scanner {
            path,
            found: Attributes::default(),
        };
        scanner.attrs(&file.attrs)?;
        scanner.items(&file.items)?;
        Ok(scanner.found)
    }

    /// The attributes of files held in memory (path, contents), in the
    /// order given: for a command that renders manifests from files it has
    /// not written yet.
    pub fn from_sources<P, S>(
        files: impl IntoIterator<Item = (P, S)>,
    ) -> Result<Attributes, ScanError>
    where
        P: AsRef<Path>,
        S: AsRef<str>,
    {
        let mut all = Attributes::default();
        for (path, source) in files {
            all.extend(Attributes::from_source(path.as_ref(), source.as_ref())?);
        }
        Ok(all)
    }

    /// Scans every `*.rs` file under `root` (or `root` itself if it is a
    /// file), in sorted path order so results and errors are reproducible.
    /// Skips `target` directories and hidden files and directories (`.git`,
    /// editor lock files); does not follow symbolic links to directories,
    /// which could loop.
    pub fn from_dir(root: &Path) -> Result<Attributes, ScanError> {
        let mut all = Attributes::default();
        for file in rs_files(root)? {
            let source = std::fs::read_to_string(&file).map_err(|source| io(&file, source))?;
            all.extend(Attributes::from_source(&file, &source)?);
        }
        Ok(all)
    }

    /// Appends `other`'s attributes after these.
    pub fn extend(&mut self, other: Attributes) {
        self.rbac.extend(other.rbac);
        self.webhooks.extend(other.webhooks);
    }

    /// `config/rbac/role.yaml` for these rules: the ClusterRole (and any
    /// namespaced Roles) named `manager-role`, merged as controller-gen does,
    /// or for a namespaced manager a Role in its namespace
    /// ([`crate::rbac::merge_for`]). `kubeforge manifests` writes it, `create
    /// api` and `create webhook` keep it current, and kubeforge-envtest
    /// compares it with the file so a test can say "run `make manifests`"
    /// instead of failing with 403.
    pub fn role_yaml(&self, scope: crate::rbac::ManagerScope) -> String {
        crate::rbac::render_role_yaml(&crate::rbac::merge_for(&self.rbac, scope), ROLE_NAME, scope)
    }

    /// `config/webhook/manifests.yaml` for these webhooks
    /// ([`crate::webhook::render_manifests`]), or `None` without webhooks.
    /// Fails when two webhooks share a name, naming both places.
    pub fn webhook_manifests(&self) -> Result<Option<String>, ScanError> {
        let mut seen: BTreeMap<&str, &Location> = BTreeMap::new();
        for found in &self.webhooks {
            if let Some(first) = seen.insert(&found.args.name, &found.location) {
                return Err(ScanError::DuplicateWebhook {
                    name: found.args.name.clone(),
                    first: first.clone(),
                    second: found.location.clone(),
                });
            }
        }
        let args: Vec<WebhookArgs> = self.webhooks.iter().map(|w| w.args.clone()).collect();
        Ok(crate::webhook::render_manifests(&args))
    }
}

/// The name of the role `#[rbac]` rules make, before kustomize's prefix.
pub const ROLE_NAME: &str = "manager-role";

/// The `#[rbac]` rules of one Rust file, in source order (its `#[webhook]`
/// attributes are checked too). See [`Attributes::from_source`].
pub fn scan_source(path: &Path, source: &str) -> Result<Vec<RbacRule>, ScanError> {
    Ok(Attributes::from_source(path, source)?.rbac)
}

/// The `#[rbac]` rules under `root` (its `#[webhook]` attributes are checked
/// too). See [`Attributes::from_dir`].
pub fn scan_dir(root: &Path) -> Result<Vec<RbacRule>, ScanError> {
    Ok(Attributes::from_dir(root)?.rbac)
}

fn io(path: &Path, source: std::io::Error) -> ScanError {
    ScanError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The `*.rs` files `scan_dir` reads, in order: a directory's entries sorted
/// by file name, each subdirectory's files where the subdirectory sorts.
/// `root` itself is always walked (or taken, if it is a file), whatever its
/// name; below it, hidden entries and `target` directories are skipped.
fn rs_files(root: &Path) -> Result<Vec<PathBuf>, ScanError> {
    let walk = WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| entry.depth() == 0 || !is_skipped(entry));
    let mut files = Vec::new();
    for entry in walk {
        let entry = entry.map_err(|err| walk_error(root, err))?;
        let path = entry.path();
        let file_type = entry.file_type();
        // Symlinks count if they point at a file; symlinked directories are
        // not followed (they could loop). A root symlink is followed.
        let is_file = file_type.is_file() || (file_type.is_symlink() && path.is_file());
        if is_file && (entry.depth() == 0 || path.extension().is_some_and(|ext| ext == "rs")) {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// Hidden files and directories (`.git`, editor lock files) and `target`
/// directories (build output, possibly generated Rust).
fn is_skipped(entry: &DirEntry) -> bool {
    let name = entry.file_name().to_string_lossy();
    name.starts_with('.') || (name == "target" && entry.file_type().is_dir())
}

/// A walk error as an I/O error on the path it happened at.
fn walk_error(root: &Path, err: walkdir::Error) -> ScanError {
    let path = err.path().unwrap_or(root).to_path_buf();
    let source = err
        .into_io_error()
        .unwrap_or_else(|| std::io::Error::other("file system loop"));
    ScanError::Io { path, source }
}

struct Scanner<'a> {
    path: &'a Path,
    found: Attributes,
}

impl Scanner<'_> {
    fn attrs(&mut self, attrs: &[Attribute]) -> Result<(), ScanError> {
        for attr in attrs {
            if is_our_path(attr.path(), "rbac") {
                let tokens = self.arguments(
                    attr,
                    "#[rbac(groups = \"apps\", resources = \"deployments\", \
                     verbs = [\"get\", \"list\", \"watch\"])]",
                )?;
                let rule =
                    RbacRule::parse(tokens).map_err(|e| ScanError::from_syn(self.path, &e))?;
                self.found.rbac.push(rule);
            } else if is_our_path(attr.path(), "webhook") {
                let tokens = self.arguments(
                    attr,
                    "#[webhook(path = \"/mutate-apps-example-com-v1-myapp\", mutating = true, ...)]",
                )?;
                let args =
                    WebhookArgs::parse(tokens).map_err(|e| ScanError::from_syn(self.path, &e))?;
                self.found.webhooks.push(FoundWebhook {
                    location: Location::of(self.path, attr.span()),
                    args,
                });
            }
        }
        Ok(())
    }

    /// The tokens inside `#[name(...)]`. `#[name]`, `#[name()]` and
    /// `#[name = ...]` have nothing to point at inside, so the error points
    /// at the attribute.
    fn arguments(
        &self,
        attr: &Attribute,
        example: &str,
    ) -> Result<proc_macro2::TokenStream, ScanError> {
        match &attr.meta {
            Meta::List(list) if !list.tokens.is_empty() => Ok(list.tokens.clone()),
            _ => Err(ScanError::at(
                self.path,
                attr.span(),
                format!("expected arguments, e.g. `{example}`"),
            )),
        }
    }

    fn items(&mut self, items: &[Item]) -> Result<(), ScanError> {
        items.iter().try_for_each(|item| self.item(item))
    }

    fn item(&mut self, item: &Item) -> Result<(), ScanError> {
        match item {
            Item::Fn(f) => {
                self.attrs(&f.attrs)?;
                self.block(&f.block)
            }
            Item::Mod(m) => {
                // syn puts a module's inner `#![...]` attributes in `attrs` too.
                self.attrs(&m.attrs)?;
                match &m.content {
                    Some((_, items)) => self.items(items),
                    None => Ok(()),
                }
            }
            Item::Impl(i) => {
                self.attrs(&i.attrs)?;
                for member in &i.items {
                    match member {
                        ImplItem::Fn(f) => {
                            self.attrs(&f.attrs)?;
                            self.block(&f.block)?;
                        }
                        ImplItem::Const(c) => self.attrs(&c.attrs)?,
                        ImplItem::Type(t) => self.attrs(&t.attrs)?,
                        ImplItem::Macro(m) => self.attrs(&m.attrs)?,
                        _ => {}
                    }
                }
                Ok(())
            }
            Item::Trait(t) => {
                self.attrs(&t.attrs)?;
                for member in &t.items {
                    match member {
                        TraitItem::Fn(f) => {
                            self.attrs(&f.attrs)?;
                            if let Some(block) = &f.default {
                                self.block(block)?;
                            }
                        }
                        TraitItem::Const(c) => self.attrs(&c.attrs)?,
                        TraitItem::Type(t) => self.attrs(&t.attrs)?,
                        TraitItem::Macro(m) => self.attrs(&m.attrs)?,
                        _ => {}
                    }
                }
                Ok(())
            }
            Item::ForeignMod(f) => {
                self.attrs(&f.attrs)?;
                for member in &f.items {
                    if let Some(attrs) = foreign_attrs(member) {
                        self.attrs(attrs)?;
                    }
                }
                Ok(())
            }
            Item::Const(i) => self.attrs(&i.attrs),
            Item::Enum(i) => self.attrs(&i.attrs),
            Item::ExternCrate(i) => self.attrs(&i.attrs),
            Item::Macro(i) => self.attrs(&i.attrs),
            Item::Static(i) => self.attrs(&i.attrs),
            Item::Struct(i) => self.attrs(&i.attrs),
            Item::TraitAlias(i) => self.attrs(&i.attrs),
            Item::Type(i) => self.attrs(&i.attrs),
            Item::Union(i) => self.attrs(&i.attrs),
            Item::Use(i) => self.attrs(&i.attrs),
            _ => Ok(()),
        }
    }

    /// Items declared directly in a function body (`fn f() { fn g() {} }`).
    fn block(&mut self, block: &Block) -> Result<(), ScanError> {
        for stmt in &block.stmts {
            if let Stmt::Item(item) = stmt {
                self.item(item)?;
            }
        }
        Ok(())
    }
}

fn foreign_attrs(item: &syn::ForeignItem) -> Option<&[Attribute]> {
    match item {
        syn::ForeignItem::Fn(i) => Some(&i.attrs),
        syn::ForeignItem::Static(i) => Some(&i.attrs),
        syn::ForeignItem::Type(i) => Some(&i.attrs),
        syn::ForeignItem::Macro(i) => Some(&i.attrs),
        _ => None,
    }
}

/// `name`, `kubeforge::name` or `::kubeforge::name`, nothing else: an
/// `other::rbac` attribute belongs to someone else.
fn is_our_path(path: &syn::Path, name: &str) -> bool {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    match segments.as_slice() {
        [only] => only == name && path.leading_colon.is_none(),
        [krate, last] => krate == "kubeforge" && last == name,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups_and_resources(rules: &[RbacRule]) -> Vec<String> {
        rules
            .iter()
            .map(|r| {
                if r.urls.is_empty() {
                    format!("{}/{}", r.groups.join(","), r.resources.join(","))
                } else {
                    r.urls.join(",")
                }
            })
            .collect()
    }

    fn scan(source: &str) -> Vec<String> {
        match scan_source(Path::new("src/lib.rs"), source) {
            Ok(rules) => groups_and_resources(&rules),
            Err(e) => panic!("{e}"),
        }
    }

    fn scan_err(source: &str) -> String {
        match scan_source(Path::new("src/controller/my_app.rs"), source) {
            Ok(rules) => panic!("expected an error, got {rules:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn finds_attributes_on_every_kind_of_item_in_source_order() {
        let found = scan(
            r#"
            #![rbac(groups = "", resources = "file-inner", verbs = "get")]
            #[rbac(groups = "", resources = "fn", verbs = "get")]
            fn reconcile() {
                #[rbac(groups = "", resources = "fn-body-item", verbs = "get")]
                fn nested() {}
            }
            #[kubeforge::rbac(groups = "", resources = "struct", verbs = "get")]
            struct S;
            #[::kubeforge::rbac(groups = "", resources = "enum", verbs = "get")]
            enum E { A }
            #[rbac(groups = "", resources = "impl", verbs = "get")]
            impl S {
                #[rbac(groups = "", resources = "method", verbs = "get")]
                fn method(&self) {}
                #[rbac(groups = "", resources = "assoc-const", verbs = "get")]
                const C: u8 = 1;
            }
            mod outer {
                #![rbac(groups = "", resources = "mod-inner", verbs = "get")]
                #[rbac(groups = "", resources = "inner-mod", verbs = "get")]
                mod inner {
                    #[rbac(groups = "", resources = "deep", verbs = "get")]
                    const X: u8 = 0;
                }
            }
            #[rbac(groups = "", resources = "trait", verbs = "get")]
            trait T {
                #[rbac(groups = "", resources = "trait-fn", verbs = "get")]
                fn f() {}
            }
            #[rbac(groups = "", resources = "static", verbs = "get")]
            static ST: u8 = 0;
            #[rbac(urls = "/metrics", verbs = "get")]
            use std::fmt;
            #[rbac(groups = "", resources = "declared-mod", verbs = "get")]
            mod elsewhere;
            "#,
        );
        assert_eq!(
            found,
            [
                "/file-inner",
                "/fn",
                "/fn-body-item",
                "/struct",
                "/enum",
                "/impl",
                "/method",
                "/assoc-const",
                "/mod-inner",
                "/inner-mod",
                "/deep",
                "/trait",
                "/trait-fn",
                "/static",
                "/metrics",
                "/declared-mod",
            ]
        );
    }

    #[test]
    fn other_rbac_attributes_are_ignored() {
        let found = scan(
            r#"
            #[other::rbac(anything at all)]
            #[::rbac(groups = "", resources = "x", verbs = "get")]
            #[kubeforge::rbac::more(whatever)]
            #[rbac_extra(whatever)]
            #[derive(Debug)]
            struct S;
            "#,
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn invalid_attribute_reports_file_line_and_column() {
        let err = scan_err(
            "struct A;\n\n#[rbac(groups = \"\", resources = \"pods\", verb = \"get\")]\nfn f() {}\n",
        );
        assert_eq!(
            err,
            "src/controller/my_app.rs:3:41: unknown key `verb` (did you mean `verbs`?); \
             expected one of: groups, resources, verbs, resource_names, urls, namespace, role_name"
        );
        let err = scan_err(
            "impl X {\n    #[kubeforge::rbac(groups = \"\", resources = \"pods\")]\n    fn f() {}\n}\n",
        );
        assert_eq!(err, "src/controller/my_app.rs:2:23: `verbs` is required");
    }

    #[test]
    fn attribute_without_arguments_points_at_the_attribute() {
        for source in [
            "\n  #[rbac]\nfn f() {}",
            "\n  #[rbac()]\nfn f() {}",
            "\n  #[rbac = \"x\"]\nfn f() {}",
        ] {
            let err = scan_err(source);
            assert!(
                err.starts_with("src/controller/my_app.rs:2:3: expected arguments"),
                "{err}"
            );
        }
    }

    #[test]
    fn unparsable_file_names_the_file() {
        let err = scan_err("fn f( {\n");
        assert!(err.starts_with("src/controller/my_app.rs:"), "{err}");
    }

    fn write(root: &Path, rel: &str, contents: &str) {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, contents).unwrap();
    }

    fn rule_src(resource: &str) -> String {
        format!(
            "#[rbac(groups = \"\", resources = \"{resource}\", verbs = \"get\")]\nfn f() {{}}\n"
        )
    }

    #[test]
    fn scan_dir_walks_sorted_and_skips_target_and_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "src/main.rs", &rule_src("main"));
        write(root, "src/controller/b.rs", &rule_src("b"));
        write(root, "src/controller/a.rs", &rule_src("a"));
        write(root, "src/controller/mod.rs", &rule_src("mod"));
        write(root, "src/api.rs", &rule_src("api"));
        write(root, "src/notes.txt", &rule_src("txt"));
        write(root, "target/debug/build/gen.rs", &rule_src("target"));
        write(root, ".git/hooks/x.rs", &rule_src("git"));
        write(root, "src/.hidden.rs", &rule_src("hidden"));
        write(root, "src/broken/target/x.rs", "this is not rust");

        let rules = scan_dir(&root.join("src")).unwrap();
        assert_eq!(
            groups_and_resources(&rules),
            ["/api", "/a", "/b", "/mod", "/main"]
        );
        // A single file works too.
        let rules = scan_dir(&root.join("src/main.rs")).unwrap();
        assert_eq!(groups_and_resources(&rules), ["/main"]);
    }

    #[test]
    fn scan_dir_walks_the_root_whatever_its_name() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ".hidden/target/a.rs", &rule_src("a"));
        write(
            dir.path(),
            ".hidden/target/nested/target/b.rs",
            &rule_src("b"),
        );
        write(dir.path(), ".hidden/target/notes.txt", &rule_src("txt"));
        let rules = scan_dir(&dir.path().join(".hidden/target")).unwrap();
        assert_eq!(groups_and_resources(&rules), ["/a"]);
        // A file root is read whatever its extension.
        let rules = scan_dir(&dir.path().join(".hidden/target/notes.txt")).unwrap();
        assert_eq!(groups_and_resources(&rules), ["/txt"]);
    }

    #[cfg(unix)]
    #[test]
    fn scan_dir_reads_file_symlinks_but_does_not_follow_directory_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "elsewhere/linked.rs", &rule_src("linked"));
        write(root, "elsewhere/dir/inner.rs", &rule_src("inner"));
        write(root, "src/own.rs", &rule_src("own"));
        std::os::unix::fs::symlink(root.join("elsewhere/linked.rs"), root.join("src/link.rs"))
            .unwrap();
        std::os::unix::fs::symlink(root.join("elsewhere/dir"), root.join("src/dir")).unwrap();
        // A loop, which following directory links would walk forever.
        std::os::unix::fs::symlink(root.join("src"), root.join("src/self")).unwrap();
        let rules = scan_dir(&root.join("src")).unwrap();
        assert_eq!(groups_and_resources(&rules), ["/linked", "/own"]);
        // A symlinked root directory is walked.
        std::os::unix::fs::symlink(root.join("elsewhere"), root.join("root-link")).unwrap();
        let rules = scan_dir(&root.join("root-link")).unwrap();
        assert_eq!(groups_and_resources(&rules), ["/inner", "/linked"]);
    }

    #[test]
    fn scan_dir_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "src/a.rs", &rule_src("a"));
        write(dir.path(), "src/b.rs", "fn broken( {");
        let err = scan_dir(&dir.path().join("src")).unwrap_err();
        let shown = err.to_string();
        let expected_prefix = format!("{}:", dir.path().join("src/b.rs").display());
        assert!(shown.starts_with(&expected_prefix), "{shown}");
        assert!(matches!(err, ScanError::Invalid { line: 1, .. }), "{err:?}");

        let missing = scan_dir(&dir.path().join("nope")).unwrap_err();
        assert!(matches!(missing, ScanError::Io { .. }), "{missing:?}");
    }

    // ---- #[webhook] ----

    fn webhook_src(name: &str, mutating: bool) -> String {
        format!(
            "#[kubeforge::webhook(path = \"/{name}\", mutating = {mutating}, side_effects = \"None\", \
             groups = \"apps.example.com\", resources = \"myapps\", verbs = [\"create\", \"update\"], \
             versions = \"v1\", name = \"{name}.kb.io\", admission_review_versions = \"v1\")]\n\
             pub struct Hook;\n"
        )
    }

    #[test]
    fn one_walk_finds_rbac_and_webhook_attributes_with_locations() {
        let source = format!(
            "#[rbac(groups = \"\", resources = \"pods\", verbs = \"get\")]\nfn f() {{}}\n\n{}\n\
             mod inner {{\n    #[::kubeforge::webhook(path = \"/v\", mutating = false, side_effects = \"None\", \
             groups = \"\", resources = \"pods\", verbs = \"delete\", versions = \"v1\", \
             name = \"vpod-v1.kb.io\", admission_review_versions = \"v1\")]\n    enum E {{ A }}\n}}\n",
            webhook_src("mmyapp-v1", true)
        );
        let found = Attributes::from_source(Path::new("src/hooks.rs"), &source).unwrap();
        assert_eq!(groups_and_resources(&found.rbac), ["/pods"]);
        let hooks: Vec<(&str, String)> = found
            .webhooks
            .iter()
            .map(|w| (w.args.name.as_str(), w.location.display()))
            .collect();
        assert_eq!(
            hooks,
            [
                ("mmyapp-v1.kb.io", "src/hooks.rs:4:1".to_string()),
                ("vpod-v1.kb.io", "src/hooks.rs:8:5".to_string()),
            ]
        );
        // The rbac-only entry point still sees the rules.
        let rules = scan_source(Path::new("src/hooks.rs"), &source).unwrap();
        assert_eq!(groups_and_resources(&rules), ["/pods"]);
    }

    #[test]
    fn other_webhook_attributes_are_ignored() {
        let found = Attributes::from_source(
            Path::new("src/lib.rs"),
            "#[actix::webhook(anything)]\n#[::webhook(path = 1)]\n#[webhooks(x)]\nstruct S;\n",
        )
        .unwrap();
        assert!(found.webhooks.is_empty(), "{found:?}");
    }

    #[test]
    fn invalid_webhook_reports_file_line_and_column() {
        let err = scan_err(
            "struct A;\n#[webhook(path = \"/x\", mutating = true, side_effects = \"Some\", groups = \"\", \
             resources = \"pods\", verbs = \"create\", versions = \"v1\", name = \"a.b.c\", \
             admission_review_versions = \"v1\")]\nstruct B;\n",
        );
        assert!(
            err.starts_with(
                "src/controller/my_app.rs:2:56: invalid `side_effects` \"Some\"; expected one of: \"None\", \"NoneOnDryRun\""
            ),
            "{err}"
        );
        let err = scan_err("\n#[webhook]\nstruct B;\n");
        assert!(
            err.starts_with("src/controller/my_app.rs:2:1: expected arguments, e.g. `#[webhook("),
            "{err}"
        );
    }

    #[test]
    fn in_memory_sources_render_the_manifests() {
        let found = Attributes::from_sources([
            ("manager/src/webhook/b.rs", webhook_src("vmyapp-v1", false)),
            ("manager/src/webhook/a.rs", webhook_src("mmyapp-v1", true)),
        ])
        .unwrap();
        let yaml = found.webhook_manifests().unwrap().unwrap();
        let mutating = yaml.find("name: mmyapp-v1.kb.io").unwrap();
        let validating = yaml.find("name: vmyapp-v1.kb.io").unwrap();
        assert!(mutating < validating, "{yaml}");
        assert_eq!(Attributes::default().webhook_manifests().unwrap(), None);
    }

    #[test]
    fn a_webhook_name_used_twice_names_both_files() {
        let mut found =
            Attributes::from_source(Path::new("src/a.rs"), &webhook_src("mx-v1", true)).unwrap();
        found.extend(
            Attributes::from_source(
                Path::new("src/b.rs"),
                &format!("\n{}", webhook_src("mx-v1", false)),
            )
            .unwrap(),
        );
        let err = found.webhook_manifests().unwrap_err().to_string();
        assert_eq!(
            err,
            "src/b.rs:2:1: webhook name `mx-v1.kb.io` is already used at src/a.rs:1:1; give each \
             #[webhook] its own `name`"
        );
    }

    #[test]
    fn scan_dir_collects_webhooks_across_files_in_path_order() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "src/webhook/z.rs", &webhook_src("ma-v1", true));
        write(dir.path(), "src/webhook/a.rs", &webhook_src("mz-v1", true));
        write(dir.path(), "src/main.rs", &rule_src("main"));
        let found = Attributes::from_dir(&dir.path().join("src")).unwrap();
        assert_eq!(groups_and_resources(&found.rbac), ["/main"]);
        let files: Vec<String> = found
            .webhooks
            .iter()
            .map(|w| {
                w.location
                    .path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(files, ["a.rs", "z.rs"]);
    }
}
