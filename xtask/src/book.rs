//! `cargo xtask book`: docs/ as an mdBook (book.toml at the root), checked
//! and built. CI runs it, so a broken link fails the build:
//!
//! 1. every page under docs/ is in docs/SUMMARY.md, and every entry there
//!    exists (a page left out is never rendered, so links to it break);
//! 2. every relative link resolves to a page or file in the book, and every
//!    `#anchor` to a heading of that page, with the ids mdBook gives them;
//! 3. every `{{#include file:anchor}}` names a file and, when given, an
//!    `ANCHOR:` in it (the tutorial includes the example's code this way,
//!    so the code it shows is the code CI builds and tests);
//! 4. `mdbook build` into `<target dir>/book`.
//!
//! mdBook is installed once per machine with `cargo install --locked` into
//! `${XDG_CACHE_HOME:-~/.cache}/kubeforge/mdbook/<version>`, outside the
//! repository, like the Go tools in [`crate::go_tools`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, Result, bail};

/// The mdBook release the book is built with.
pub const MDBOOK_VERSION: &str = "0.5.4";

/// Checks the book's links and builds it; returns the output directory.
pub fn run() -> Result<PathBuf> {
    let docs = crate::root().join("docs");
    let problems = check(&docs)?;
    if !problems.is_empty() {
        bail!(
            "the book has {} broken link(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        );
    }
    let mdbook = install()?;
    let out = crate::target_dir()?.join("book");
    eprintln!("==> mdbook build");
    let output = crate::command(&mdbook)
        .arg("build")
        .arg("--dest-dir")
        .arg(&out)
        .output()
        .context("running mdbook build")?;
    let log = String::from_utf8_lossy(&output.stderr);
    eprint!("{log}");
    // A warning is a page that renders wrong (an unclosed tag, a missing
    // include): as much a broken book as a failed build.
    let warnings: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(" WARN ") || line.contains(" ERROR "))
        .collect();
    if !output.status.success() || !warnings.is_empty() {
        bail!(
            "mdbook build {}: {}",
            if output.status.success() {
                "warned"
            } else {
                "failed"
            },
            warnings.join("; ")
        );
    }
    eprintln!("the book: {}", out.join("index.html").display());
    Ok(out)
}

/// `mdbook`, installed unless the cache has it. Built in a throwaway target
/// directory: nothing else reuses its dependencies.
fn install() -> Result<PathBuf> {
    let root = crate::go_tools::cache_home()?
        .join("kubeforge")
        .join("mdbook")
        .join(format!("v{MDBOOK_VERSION}"));
    let binary = root.join("bin").join("mdbook");
    if binary.is_file() {
        return Ok(binary);
    }
    let scratch = tempfile::Builder::new()
        .prefix("kubeforge-mdbook-build-")
        .tempdir()
        .context("creating a target directory for building mdBook")?;
    crate::step(
        &format!("cargo install mdbook {MDBOOK_VERSION}"),
        crate::cargo()
            .args(["install", "--locked", "--quiet", "mdbook", "--version"])
            .arg(MDBOOK_VERSION)
            // Only `mdbook build` is used: no server, no file watcher.
            .args(["--no-default-features", "--features", "search", "--root"])
            .arg(&root)
            .env("CARGO_TARGET_DIR", scratch.path()),
    )?;
    Ok(binary)
}

/// Every problem with the book's pages, one line each, in a stable order.
pub fn check(docs: &Path) -> Result<Vec<String>> {
    let mut pages = BTreeMap::new();
    for entry in walkdir::WalkDir::new(docs).sort_by_file_name() {
        let entry = entry.context("listing docs/")?;
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "md") {
            let text = std::fs::read_to_string(entry.path())
                .with_context(|| format!("reading {}", entry.path().display()))?;
            pages.insert(entry.path().to_owned(), text);
        }
    }
    let summary_path = docs.join("SUMMARY.md");
    let Some(summary) = pages.get(&summary_path) else {
        bail!("docs/SUMMARY.md is missing: it is the book's table of contents");
    };
    let mut problems = Vec::new();
    let listed: BTreeSet<PathBuf> = links(summary)
        .into_iter()
        .filter(|l| !is_external(l))
        .map(|l| normalize(&docs.join(l)))
        .collect();
    for page in pages.keys() {
        if page != &summary_path && !listed.contains(page) {
            problems.push(format!(
                "{}: not in docs/SUMMARY.md, so the book never renders it",
                relative(docs, page)
            ));
        }
    }
    let headings: BTreeMap<&PathBuf, BTreeSet<String>> = pages
        .iter()
        .map(|(path, text)| (path, heading_ids(text)))
        .collect();
    for (page, text) in &pages {
        let dir = page.parent().unwrap_or(docs);
        for link in links(text) {
            if is_external(&link) {
                continue;
            }
            let (path, anchor) = match link.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (link.as_str(), None),
            };
            let target = if path.is_empty() {
                page.clone()
            } else {
                normalize(&dir.join(path))
            };
            let here = relative(docs, page);
            if !target.starts_with(docs) {
                problems.push(format!(
                    "{here}: `{link}` leaves docs/, which the book does not contain; link to the repository instead"
                ));
            } else if !target.exists() {
                problems.push(format!("{here}: `{link}`: no such file"));
            } else if let Some(anchor) = anchor
                && let Some(ids) = headings.get(&target)
                && !ids.contains(anchor)
            {
                problems.push(format!(
                    "{here}: `{link}`: {} has no heading with the id `{anchor}`",
                    relative(docs, &target)
                ));
            }
        }
        for (file, anchor) in includes(text) {
            let target = normalize(&dir.join(&file));
            let here = relative(docs, page);
            match std::fs::read_to_string(&target) {
                Err(_) => problems.push(format!("{here}: includes `{file}`: no such file")),
                Ok(source) => {
                    if let Some(anchor) = anchor
                        && !source.contains(&format!("ANCHOR: {anchor}"))
                    {
                        problems.push(format!(
                            "{here}: includes `{file}:{anchor}`: the file has no `ANCHOR: {anchor}`"
                        ));
                    }
                }
            }
        }
    }
    Ok(problems)
}

fn is_external(link: &str) -> bool {
    link.contains("://") || link.starts_with("mailto:")
}

fn relative(docs: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(docs).unwrap_or(path);
    format!("docs/{}", rel.display())
}

/// `a/./b/../c` as `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The lines of `text` outside fenced code blocks.
fn prose(text: &str) -> impl Iterator<Item = &str> {
    let mut fenced = false;
    text.lines().filter(move |line| {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            return false;
        }
        !fenced
    })
}

/// `line` without its inline code spans.
fn without_code(line: &str) -> String {
    let mut out = String::new();
    for (i, part) in line.split('`').enumerate() {
        if i % 2 == 0 {
            out.push_str(part);
        }
    }
    out
}

/// The targets of inline links `[text](target)` and reference definitions
/// `[label]: target`, outside code.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in prose(text) {
        let line = without_code(line);
        if let Some(rest) = line.trim_start().strip_prefix('[')
            && let Some((_, target)) = rest.split_once("]:")
            && let Some(target) = target.split_whitespace().next()
        {
            out.push(target.to_owned());
            continue;
        }
        let mut rest = line.as_str();
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end].split_whitespace().next().unwrap_or("");
            if !target.is_empty() {
                out.push(target.to_owned());
            }
            rest = &after[end..];
        }
    }
    out
}

/// `{{#include path}}` and `{{#include path:anchor}}` (and
/// `rustdoc_include`): the path and the anchor, if one is named (line
/// ranges are not anchors).
fn includes(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut rest = line;
        while let Some(start) = rest.find("{{#") {
            let after = &rest[start + 3..];
            let Some(end) = after.find("}}") else { break };
            let directive = after[..end].trim();
            rest = &after[end..];
            let Some(arg) = directive
                .strip_prefix("include ")
                .or_else(|| directive.strip_prefix("rustdoc_include "))
            else {
                continue;
            };
            let arg = arg.trim();
            let (file, anchor) = match arg.split_once(':') {
                Some((file, anchor))
                    if !anchor.is_empty() && !anchor.starts_with(|c: char| c.is_ascii_digit()) =>
                {
                    (file, Some(anchor.to_owned()))
                }
                Some((file, _)) => (file, None),
                None => (arg, None),
            };
            out.push((file.to_owned(), anchor));
        }
    }
    out
}

/// The ids mdBook gives a page's headings: the heading's text, lowercased,
/// letters, digits, `_` and `-` kept, whitespace made `-`, everything else
/// dropped; a repeated id gets `-1`, `-2`, ...
fn heading_ids(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for line in prose(text) {
        let Some(title) = line.strip_prefix('#') else {
            continue;
        };
        let title = title.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        let id = heading_id(title.trim());
        let count = seen.entry(id.clone()).or_insert(0);
        ids.insert(if *count == 0 {
            id.clone()
        } else {
            format!("{id}-{count}")
        });
        *count += 1;
    }
    ids
}

fn heading_id(title: &str) -> String {
    // Link text stays, its target goes: `[text](url)` reads as `text`.
    let mut plain = String::new();
    let mut rest = title;
    while let Some(start) = rest.find("](") {
        plain.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        rest = after.find(')').map_or("", |end| &after[end + 1..]);
    }
    plain.push_str(rest);
    plain
        .chars()
        .filter(|c| !matches!(c, '`' | '*' | '['))
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_ascii_lowercase())
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The book itself: `cargo test` catches a broken link before
    /// `cargo xtask book` builds it.
    #[test]
    fn the_books_links_resolve() {
        let problems = check(&crate::root().join("docs")).unwrap();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn heading_ids_follow_mdbook() {
        let ids = heading_ids(
            "# Markers: controller-gen → kubeforge\n## `#[crd(...)]` keys\n## Keys\n## Keys\n```\n# not a heading\n```\n## A [link](x.md) here\n",
        );
        let expected: BTreeSet<String> = [
            "markers-controller-gen--kubeforge",
            "crd-keys",
            "keys",
            "keys-1",
            "a-link-here",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn finds_links_outside_code() {
        let text = "See [init](init.md#flags) and `[not](code.md)`.\n```\n[no](fenced.md)\n```\n[ref]: other.md\n";
        assert_eq!(links(text), ["init.md#flags", "other.md"]);
    }

    #[test]
    fn finds_includes_and_anchors() {
        let text = "{{#include ../examples/a.rs:reconcile}}\n{{#include b.rs:3:10}}\n{{#rustdoc_include c.rs}}";
        assert_eq!(
            includes(text),
            [
                ("../examples/a.rs".to_owned(), Some("reconcile".to_owned())),
                ("b.rs".to_owned(), None),
                ("c.rs".to_owned(), None),
            ]
        );
    }

    #[test]
    fn reports_broken_links_anchors_and_unlisted_pages() {
        let dir = tempfile::tempdir().unwrap();
        let docs = dir.path().join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join("SUMMARY.md"), "# Summary\n\n- [A](a.md)\n").unwrap();
        std::fs::write(
            docs.join("a.md"),
            "# A\n## Real\n[ok](#real) [bad](#missing) [gone](gone.md) [out](../x.md) [web](https://x.io/y)\n",
        )
        .unwrap();
        std::fs::write(docs.join("b.md"), "# B\n").unwrap();
        let problems = check(&docs).unwrap();
        assert_eq!(
            problems,
            [
                "docs/b.md: not in docs/SUMMARY.md, so the book never renders it",
                "docs/a.md: `#missing`: docs/a.md has no heading with the id `missing`",
                "docs/a.md: `gone.md`: no such file",
                "docs/a.md: `../x.md` leaves docs/, which the book does not contain; link to the repository instead",
            ]
        );
    }
}
