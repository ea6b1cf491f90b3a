//! Finds `#[rbac(...)]` attributes in Rust sources without compiling them,
//! as controller-gen finds `+kubebuilder:rbac` markers in Go sources.
//!
//! Reading the source (instead of collecting rules at run time through the
//! macro) keeps `kubeforge manifests` fast and lets it run on a project that
//! does not build yet, which is exactly when users are adding permissions.
//!
//! An attribute counts when its path is `rbac`, `kubeforge::rbac` or
//! `::kubeforge::rbac`, outer (`#[...]`) or inner (`#![...]`), on any item:
//! at file level, in inline modules, impl and trait blocks (on the block and
//! on its members), extern blocks, and items declared at the top level of
//! function bodies. Attributes behind `cfg_attr` or produced by other macros
//! are not seen, just as controller-gen only sees markers that are literally
//! in the source.

use crate::rbac::RbacRule;
use proc_macro2::Span;
use std::path::{Path, PathBuf};
use syn::spanned::Spanned;
use syn::{Attribute, Block, ImplItem, Item, Meta, Stmt, TraitItem};
use walkdir::{DirEntry, WalkDir};

/// Why scanning failed: a file that is not valid Rust, an invalid `#[rbac]`,
/// or an I/O error. Displays as `path:line:column: message` like compiler
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

/// Collects the `#[rbac]` rules of one Rust file, in source order.
/// `path` is only used in error messages.
pub fn scan_source(path: &Path, source: &str) -> Result<Vec<RbacRule>, ScanError> {
    let file = syn::parse_file(source).map_err(|e| ScanError::from_syn(path, &e))?;
    let mut scanner = Scanner {
        path,
        rules: Vec::new(),
    };
    scanner.attrs(&file.attrs)?;
    scanner.items(&file.items)?;
    Ok(scanner.rules)
}

/// Scans every `*.rs` file under `root` (or `root` itself if it is a file),
/// in sorted path order so results and errors are reproducible. Skips
/// `target` directories and hidden files and directories (`.git`, editor
/// lock files); does not follow symbolic links to directories, which could
/// loop.
pub fn scan_dir(root: &Path) -> Result<Vec<RbacRule>, ScanError> {
    let mut rules = Vec::new();
    for file in rs_files(root)? {
        let source = std::fs::read_to_string(&file).map_err(|source| io(&file, source))?;
        rules.extend(scan_source(&file, &source)?);
    }
    Ok(rules)
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
    rules: Vec<RbacRule>,
}

impl Scanner<'_> {
    fn attrs(&mut self, attrs: &[Attribute]) -> Result<(), ScanError> {
        for attr in attrs.iter().filter(|a| is_rbac_path(a.path())) {
            let rule = match &attr.meta {
                Meta::List(list) if !list.tokens.is_empty() => RbacRule::parse(list.tokens.clone())
                    .map_err(|e| ScanError::from_syn(self.path, &e))?,
                // `#[rbac]`, `#[rbac()]`, `#[rbac = ...]`: nothing to point
                // at inside, so point at the attribute.
                _ => {
                    return Err(ScanError::at(
                        self.path,
                        attr.span(),
                        "expected arguments, e.g. `#[rbac(groups = \"apps\", \
                         resources = \"deployments\", verbs = [\"get\", \"list\", \"watch\"])]`",
                    ));
                }
            };
            self.rules.push(rule);
        }
        Ok(())
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

/// `rbac`, `kubeforge::rbac` or `::kubeforge::rbac`, nothing else: an
/// `other::rbac` attribute belongs to someone else.
fn is_rbac_path(path: &syn::Path) -> bool {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    match segments.as_slice() {
        [only] => only == "rbac" && path.leading_colon.is_none(),
        [krate, name] => krate == "kubeforge" && name == "rbac",
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
             expected one of: groups, resources, verbs, resource_names, urls, namespace"
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
}
