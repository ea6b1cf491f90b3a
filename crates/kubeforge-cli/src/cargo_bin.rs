//! Building one binary of a generated project and finding its executable.
//!
//! Cargo copies ("uplifts") each binary to `<target>/debug/<name>`. When
//! several projects share a target directory (CARGO_TARGET_DIR, or a global
//! `build.target-dir`), a binary that is already fresh is not copied again,
//! so that path can hold another project's `manager` or `crdgen`. So after a
//! build that reports the binary fresh, the copy is removed and the build
//! repeated, which makes Cargo copy this project's binary back.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, bail};

/// Builds `bin` of `package` in the workspace at `root`; returns the path of
/// the executable that belongs to this project. Compiler output goes to
/// stderr as usual.
pub fn build(root: &Path, package: &str, bin: &str, release: bool) -> Result<PathBuf> {
    let (executable, fresh) = build_once(root, package, bin, release)?;
    if !fresh {
        return Ok(executable);
    }
    match std::fs::remove_file(&executable) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("removing {}", executable.display())),
    }
    Ok(build_once(root, package, bin, release)?.0)
}

fn build_once(root: &Path, package: &str, bin: &str, release: bool) -> Result<(PathBuf, bool)> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(&cargo)
        .arg("build")
        .args(release.then_some("--release"))
        .args([
            "--quiet",
            "--message-format=json-render-diagnostics",
            "--package",
            package,
            "--bin",
            bin,
        ])
        .current_dir(root)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", Path::new(&cargo).display()))?;
    if !output.status.success() {
        bail!("building {package} failed (cargo's output is above)");
    }
    #[derive(serde::Deserialize)]
    struct Message {
        reason: String,
        #[serde(default)]
        target: Option<Target>,
        #[serde(default)]
        executable: Option<PathBuf>,
        #[serde(default)]
        fresh: bool,
    }
    #[derive(serde::Deserialize)]
    struct Target {
        name: String,
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Message>(line).ok())
        .filter(|m| m.reason == "compiler-artifact")
        .filter(|m| m.target.as_ref().is_some_and(|t| t.name == bin))
        .find_map(|m| m.executable.map(|exe| (exe, m.fresh)))
        .with_context(|| format!("cargo built {package} but reported no `{bin}` executable"))
}
