//! All-or-nothing file changes.
//!
//! A command first builds a [`Plan`] in memory: every file it creates and
//! every file it changes, with the full new contents. Nothing touches the disk
//! until the plan is complete and checked, and [`Plan::apply`] rolls back
//! everything it did if any step fails. So bad input, a missing marker or a
//! full disk never leaves half a scaffold behind, and a user's edited file is
//! never overwritten: creating a file that exists is refused while planning.
//!
//! A plan can also start from nothing ([`Plan::in_memory`]): that is how the
//! pristine scaffold is replayed for the scaffold record and `alpha update`,
//! with the same steps and no scratch directory.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use super::marker::Marker;

/// What happens to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    /// A new file; refused if the path exists.
    Create(String),
    /// A file the command owns or extends (PROJECT, insertion at markers).
    /// `original` is what was read while planning: if the file changed on
    /// disk since, applying is refused.
    Update { original: String, new: String },
    /// A file kubeforge owns that is no longer wanted (a stale record of the
    /// pristine scaffold); `original` guards against concurrent edits.
    Remove { original: String },
}

/// Files to create and update under one root, keyed by relative path so the
/// order of writes (and of what the command prints) is deterministic.
#[derive(Debug)]
pub struct Plan {
    /// The project directory; `None` for a plan over an empty tree that is
    /// only ever read back, never applied.
    root: Option<PathBuf>,
    changes: BTreeMap<PathBuf, Change>,
    /// Whether [`Plan::create`] may replace a file on disk (`create api
    /// --force`), and the files it replaced, for the caller to check
    /// against the record of the pristine scaffold before applying.
    replace_existing: bool,
    replaced: Vec<PathBuf>,
}

impl Plan {
    /// A plan over the project at `root`: files on disk are what it reads
    /// and must not overwrite.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Plan {
            root: Some(root.into()),
            changes: BTreeMap::new(),
            replace_existing: false,
            replaced: Vec::new(),
        }
    }

    /// A plan over an empty tree, to compute what a scaffold produces.
    pub fn in_memory() -> Self {
        Plan {
            root: None,
            changes: BTreeMap::new(),
            replace_existing: false,
            replaced: Vec::new(),
        }
    }

    /// The project directory, for a plan over one.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// The file on disk behind `rel`, if this plan is over a directory.
    fn on_disk(&self, rel: &Path) -> Option<PathBuf> {
        self.root.as_ref().map(|root| root.join(rel))
    }

    /// Whether `rel` exists as this plan would leave it.
    pub fn exists(&self, rel: impl AsRef<Path>) -> bool {
        let rel = rel.as_ref();
        match self.changes.get(rel) {
            Some(Change::Remove { .. }) => false,
            Some(_) => true,
            None => self
                .on_disk(rel)
                .is_some_and(|path| path.exists() || path.is_symlink()),
        }
    }

    fn read_disk(&self, rel: &Path) -> Result<String> {
        let path = self
            .on_disk(rel)
            .with_context(|| format!("{} does not exist", rel.display()))?;
        fs::read_to_string(path).with_context(|| format!("reading {}", rel.display()))
    }

    /// The files this plan creates, with their contents.
    pub fn created(&self) -> impl Iterator<Item = (&Path, &str)> {
        self.changes
            .iter()
            .filter_map(|(rel, change)| match change {
                Change::Create(text) => Some((rel.as_path(), text.as_str())),
                _ => None,
            })
    }

    /// The files this plan creates, path -> contents: for a plan from
    /// [`Plan::in_memory`], the whole tree.
    pub fn into_created(self) -> BTreeMap<PathBuf, String> {
        self.changes
            .into_iter()
            .filter_map(|(rel, change)| match change {
                Change::Create(text) => Some((rel, text)),
                _ => None,
            })
            .collect()
    }

    /// Plans a new file. Refuses when it exists on disk (it may hold the
    /// user's edits) or when the plan already creates it.
    pub fn create(&mut self, rel: impl Into<PathBuf>, contents: String) -> Result<()> {
        let rel = rel.into();
        if self.replace_existing && self.exists(&rel) && !self.changes.contains_key(&rel) {
            self.replaced.push(rel.clone());
            return self.update(rel, contents);
        }
        if self.exists(&rel) && !self.changes.contains_key(&rel) {
            bail!(
                "{} already exists; kubeforge never overwrites a file you may have edited (move it away and run the command again)",
                rel.display()
            );
        }
        if self.changes.contains_key(&rel) {
            bail!("internal error: {} planned twice", rel.display());
        }
        self.changes.insert(rel, Change::Create(contents));
        Ok(())
    }

    /// Lets [`Plan::create`] replace files that exist (or stops it again),
    /// remembering each one in [`Plan::replaced`]. Only for `create api
    /// --force`, which refuses unless every replaced file is as the
    /// scaffold recorded it, so no edit is lost.
    pub fn replace_existing(&mut self, on: bool) {
        self.replace_existing = on;
    }

    /// The existing files [`Plan::create`] replaced, in the order planned.
    pub fn replaced(&self) -> &[PathBuf] {
        &self.replaced
    }

    /// The current contents of a file as this plan would leave it: planned
    /// contents if the plan touches it, else what is on disk.
    pub fn read(&self, rel: impl AsRef<Path>) -> Result<String> {
        let rel = rel.as_ref();
        match self.changes.get(rel) {
            Some(Change::Create(text)) => Ok(text.clone()),
            Some(Change::Update { new, .. }) => Ok(new.clone()),
            Some(Change::Remove { .. }) => bail!("{} is planned for removal", rel.display()),
            None => self.read_disk(rel),
        }
    }

    /// Plans new contents for an existing (or already planned) file.
    pub fn update(&mut self, rel: impl Into<PathBuf>, new: String) -> Result<()> {
        let rel = rel.into();
        match self.changes.get_mut(&rel) {
            Some(Change::Create(text)) => *text = new,
            Some(Change::Update { new: planned, .. }) => *planned = new,
            Some(Change::Remove { original }) => {
                let original = std::mem::take(original);
                self.changes.insert(rel, Change::Update { original, new });
            }
            None => {
                let original = self.read_disk(&rel)?;
                if original != new {
                    self.changes.insert(rel, Change::Update { original, new });
                }
            }
        }
        Ok(())
    }

    /// Plans writing a file that kubeforge generates in full (manifests):
    /// created when missing, replaced when different, untouched when equal.
    pub fn write_generated(&mut self, rel: impl Into<PathBuf>, contents: String) -> Result<()> {
        let rel = rel.into();
        if self.exists(&rel) {
            self.update(rel, contents)
        } else {
            self.create(rel, contents)
        }
    }

    /// Plans removing a file kubeforge owns.
    pub fn remove(&mut self, rel: impl Into<PathBuf>) -> Result<()> {
        let rel = rel.into();
        let original = self.read_disk(&rel)?;
        self.changes.insert(rel, Change::Remove { original });
        Ok(())
    }

    /// Inserts `fragment` just before `marker`'s line in a file (see
    /// [`Marker::insert`]): idempotent, indented like the marker.
    pub fn insert_at_marker(
        &mut self,
        rel: impl AsRef<Path>,
        marker: Marker,
        fragment: &str,
    ) -> Result<()> {
        let rel = rel.as_ref();
        let text = self.read(rel)?;
        let new = marker
            .insert(rel, &text, fragment)
            .with_context(|| format!("updating {}", rel.display()))?;
        self.update(rel.to_path_buf(), new)
    }

    /// Relative paths this plan writes, in order, with a word for each.
    pub fn summary(&self) -> Vec<(&'static str, &Path)> {
        self.changes
            .iter()
            .map(|(rel, change)| {
                let verb = match change {
                    Change::Create(_) => "create",
                    Change::Update { .. } => "update",
                    Change::Remove { .. } => "remove",
                };
                (verb, rel.as_path())
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Writes every change, or none: on the first failure everything already
    /// written is undone (created files and directories removed, updated files
    /// restored) and the error is returned.
    pub fn apply(self) -> Result<()> {
        let Some(root) = self.root.clone() else {
            bail!("internal error: an in-memory plan cannot be applied");
        };
        let mut journal = Journal::default();
        match self.apply_all(&root, &mut journal) {
            Ok(()) => Ok(()),
            Err(err) => {
                journal.roll_back();
                Err(err)
            }
        }
    }

    fn apply_all(&self, root: &Path, journal: &mut Journal) -> Result<()> {
        // Re-check right before writing: a file may have appeared or changed
        // since planning, and it would be the user's.
        for (rel, change) in &self.changes {
            let path = root.join(rel);
            match change {
                Change::Create(_) if path.exists() || path.is_symlink() => {
                    bail!(
                        "{} appeared while kubeforge was running; nothing was written",
                        rel.display()
                    )
                }
                Change::Update { original, .. } | Change::Remove { original } => {
                    let now = fs::read_to_string(&path).unwrap_or_default();
                    if &now != original {
                        bail!(
                            "{} changed while kubeforge was running; nothing was written",
                            rel.display()
                        )
                    }
                }
                Change::Create(_) => {}
            }
        }
        for (rel, change) in &self.changes {
            let path = root.join(rel);
            if let Change::Remove { original } = change {
                fs::remove_file(&path).with_context(|| format!("removing {}", rel.display()))?;
                journal.removed.push((path, original.clone()));
                continue;
            }
            if let Some(parent) = path.parent() {
                journal
                    .create_dirs(parent)
                    .with_context(|| format!("creating directory {}", parent.display()))?;
            }
            let contents = match change {
                Change::Create(text) => text,
                Change::Update { new, .. } => new,
                Change::Remove { .. } => continue,
            };
            write_atomically(&path, contents)
                .with_context(|| format!("writing {}", rel.display()))?;
            match change {
                Change::Create(_) => journal.created_files.push(path),
                Change::Update { original, .. } => journal.updated.push((path, original.clone())),
                Change::Remove { .. } => {}
            }
        }
        Ok(())
    }
}

/// What has been written so far, to undo it.
#[derive(Default)]
struct Journal {
    created_dirs: Vec<PathBuf>,
    created_files: Vec<PathBuf>,
    updated: Vec<(PathBuf, String)>,
    removed: Vec<(PathBuf, String)>,
}

impl Journal {
    fn create_dirs(&mut self, dir: &Path) -> io::Result<()> {
        let mut missing = Vec::new();
        let mut cur = Some(dir);
        while let Some(d) = cur {
            if d.as_os_str().is_empty() || d.exists() {
                break;
            }
            missing.push(d.to_path_buf());
            cur = d.parent();
        }
        for d in missing.into_iter().rev() {
            fs::create_dir(&d)?;
            self.created_dirs.push(d);
        }
        Ok(())
    }

    /// Best effort: every step is tried even if an earlier one fails, since
    /// leaving less behind is always better.
    fn roll_back(self) {
        for (path, original) in self.removed.iter().rev() {
            let _ = write_atomically(path, original);
        }
        for (path, original) in self.updated.iter().rev() {
            let _ = write_atomically(path, original);
        }
        for path in self.created_files.iter().rev() {
            let _ = fs::remove_file(path);
        }
        for dir in self.created_dirs.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// Writes through a temporary file in the same directory and renames it into
/// place (tempfile's `persist`), so a crash never leaves a truncated file.
/// The file gets the permissions `fs::write` would give it (0666 less the
/// umask), not a temporary file's 0600.
fn write_atomically(path: &Path, contents: &str) -> io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new()
        .prefix(".kubeforge-")
        .permissions(fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)?;
    file.write_all(contents.as_bytes())?;
    file.persist(path).map(drop).map_err(|err| err.error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_plans_read_back_what_they_create() {
        let mut plan = Plan::in_memory();
        plan.create("a/b.rs", "x\n// +kubeforge:scaffold:kinds\n".into())
            .unwrap();
        assert!(plan.exists("a/b.rs") && !plan.exists("c"));
        plan.insert_at_marker("a/b.rs", Marker::Kinds, "y").unwrap();
        assert!(plan.read("c").is_err());
        assert!(plan.apply().is_err(), "nowhere to apply to");
        let mut plan = Plan::in_memory();
        plan.create("a", "1".into()).unwrap();
        plan.update("a", "2".into()).unwrap();
        assert_eq!(
            plan.into_created(),
            [(PathBuf::from("a"), "2".to_string())].into()
        );
    }

    #[test]
    fn written_files_get_ordinary_permissions() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let mut plan = Plan::new(dir.path());
        plan.create("a/b.txt", "x".into()).unwrap();
        plan.apply().unwrap();
        let path = dir.path().join("a/b.txt");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let names: Vec<_> = std::fs::read_dir(dir.path().join("a"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["b.txt"], "no temporary file left");
        // The same mode as any file written the ordinary way here (umask
        // applied), not a temporary file's 0600.
        let reference = dir.path().join("reference");
        std::fs::write(&reference, "x").unwrap();
        assert_eq!(mode(&path), mode(&reference));
    }

    #[test]
    fn create_refuses_existing_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "mine").unwrap();
        let mut plan = Plan::new(dir.path());
        let err = plan.create("a", "theirs".into()).unwrap_err();
        assert!(err.to_string().contains("never overwrites"), "{err}");
    }

    #[test]
    fn replacing_is_only_on_request_and_remembered() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "old").unwrap();
        std::fs::write(dir.path().join("same"), "same").unwrap();
        let mut plan = Plan::new(dir.path());
        plan.replace_existing(true);
        plan.create("a", "new".into()).unwrap();
        plan.create("same", "same".into()).unwrap();
        plan.create("b", "created".into()).unwrap();
        plan.replace_existing(false);
        assert!(plan.create("a2", "x".into()).is_ok());
        std::fs::write(dir.path().join("c"), "mine").unwrap();
        assert!(plan.create("c", "theirs".into()).is_err(), "off again");
        assert_eq!(plan.replaced(), [PathBuf::from("a"), PathBuf::from("same")]);
        let summary: Vec<_> = plan
            .summary()
            .into_iter()
            .map(|(verb, p)| format!("{verb} {}", p.display()))
            .collect();
        assert_eq!(summary, ["update a", "create a2", "create b"]);
    }

    #[test]
    fn failed_apply_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b_keep"), "original").unwrap();
        // `blocker` is a file, so creating `blocker/x` fails after the other
        // changes (sorted before it: a/new.txt, b_keep) were written.
        std::fs::write(dir.path().join("blocker"), "").unwrap();
        let mut plan = Plan::new(dir.path());
        plan.create("a/new.txt", "new".into()).unwrap();
        plan.update("b_keep", "changed".into()).unwrap();
        plan.create("blocker/x", "x".into()).unwrap();
        assert!(plan.apply().is_err());
        assert!(!dir.path().join("a").exists(), "created directory removed");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("b_keep")).unwrap(),
            "original"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let mut names = names;
        names.sort();
        assert_eq!(names, ["b_keep", "blocker"]);
    }
}
