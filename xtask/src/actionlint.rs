//! `cargo xtask actionlint`: the GitHub Actions workflows `kubeforge init`
//! scaffolds (`.github/workflows/` and the `setup-kubeforge` action they
//! use), checked with [actionlint](https://github.com/rhysd/actionlint).
//!
//! Those workflows cannot run here (no GitHub runner, no kind cluster), so
//! CI checks what can be checked without running them: YAML structure,
//! expression syntax and types, step references, the local action's
//! metadata and inputs, the inputs of actions actionlint knows (by major
//! tag: exact pins such as `actions/cache@v5.0.5` are not in its table), and,
//! when `shellcheck` is on PATH, the workflows' `run:` scripts (not the
//! local action's, which actionlint does not lint).
//! Two projects are scaffolded with the CLI built from this checkout, one
//! with `init` alone and one with `init` + `create api`, and any finding in
//! either fails.
//!
//! actionlint is a Go module: it is installed once per machine with
//! `go install` into `${XDG_CACHE_HOME:-~/.cache}/kubeforge/actionlint/<version>/bin`,
//! outside the repository, like the Kubebuilder tools of
//! `cargo xtask bench memory --kubebuilder`, staged and renamed into place so an interrupted
//! install leaves nothing that looks finished.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, bail};

/// The actionlint release the workflows are checked with.
pub const ACTIONLINT_VERSION: &str = "v1.7.12";

/// The workflows every scaffolded project must have, as Kubebuilder's.
const WORKFLOWS: [&str; 3] = ["lint.yml", "test.yml", "test-e2e.yml"];

/// Scaffolds the projects and runs actionlint on their workflows.
pub fn run() -> Result<()> {
    let actionlint = install()?;
    let kubeforge = crate::kubeforge_binary()?;
    let scratch = tempfile::Builder::new()
        .prefix("kubeforge-actionlint-")
        .tempdir()
        .context("creating a scratch directory for the scaffolded projects")?;
    let projects: [(&str, &[&[&str]]); 2] =
        [("init-only", &[]), ("with-api", &[&crate::CREATE_MYAPP])];
    for (name, commands) in projects {
        let project = scratch.path().join(name);
        std::fs::create_dir_all(&project)
            .with_context(|| format!("creating {}", project.display()))?;
        let init: &[&str] = &["init", "--domain", "example.com"];
        for args in std::iter::once(init).chain(commands.iter().copied()) {
            crate::step(
                &format!("{name}: kubeforge {}", args.join(" ")),
                Command::new(&kubeforge)
                    .args(args)
                    .current_dir(&project)
                    .stdin(Stdio::null()),
            )?;
        }
        // actionlint finds the repository root by its `.git`, and only
        // through it the local action the workflows use
        // (`./.github/actions/setup-kubeforge`), whose metadata and inputs
        // it then checks too; without one it silently skips that action.
        crate::step(
            &format!("{name}: git init"),
            Command::new("git")
                .args(["init", "--quiet"])
                .current_dir(&project)
                .stdin(Stdio::null()),
        )?;
        let files = workflow_files(&project)?;
        crate::step(
            &format!("{name}: actionlint {ACTIONLINT_VERSION} on .github/workflows"),
            Command::new(&actionlint)
                .args(&files)
                .current_dir(&project)
                .stdin(Stdio::null()),
        )?;
    }
    Ok(())
}

/// The scaffolded workflow files, relative to `project`: every one of
/// [`WORKFLOWS`] must be there, so a template that stopped being written
/// fails here instead of passing with less to check.
fn workflow_files(project: &Path) -> Result<Vec<PathBuf>> {
    let dir = Path::new(".github").join("workflows");
    let mut files = Vec::new();
    for name in WORKFLOWS {
        let file = dir.join(name);
        if !project.join(&file).is_file() {
            bail!(
                "kubeforge init wrote no {} in {}; it scaffolds {}",
                file.display(),
                project.display(),
                WORKFLOWS.join(", ")
            );
        }
        files.push(file);
    }
    Ok(files)
}

/// actionlint, installed once per machine with `go install` and reused
/// when present.
fn install() -> Result<PathBuf> {
    let go = crate::go_tools::go("actionlint is installed with `go install` (install Go)")?;
    crate::go_tools::install(
        &go,
        &crate::go_tools::bin_dir("actionlint", ACTIONLINT_VERSION)?,
        "actionlint",
        &format!("github.com/rhysd/actionlint/cmd/actionlint@{ACTIONLINT_VERSION}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workflow_must_be_scaffolded() {
        let project = tempfile::tempdir().unwrap();
        let workflows = project.path().join(".github/workflows");
        std::fs::create_dir_all(&workflows).unwrap();
        for name in ["lint.yml", "test.yml"] {
            std::fs::write(workflows.join(name), "name: x\n").unwrap();
        }
        let err = workflow_files(project.path()).unwrap_err().to_string();
        assert!(err.contains("test-e2e.yml"), "{err}");
        std::fs::write(workflows.join("test-e2e.yml"), "name: x\n").unwrap();
        let files = workflow_files(project.path()).unwrap();
        assert_eq!(
            files,
            WORKFLOWS
                .iter()
                .map(|name| Path::new(".github/workflows").join(name))
                .collect::<Vec<_>>()
        );
    }
}
