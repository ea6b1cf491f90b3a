//! What `kubeforge run --watch` watches: the project's Rust sources and
//! manifests of its crates, as a snapshot that can be compared.
//!
//! Polling rather than OS file events keeps this dependency-free and
//! behaves the same on every filesystem (including network and container
//! mounts, where inotify is unreliable); a project has a few hundred files,
//! so a poll costs well under a millisecond of metadata reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Every watched file under a project root, with what tells a change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    files: BTreeMap<PathBuf, (Option<SystemTime>, u64)>,
}

impl Snapshot {
    /// Reads the watched files under `root`: `*.rs` and `Cargo.toml` files
    /// and `Cargo.lock`, outside build output (`target/`), hidden
    /// directories (`.git`, `.kubeforge`) and `config/` (which `kubeforge
    /// manifests` writes). Unreadable entries are skipped: a file being
    /// saved may briefly vanish.
    pub fn take(root: &Path) -> Snapshot {
        let mut files = BTreeMap::new();
        let walker = walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| entry.depth() == 0 || !is_ignored_dir(entry));
        for entry in walker.flatten() {
            if !entry.file_type().is_file() || !is_watched(entry.path()) {
                continue;
            }
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            let rel = entry
                .path()
                .strip_prefix(root)
                .unwrap_or(entry.path())
                .to_path_buf();
            files.insert(rel, (metadata.modified().ok(), metadata.len()));
        }
        Snapshot { files }
    }

    /// The files added, removed or changed since `earlier`, sorted.
    pub fn changed_since(&self, earlier: &Snapshot) -> Vec<PathBuf> {
        let mut changed: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|(path, stamp)| earlier.files.get(*path) != Some(*stamp))
            .map(|(path, _)| path.clone())
            .collect();
        changed.extend(
            earlier
                .files
                .keys()
                .filter(|path| !self.files.contains_key(*path))
                .cloned(),
        );
        changed.sort();
        changed
    }
}

fn is_ignored_dir(entry: &walkdir::DirEntry) -> bool {
    if !entry.file_type().is_dir() {
        return false;
    }
    let name = entry.file_name().to_string_lossy();
    name.starts_with('.') || (entry.depth() == 1 && (name == "target" || name == "config"))
}

fn is_watched(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.ends_with(".rs") || name == "Cargo.toml" || name == "Cargo.lock"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn sees_sources_and_ignores_output_and_manifests() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "Cargo.toml", "[workspace]");
        write(root, "manager/src/main.rs", "fn main() {}");
        write(root, "api/Cargo.toml", "[package]");
        write(root, "target/debug/build.rs", "");
        write(root, "config/crd/bases/x.yaml", "");
        write(root, ".kubeforge/scaffold/manager/src/main.rs", "");
        write(root, "README.md", "");
        let snapshot = Snapshot::take(root);
        let paths: Vec<_> = snapshot
            .files
            .keys()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            paths,
            ["Cargo.toml", "api/Cargo.toml", "manager/src/main.rs"]
        );
    }

    #[test]
    fn reports_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "manager/src/main.rs", "fn main() {}");
        write(root, "manager/src/old.rs", "");
        let before = Snapshot::take(root);
        assert!(Snapshot::take(root).changed_since(&before).is_empty());

        write(root, "manager/src/main.rs", "fn main() { run() }");
        std::fs::remove_file(root.join("manager/src/old.rs")).unwrap();
        write(root, "manager/src/new.rs", "");
        let changed = Snapshot::take(root).changed_since(&before);
        let changed: Vec<_> = changed.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            changed,
            [
                "manager/src/main.rs",
                "manager/src/new.rs",
                "manager/src/old.rs"
            ]
        );
    }
}
