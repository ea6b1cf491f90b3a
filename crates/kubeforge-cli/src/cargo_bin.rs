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
//!
//! Cargo resolves features for the packages a command selects, so the API
//! crate's `crdgen` built alone gets a smaller feature set than the
//! manager (serde without `default` features, syn without `visit`), and
//! serde and everything above it (k8s-openapi, kube, kubeforge) are built
//! once for each. `kubeforge run`, which builds the manager right after
//! `crdgen`, selects the manager's package too ([`Packages::with`]), so
//! both resolve the manager's features (which `cargo test` also uses) and
//! share one build. `kubeforge manifests` alone builds the API crate alone:
//! fewer crates to compile the first time and to check after every edit
//! (0.9 s against 1.5 s for the example after a one-line types edit).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, bail};

/// The packages a build selects: the one whose binary it builds, and
/// others whose features it resolves with (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packages {
    /// The package that has the binary.
    pub package: String,
    /// Packages selected only for feature resolution; only their members of
    /// this workspace are passed (a project without a manager builds alone).
    pub with: Vec<String>,
}

impl Packages {
    /// `package` alone.
    pub fn one(package: impl Into<String>) -> Self {
        Packages {
            package: package.into(),
            with: Vec::new(),
        }
    }

    /// `package`, resolved together with `other` when `root` has it (its
    /// directory named as the package without the project prefix, e.g.
    /// `manager/` for `myapp-manager`, as kubeforge lays projects out).
    pub fn with(mut self, root: &Path, other: impl Into<String>) -> Self {
        let other = other.into();
        let dir = other.rsplit('-').next().unwrap_or(&other);
        if root.join(dir).join("Cargo.toml").is_file() {
            self.with.push(other);
        }
        self
    }

    fn args(&self) -> Vec<&str> {
        std::iter::once(&self.package)
            .chain(&self.with)
            .flat_map(|package| ["--package", package.as_str()])
            .collect()
    }
}

/// Builds `bin` of `packages.package` in the workspace at `root`; returns
/// the path of the executable that belongs to this project. Compiler output
/// goes to stderr as usual.
pub fn build(root: &Path, packages: &Packages, bin: &str, release: bool) -> Result<PathBuf> {
    let (executable, fresh) = build_once(root, packages, bin, release)?;
    if !fresh {
        return Ok(executable);
    }
    match std::fs::remove_file(&executable) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("removing {}", executable.display())),
    }
    Ok(build_once(root, packages, bin, release)?.0)
}

fn build_once(
    root: &Path,
    packages: &Packages,
    bin: &str,
    release: bool,
) -> Result<(PathBuf, bool)> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let package = &packages.package;
    let output = Command::new(&cargo)
        .arg("build")
        .args(release.then_some("--release"))
        .args(["--quiet", "--message-format=json-render-diagnostics"])
        .args(packages.args())
        .args(["--bin", bin])
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

    #[test]
    fn packages_resolve_with_the_manager_only_where_it_exists() {
        let root = tempfile::tempdir().unwrap();
        let crdgen = || Packages::one("shop-api").with(root.path(), "shop-manager");
        assert_eq!(crdgen().args(), ["--package", "shop-api"]);
        std::fs::create_dir(root.path().join("manager")).unwrap();
        std::fs::write(root.path().join("manager/Cargo.toml"), "").unwrap();
        assert_eq!(
            crdgen().args(),
            ["--package", "shop-api", "--package", "shop-manager"]
        );
    }

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
