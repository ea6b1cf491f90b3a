//! examples/myapp-operator: kept in step with the templates, and tested.
//!
//! The example is what `kubeforge init` + `create api` produce plus
//! hand-written logic. `regen-example` replays the scaffold with the current
//! templates and merges the hand-written parts back in, with the same
//! three-way merge users get from `kubeforge alpha update`; `--check` does
//! it on a copy and fails if the committed example differs.

use anyhow::{Context as _, Result, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{command, kubeforge_binary, root, scratch_dir, shared_target_dir, step, target_dir};

pub fn dir() -> PathBuf {
    root().join("examples/myapp-operator")
}

/// Replays the scaffold onto `project` and regenerates its manifests,
/// building into `target_dir`.
fn regenerate(kubeforge: &Path, project: &Path, target_dir: &Path) -> Result<()> {
    let kubeforge_in = |kubeforge: &Path, project: &Path, args: &[&str]| {
        let mut cmd = command(kubeforge);
        cmd.args(args)
            .current_dir(project)
            .env("CARGO_TARGET_DIR", target_dir);
        cmd
    };
    if !project.join("PROJECT").exists() {
        std::fs::create_dir_all(project)?;
        step(
            "kubeforge init",
            &mut kubeforge_in(
                kubeforge,
                project,
                &["init", "--domain", "example.com", "--project-name", "myapp"],
            ),
        )?;
        step(
            "kubeforge create api",
            &mut kubeforge_in(kubeforge, project, &crate::CREATE_MYAPP),
        )?;
        std::fs::copy(root().join("Cargo.lock"), project.join("Cargo.lock"))?;
    } else {
        step(
            "kubeforge alpha update",
            &mut kubeforge_in(kubeforge, project, &["alpha", "update"]),
        )?;
    }
    step(
        "kubeforge manifests",
        &mut kubeforge_in(kubeforge, project, &["manifests"]),
    )
}

pub fn regen(check: bool) -> Result<()> {
    let kubeforge = kubeforge_binary()?;
    if !check {
        return regenerate(&kubeforge, &dir(), &shared_target_dir()?);
    }
    // A copy at the same depth below the root, so the example's relative
    // path dependencies resolve the same way.
    let copy = scratch_dir().join("myapp-operator-regen");
    if copy.exists() {
        std::fs::remove_dir_all(&copy)?;
    }
    copy_tree(&dir(), &copy)?;
    // Its own target directory: the copy has the example's package names
    // and paths, and Cargo would take one's build for the other's.
    regenerate(&kubeforge, &copy, &target_dir()?.join("regen"))?;
    let before = files(&dir())?;
    let after = files(&copy)?;
    let differing: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|rel| before.get(*rel) != after.get(*rel))
        .map(|rel| rel.display().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !differing.is_empty() {
        bail!(
            "examples/myapp-operator is out of date with the templates ({}); run `cargo xtask regen-example` and commit the result",
            differing.join(", ")
        );
    }
    eprintln!("examples/myapp-operator matches the templates");
    Ok(())
}

/// Everything CI checks about the example: it is what the templates give,
/// and it is clean and its tests pass against a real API server.
pub fn check(assets: &Path) -> Result<()> {
    regen(true)?;
    crate::lint_and_test("example", &dir(), Some(&shared_target_dir()?), assets)
}

/// Files under `dir` except build output, path -> bytes.
fn files(dir: &Path) -> Result<BTreeMap<PathBuf, Vec<u8>>> {
    let mut out = BTreeMap::new();
    let walk = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .filter_entry(|entry| !(entry.depth() == 1 && entry.file_name() == "target"));
    for entry in walk {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        if !entry.file_type().is_dir() {
            let rel = entry.path().strip_prefix(dir)?.to_path_buf();
            out.insert(rel, std::fs::read(entry.path())?);
        }
    }
    Ok(out)
}

/// Copies a project without its build output.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for (rel, bytes) in files(from)? {
        let dest = to.join(&rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&dest, bytes).with_context(|| format!("writing {}", dest.display()))?;
    }
    Ok(())
}
