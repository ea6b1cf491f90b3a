//! Kubebuilder's scaffolded manager, built the way a Kubebuilder user gets
//! it, for `cargo xtask bench memory --kubebuilder`.
//!
//! docs/memory.md's targets are relative to Kubebuilder's scaffold, so the
//! comparison is only fair when both managers run on the same machine, the
//! same control plane binaries and the same driver. This module produces
//! the Go side: `kubebuilder init` + `create api` in a scratch directory,
//! the CRD from controller-gen (`make manifests`), and `go build ./cmd`.
//!
//! Only the Go module proxy is needed (no github.com): the two tools are
//! installed with `go install module@version`, and `create api` runs with
//! `--make=false` so that it does not `go install` controller-gen a second
//! time into the project; the `make generate` and `make manifests` steps
//! are run here with the cached controller-gen instead, with the arguments
//! the scaffolded Makefile uses.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result};

/// The Kubebuilder release compared against.
pub const KUBEBUILDER_VERSION: &str = "v4.16.0";

/// controller-tools as Kubebuilder v4.16.0's scaffolded Makefile pins it
/// (`CONTROLLER_TOOLS_VERSION`, from `ControllerToolsVersion` in its
/// pkg/plugins/golang/v4/scaffolds/init.go).
pub const CONTROLLER_TOOLS_VERSION: &str = "v0.22.0";

/// The built manager and what the driver needs with it.
pub struct Scaffold {
    /// The manager binary (`go build -o … ./cmd`).
    pub manager: PathBuf,
    /// `config/crd/bases`, as `make manifests` writes it.
    pub crd_dir: PathBuf,
    /// The controller-runtime version the scaffold's go.mod requires, for
    /// the report.
    pub controller_runtime: String,
}

/// Scaffolds, generates and builds Kubebuilder's manager under `scratch`.
/// The Go build cache is temporary unless the user set GOCACHE: a
/// controller-runtime manager's cache is over 1 GB that nothing reuses.
pub fn build(scratch: &Path) -> Result<Scaffold> {
    let go = crate::go_tools::go(
        "--kubebuilder builds Kubebuilder's scaffold with Go (install Go, or leave out --kubebuilder)",
    )?;
    let tools = tools(&go)?;
    let project = scratch.join("kubebuilder").join("memtest");
    std::fs::create_dir_all(&project).with_context(|| format!("creating {}", project.display()))?;
    let go_cache = match std::env::var_os("GOCACHE").filter(|v| !v.is_empty()) {
        Some(cache) => GoCache::User(PathBuf::from(cache)),
        None => GoCache::Temporary(
            tempfile::Builder::new()
                .prefix("kubeforge-kubebuilder-gocache-")
                .tempdir()
                .context("creating a temporary Go build cache")?,
        ),
    };
    // Kubebuilder and controller-gen run `go` themselves: the same one, and
    // the same cache.
    let path = path_with(&tools.dir)?;
    let run = |what: &str, program: &Path, args: &[&str]| {
        crate::step(
            what,
            Command::new(program)
                .args(args)
                .current_dir(&project)
                .env("PATH", &path)
                .env("GOCACHE", go_cache.path())
                .env("GOWORK", "off")
                .env("CGO_ENABLED", "0")
                .stdin(Stdio::null()),
        )
    };
    run(
        "kubebuilder init",
        &tools.kubebuilder,
        &[
            "init",
            "--domain",
            "example.com",
            "--repo",
            "example.com/memtest",
        ],
    )?;
    run(
        "kubebuilder create api",
        &tools.kubebuilder,
        &[
            &crate::CREATE_MYAPP[..],
            &["--resource", "--controller", "--make=false"],
        ]
        .concat(),
    )?;
    run(
        "controller-gen object (make generate)",
        &tools.controller_gen,
        &["object:headerFile=hack/boilerplate.go.txt", "paths=./..."],
    )?;
    run(
        "controller-gen rbac crd webhook (make manifests)",
        &tools.controller_gen,
        &[
            "rbac:roleName=manager-role",
            "crd",
            "webhook",
            "paths=./...",
            "output:crd:artifacts:config=config/crd/bases",
        ],
    )?;
    let manager = scratch.join("kb-manager");
    let manager_arg = manager
        .to_str()
        .context("the scratch directory's path is not UTF-8")?;
    run(
        "go build the Kubebuilder manager",
        &go,
        &["build", "-o", manager_arg, "./cmd"],
    )?;
    drop(go_cache);
    let go_mod = std::fs::read_to_string(project.join("go.mod"))
        .context("reading the Kubebuilder scaffold's go.mod")?;
    let controller_runtime = required_version(&go_mod, "sigs.k8s.io/controller-runtime")
        .unwrap_or_else(|| "unknown".into());
    Ok(Scaffold {
        manager,
        crd_dir: project.join("config/crd/bases"),
        controller_runtime,
    })
}

/// The Go build cache for one build: the user's, or a temporary one that is
/// deleted when this is dropped.
enum GoCache {
    User(PathBuf),
    Temporary(tempfile::TempDir),
}

impl GoCache {
    fn path(&self) -> &Path {
        match self {
            GoCache::User(path) => path,
            GoCache::Temporary(dir) => dir.path(),
        }
    }
}

/// The installed tools and their directory.
pub struct Tools {
    pub dir: PathBuf,
    pub kubebuilder: PathBuf,
    pub controller_gen: PathBuf,
}

/// `kubebuilder` and `controller-gen`, installed once per machine with
/// `go install` into `${XDG_CACHE_HOME:-~/.cache}/kubeforge/kubebuilder/<version>/bin`,
/// outside the repository so no binary is ever committed, and reused when
/// present. Each is installed into a staging directory and renamed into
/// place, so an interrupted install leaves nothing that looks finished.
pub fn tools(go: &Path) -> Result<Tools> {
    let dir = crate::go_tools::bin_dir("kubebuilder", KUBEBUILDER_VERSION)?;
    let kubebuilder = crate::go_tools::install(
        go,
        &dir,
        "kubebuilder",
        &format!("sigs.k8s.io/kubebuilder/v4@{KUBEBUILDER_VERSION}"),
    )?;
    let controller_gen = crate::go_tools::install(
        go,
        &dir,
        "controller-gen",
        &format!("sigs.k8s.io/controller-tools/cmd/controller-gen@{CONTROLLER_TOOLS_VERSION}"),
    )?;
    Ok(Tools {
        kubebuilder,
        controller_gen,
        dir,
    })
}

/// PATH with the tools' directory first. Kubebuilder runs `go get` and
/// `go mod tidy`, and controller-gen loads packages through `go list`, so
/// `go` must stay on it (it is: `go_tools::go` found it there).
pub fn path_with(tools: &Path) -> Result<OsString> {
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(tools.to_path_buf()).chain(std::env::split_paths(&inherited));
    std::env::join_paths(dirs).context("a PATH entry contains `:`")
}

/// The version go.mod requires of `module` (`module vX.Y.Z` on a line of
/// its own or inside a `require (...)` block).
pub fn required_version(go_mod: &str, module: &str) -> Option<String> {
    go_mod.lines().find_map(|line| {
        let line = line.trim().strip_prefix("require ").unwrap_or(line.trim());
        let mut words = line.split_whitespace();
        (words.next()? == module)
            .then(|| words.next().map(str::to_owned))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_controller_runtime_from_go_mod() {
        let go_mod = "module example.com/memtest\n\ngo 1.25.0\n\nrequire (\n\
                      \tgithub.com/onsi/ginkgo/v2 v2.27.2\n\
                      \tsigs.k8s.io/controller-runtime v0.25.0\n)\n\
                      require sigs.k8s.io/yaml v1.6.0 // indirect\n";
        assert_eq!(
            required_version(go_mod, "sigs.k8s.io/controller-runtime").as_deref(),
            Some("v0.25.0")
        );
        assert_eq!(
            required_version(go_mod, "sigs.k8s.io/yaml").as_deref(),
            Some("v1.6.0")
        );
        assert_eq!(required_version(go_mod, "k8s.io/api"), None);
    }
}
