//! Re-scaffolding a project and carrying the user's edits across: the
//! machinery behind `kubeforge alpha update` and `cargo xtask regen-example`.
//!
//! Kubebuilder's `alpha update` three-way merges a project onto a newer
//! scaffold, fetching the old version's binary to recreate the common
//! ancestor. kubeforge keeps that ancestor in the project instead:
//! `.kubeforge/scaffold/` holds exactly what the scaffold commands produced,
//! before any hand edits. Every scaffold command refreshes it. An update then
//!
//! 1. replays the scaffold from PROJECT with the current templates, in
//!    memory ([`pristine_tree`], Kubebuilder's `alpha generate`),
//! 2. merges, file by file, the user's version with the new scaffold against
//!    the recorded one (diff3), and
//! 3. records the new scaffold as the next ancestor.
//!
//! Files kubeforge generates in full (PROJECT, config/rbac/role.yaml, CRDs)
//! are not recorded: their owners rewrite them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::project::{self, Project};
use crate::scaffold::{self, Plan};

/// Where the pristine scaffold is recorded, relative to the project root.
pub const BASE_DIR: &str = ".kubeforge/scaffold";

/// Scaffolded files whose content another command owns afterwards.
fn is_recorded(rel: &Path) -> bool {
    rel != Path::new(project::FILE_NAME)
        && rel != Path::new(scaffold::ROLE_FILE)
        && !rel.starts_with(BASE_DIR)
}

/// What `init` and `create api` for every resource of `project` produce
/// today, as relative path -> contents, without touching the disk.
pub fn pristine_tree(project: &Project) -> Result<BTreeMap<PathBuf, String>> {
    let mut plan = Plan::in_memory();
    scaffold::replay(&mut plan, project)?;
    let mut tree = plan.into_created();
    tree.retain(|rel, _| is_recorded(rel));
    Ok(tree)
}

/// Plans writing the record of the pristine scaffold for `project`.
pub fn record_base(plan: &mut Plan, project: &Project) -> Result<()> {
    let pristine = pristine_tree(project)?;
    let old = match plan.root() {
        Some(root) => read_tree(&root.join(BASE_DIR), |_| true).unwrap_or_default(),
        None => BTreeMap::new(),
    };
    for (rel, text) in &pristine {
        plan.write_generated(Path::new(BASE_DIR).join(rel), text.clone())?;
    }
    for rel in old.keys().filter(|rel| !pristine.contains_key(*rel)) {
        plan.remove(Path::new(BASE_DIR).join(rel))?;
    }
    Ok(())
}

/// Every file under `dir` (recursively) whose relative path passes `keep`,
/// as text. A missing directory is an error.
pub fn read_tree(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<BTreeMap<PathBuf, String>> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        if keep(rel) {
            let text = std::fs::read_to_string(entry.path())
                .with_context(|| format!("reading {}", entry.path().display()))?;
            out.insert(rel.to_path_buf(), text);
        }
    }
    Ok(out)
}

/// Fails unless the project's record of its pristine scaffold is what this
/// kubeforge's templates produce for its PROJECT: a change merged onto a
/// project from other templates would fold in every template change since,
/// which is `alpha update`'s job, not `edit`'s.
pub fn require_current_templates(root: &Path, project: &Project) -> Result<()> {
    let base_dir = root.join(BASE_DIR);
    let recorded = read_tree(&base_dir, |_| true).with_context(|| {
        format!(
            "{} has no record of its pristine scaffold ({BASE_DIR})",
            root.display()
        )
    })?;
    if recorded != pristine_tree(project)? {
        anyhow::bail!(
            "{} was scaffolded by another kubeforge version's templates; run `kubeforge alpha update` first, then this command",
            root.display()
        );
    }
    Ok(())
}

/// The outcome of merging a project onto a new scaffold.
#[derive(Debug, Default)]
pub struct Update {
    /// Files where the user's edits and the scaffold's changes overlap;
    /// with conflict markers in the planned contents when written anyway.
    pub conflicts: Vec<PathBuf>,
    /// Files the scaffold no longer produces; left for the user to delete.
    pub no_longer_scaffolded: Vec<PathBuf>,
}

impl Update {
    /// Fails, naming the files, when the merge overlaps the user's edits and
    /// `--write-conflicts` was not given: `change` is what was merged in
    /// ("the new scaffold", "the change").
    pub fn refuse_conflicts(&self, write_conflicts: bool, change: &str) -> Result<()> {
        if self.conflicts.is_empty() || write_conflicts {
            return Ok(());
        }
        let files: Vec<String> = self
            .conflicts
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        anyhow::bail!(
            "your edits and {change} overlap in {}; nothing was written (re-run with --write-conflicts to resolve them by hand)",
            files.join(", ")
        )
    }

    /// Names each file written with conflict markers, on stderr.
    pub fn report_conflicts(&self) {
        for rel in &self.conflicts {
            eprintln!("conflict: {} (resolve the <<<<<<< markers)", rel.display());
        }
    }
}

/// Plans the three-way merge of the project at `root` onto what the current
/// templates produce for its PROJECT.
pub fn plan_update(root: &Path, project: &Project) -> Result<(Plan, Update)> {
    let base_dir = root.join(BASE_DIR);
    if !base_dir.is_dir() {
        anyhow::bail!(
            "{} has no record of its pristine scaffold ({BASE_DIR}); it was made by a kubeforge without `alpha update` support",
            root.display()
        );
    }
    let base = read_tree(&base_dir, |_| true)?;
    let new = pristine_tree(project)?;
    let mut plan = Plan::new(root);
    let mut update = Update::default();
    let paths: BTreeSet<&PathBuf> = base.keys().chain(new.keys()).collect();
    for rel in paths {
        let ours = std::fs::read_to_string(root.join(rel)).ok();
        match (base.get(rel), new.get(rel), ours) {
            (_, None, Some(_)) => update.no_longer_scaffolded.push(rel.clone()),
            (_, None, None) => {}
            // The user deleted a scaffolded file: respect that.
            (Some(_), Some(_), None) => {}
            (None, Some(theirs), None) => plan.create(rel, theirs.clone())?,
            (base_text, Some(theirs), Some(ours)) => {
                let ancestor = base_text.map(String::as_str).unwrap_or("");
                match diffy::merge(ancestor, &ours, theirs) {
                    Ok(merged) => plan.update(rel, merged)?,
                    Err(with_markers) => {
                        update.conflicts.push(rel.clone());
                        plan.update(rel, with_markers)?;
                    }
                }
            }
        }
    }
    plan.update(project::FILE_NAME, project.render()?)?;
    record_base(&mut plan, project)?;
    Ok((plan, update))
}

#[cfg(test)]
mod tests {
    #[test]
    fn merge_keeps_user_edits_and_takes_scaffold_changes() {
        let base = "a\nb\nc\n";
        let ours = "a\nB (user)\nc\n";
        let theirs = "a\nb\nc\nd (scaffold)\n";
        assert_eq!(
            diffy::merge(base, ours, theirs).unwrap(),
            "a\nB (user)\nc\nd (scaffold)\n"
        );
    }
}
