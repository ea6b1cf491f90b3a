//! Go tools the checks and benchmarks use (Kubebuilder, controller-gen,
//! actionlint), installed once per machine with `go install` from the Go
//! module proxy into `${XDG_CACHE_HOME:-~/.cache}/kubeforge/<group>/<version>/bin`:
//! outside the repository, so no binary is ever committed, and reused when
//! present.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result};

/// Finds `go` on PATH; `why` ends the error when it is missing (what needs
/// Go, and what to do instead).
pub fn go(why: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("go"))
        .find(|candidate| candidate.is_file())
        .with_context(|| format!("`go` is not on PATH; {why}"))
}

/// `$XDG_CACHE_HOME`, or `~/.cache`.
pub fn cache_home() -> Result<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    non_empty("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .context("neither XDG_CACHE_HOME nor HOME is set; one is needed for the Go tool cache")
}

/// The directory a group of tools at one version is installed into.
pub fn bin_dir(group: &str, version: &str) -> Result<PathBuf> {
    Ok(cache_home()?
        .join("kubeforge")
        .join(group)
        .join(version)
        .join("bin"))
}

/// `dir/name`, installed with `go install <module>` unless it is there.
/// It is built into a staging directory and renamed into place, so an
/// interrupted install leaves nothing that looks finished.
pub fn install(go: &Path, dir: &Path, name: &str, module: &str) -> Result<PathBuf> {
    let binary = dir.join(name);
    if binary.is_file() {
        return Ok(binary);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".installing-")
        .tempdir_in(dir)
        .context("creating a staging directory for go install")?;
    // A throwaway Go build cache unless the user chose one: nothing else
    // reuses it.
    let cache = match std::env::var_os("GOCACHE").filter(|v| !v.is_empty()) {
        Some(cache) => PathBuf::from(cache),
        None => staging.path().join("gocache"),
    };
    crate::step(
        &format!("go install {module}"),
        Command::new(go)
            .args(["install", module])
            .env("GOBIN", staging.path())
            .env("GOCACHE", &cache)
            .env("GOWORK", "off")
            .env("CGO_ENABLED", "0")
            .current_dir(staging.path())
            .stdin(Stdio::null()),
    )?;
    std::fs::rename(staging.path().join(name), &binary)
        .with_context(|| format!("moving {name} into {}", dir.display()))?;
    Ok(binary)
}
