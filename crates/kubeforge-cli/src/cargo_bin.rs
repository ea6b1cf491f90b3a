//! Building one binary of a generated project and finding its executable.
//!
//! Cargo copies ("uplifts") each binary to `<target>/debug/<name>`. When
//! several projects share a target directory (CARGO_TARGET_DIR, or a global
//! `build.target-dir`), a binary that is already fresh is not copied again,
//! so that path can hold another project's `manager` or `crdgen`. So after a
//! build that reports the binary fresh, the copy is removed and the build
//! repeated, which makes Cargo copy this project's binary back.
//!
//! The executable's path is read from Cargo's JSON messages (with the
//! `cargo_metadata` crate), never assumed to be under `target/`.

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
    executable_in(&output.stdout, bin)
        .with_context(|| format!("cargo built {package} but reported no `{bin}` executable"))
}

/// The executable cargo reported for the target `bin` in its JSON messages
/// (`--message-format=json*` output), and whether it was fresh. The path is
/// cargo's own, so it is right wherever the target directory is
/// (CARGO_TARGET_DIR, `build.target-dir`, `--target`). Lines that are not
/// messages are skipped.
fn executable_in(stdout: &[u8], bin: &str) -> Option<(PathBuf, bool)> {
    cargo_metadata::Message::parse_stream(stdout)
        .filter_map(Result::ok)
        .find_map(|message| match message {
            cargo_metadata::Message::CompilerArtifact(artifact) if artifact.target.name == bin => {
                let fresh = artifact.fresh;
                artifact
                    .executable
                    .map(|exe| (exe.into_std_path_buf(), fresh))
            }
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compiler-artifact message as cargo prints it (trimmed to the
    /// fields cargo always writes).
    fn artifact(name: &str, kind: &str, executable: Option<&str>, fresh: bool) -> String {
        let executable = executable.map_or("null".to_string(), |e| format!("\"{e}\""));
        format!(
            r#"{{"reason":"compiler-artifact","package_id":"path+file:///p/api#0.1.0","manifest_path":"/p/api/Cargo.toml","target":{{"kind":["{kind}"],"crate_types":["{kind}"],"name":"{name}","src_path":"/p/api/src/main.rs","edition":"2024","doc":true,"doctest":false,"test":true}},"profile":{{"opt_level":"0","debuginfo":0,"debug_assertions":true,"overflow_checks":true,"test":false}},"features":[],"filenames":["/t/debug/{name}"],"executable":{executable},"fresh":{fresh}}}"#
        )
    }

    #[test]
    fn finds_the_named_binary_and_its_freshness() {
        let stdout = [
            "not json".to_string(),
            artifact("api", "lib", None, true),
            artifact("crdgen", "bin", Some("/elsewhere/debug/crdgen"), true),
            artifact("manager", "bin", Some("/elsewhere/debug/manager"), false),
            r#"{"reason":"build-finished","success":true}"#.to_string(),
        ]
        .join("\n");
        assert_eq!(
            executable_in(stdout.as_bytes(), "crdgen"),
            Some((PathBuf::from("/elsewhere/debug/crdgen"), true))
        );
        assert_eq!(
            executable_in(stdout.as_bytes(), "manager"),
            Some((PathBuf::from("/elsewhere/debug/manager"), false))
        );
        assert_eq!(executable_in(stdout.as_bytes(), "api"), None);
        assert_eq!(executable_in(stdout.as_bytes(), "missing"), None);
    }
}
