//! Where the control-plane binaries (etcd, kube-apiserver, kubectl) live, and how to get them.
//!
//! The layout follows setup-envtest's store, so a store filled by `setup-envtest use 1.37.2`
//! and one filled by `kubeforge envtest` are interchangeable, and `KUBEBUILDER_ASSETS`
//! means the same as it does for controller-runtime's envtest.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Error;

/// The Kubernetes version the embedded Go module pins and the store directory is named after.
///
/// Tests that assert on server behaviour can compare against it, and it tells users which
/// `setup-envtest use` version fills the same store.
pub const KUBERNETES_VERSION: &str = "1.37.2";

/// The Go module that builds the binaries; embedded so `kubeforge envtest` needs no checkout.
const GO_MOD: &str = include_str!("../go/go.mod");
const GO_SUM: &str = include_str!("../go/go.sum");

/// The three file names, in the order they are checked.
const BINARIES: [&str; 3] = ["kube-apiserver", "etcd", "kubectl"];

/// Packages passed to `go build`; the first one's binary is named `server` by Go.
const GO_PACKAGES: [&str; 3] = [
    "go.etcd.io/etcd/server/v3",
    "k8s.io/kubernetes/cmd/kube-apiserver",
    "k8s.io/kubernetes/cmd/kubectl",
];

/// Paths of the three control-plane binaries, as found by [`find`] or given to
/// [`crate::EnvironmentBuilder::assets`] to test a particular build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assets {
    /// The kube-apiserver binary.
    pub kube_apiserver: PathBuf,
    /// The etcd binary.
    pub etcd: PathBuf,
    /// The kubectl binary (not needed by [`crate::Environment`], handy for users).
    pub kubectl: PathBuf,
}

/// `GOOS` spelling of the current OS, as used in store directory names.
fn go_os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// `GOARCH` spelling of the current architecture.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The store directory for [`KUBERNETES_VERSION`]:
/// `${XDG_DATA_HOME:-$HOME/.local/share}/kubebuilder-envtest/k8s/1.37.2-<os>-<arch>`.
///
/// It is setup-envtest's own layout, so binaries installed by either tool serve both, and
/// they live outside any repository (one copy per machine, not per checkout).
pub fn store_dir() -> Result<PathBuf, Error> {
    let data_home = non_empty_env("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty_env("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .ok_or(Error::NoStoreDir)?;
    Ok(data_home
        .join("kubebuilder-envtest")
        .join("k8s")
        .join(format!("{KUBERNETES_VERSION}-{}-{}", go_os(), go_arch())))
}

fn non_empty_env(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

fn env_var_for(binary: &str) -> &'static str {
    match binary {
        "kube-apiserver" => "TEST_ASSET_KUBE_APISERVER",
        "etcd" => "TEST_ASSET_ETCD",
        _ => "TEST_ASSET_KUBECTL",
    }
}

fn binary_name(binary: &str) -> &'static str {
    match binary {
        "kube-apiserver" => "kube-apiserver",
        "etcd" => "etcd",
        _ => "kubectl",
    }
}

/// Finds one binary: `TEST_ASSET_*`, then `$KUBEBUILDER_ASSETS/<name>`, then the store.
///
/// An explicitly named location that does not hold the binary is an error rather than a
/// fall-through, so a typo in `KUBEBUILDER_ASSETS` is not silently masked by the store.
fn find_one(binary: &str) -> Result<PathBuf, Error> {
    let name = binary_name(binary);
    let var = env_var_for(binary);
    let candidate = if let Some(path) = non_empty_env(var) {
        (PathBuf::from(path), format!("{var} is set"))
    } else if let Some(dir) = non_empty_env("KUBEBUILDER_ASSETS") {
        (
            PathBuf::from(dir).join(name),
            "KUBEBUILDER_ASSETS is set".to_string(),
        )
    } else {
        (
            store_dir()?.join(name),
            "looked in the envtest store".into(),
        )
    };
    let (path, why) = candidate;
    if is_file(&path) {
        Ok(path)
    } else {
        Err(Error::AssetsMissing {
            binary: name,
            searched: format!("{why}, no file at {}", path.display()),
        })
    }
}

fn is_file(path: &Path) -> bool {
    path.metadata().map(|m| m.is_file()).unwrap_or(false)
}

fn has_all(dir: &Path) -> bool {
    BINARIES.iter().all(|b| is_file(&dir.join(b)))
}

/// Locates etcd, kube-apiserver and kubectl.
///
/// Lookup order per binary: `TEST_ASSET_KUBE_APISERVER` / `TEST_ASSET_ETCD` /
/// `TEST_ASSET_KUBECTL`, then `$KUBEBUILDER_ASSETS/<name>` (when set, the store is not
/// consulted), then the store ([`store_dir`]).
pub fn find() -> Result<Assets, Error> {
    Ok(Assets {
        kube_apiserver: find_one("kube-apiserver")?,
        etcd: find_one("etcd")?,
        kubectl: find_one("kubectl")?,
    })
}

/// Makes sure the binaries exist and returns the directory holding them.
///
/// Returns `$KUBEBUILDER_ASSETS` if it holds all three, else the store directory if it is
/// complete, else builds them with Go from the embedded module into the store. The build
/// goes into a temporary directory next to the store and is renamed into place, so an
/// interrupted or failed build never leaves a half-filled store that [`find`] would accept.
/// `log` receives progress lines (including `go build`'s own output).
pub fn ensure(mut log: impl FnMut(&str)) -> Result<PathBuf, Error> {
    if let Some(dir) = non_empty_env("KUBEBUILDER_ASSETS").map(PathBuf::from)
        && has_all(&dir)
    {
        return Ok(dir);
    }
    let store = store_dir()?;
    if has_all(&store) {
        return Ok(store);
    }
    let go = find_in_path("go").ok_or(Error::GoMissing)?;
    let parent = store
        .parent()
        .ok_or_else(|| Error::Start(format!("store path {} has no parent", store.display())))?;
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;

    let module = tempfile::Builder::new()
        .prefix("kubeforge-envtest-go-")
        .tempdir()
        .map_err(|e| Error::io("creating a temporary Go module directory", e))?;
    std::fs::write(module.path().join("go.mod"), GO_MOD)
        .map_err(|e| Error::io("writing go.mod", e))?;
    std::fs::write(module.path().join("go.sum"), GO_SUM)
        .map_err(|e| Error::io("writing go.sum", e))?;
    // Same filesystem as the store, so the final rename is atomic.
    let out = tempfile::Builder::new()
        .prefix(&format!(".{KUBERNETES_VERSION}-build-"))
        .tempdir_in(parent)
        .map_err(|e| {
            Error::io(
                format!("creating a build directory in {}", parent.display()),
                e,
            )
        })?;

    // Go's build cache for these three binaries is about 3 GB that nothing
    // reuses once the store is filled, so unless the user chose a GOCACHE,
    // the build gets a temporary one, deleted with the module directory.
    let go_cache = match non_empty_env("GOCACHE") {
        Some(cache) => PathBuf::from(cache),
        None => module.path().join("gocache"),
    };

    log(&format!(
        "building kube-apiserver, etcd and kubectl {KUBERNETES_VERSION} with Go (several minutes the first time)"
    ));
    run_go_build(&go, module.path(), &go_cache, out.path(), &mut log)?;

    let server = out.path().join("server");
    if is_file(&server) {
        std::fs::rename(&server, out.path().join("etcd"))
            .map_err(|e| Error::io("renaming the etcd binary", e))?;
    }
    if !has_all(out.path()) {
        return Err(Error::GoBuild {
            status: "success".into(),
            output: format!(
                "expected {} in {}",
                BINARIES.join(", "),
                out.path().display()
            ),
        });
    }
    // A store dir without all three binaries (e.g. partly copied by hand) is replaced.
    if store.exists() && !has_all(&store) {
        std::fs::remove_dir_all(&store)
            .map_err(|e| Error::io(format!("removing incomplete {}", store.display()), e))?;
    }
    let built = out.keep();
    if let Err(e) = std::fs::rename(&built, &store) {
        let _ = std::fs::remove_dir_all(&built);
        // Another process may have finished the same build first; that is success.
        if !has_all(&store) {
            return Err(Error::io(
                format!("moving binaries to {}", store.display()),
                e,
            ));
        }
    }
    log(&format!(
        "control-plane binaries ready in {}",
        store.display()
    ));
    Ok(store)
}

fn run_go_build(
    go: &Path,
    module: &Path,
    go_cache: &Path,
    out: &Path,
    log: &mut impl FnMut(&str),
) -> Result<(), Error> {
    let v = KUBERNETES_VERSION;
    let (major, minor) = {
        let mut parts = v.split('.');
        (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        )
    };
    // Without these, /version reports v0.0.0-master and clients mis-detect the server.
    let ldflags = format!(
        "-s -w -X k8s.io/component-base/version.gitVersion=v{v} -X k8s.io/component-base/version.gitMajor={major} -X k8s.io/component-base/version.gitMinor={minor} -X k8s.io/client-go/pkg/version.gitVersion=v{v} -X k8s.io/client-go/pkg/version.gitMajor={major} -X k8s.io/client-go/pkg/version.gitMinor={minor}"
    );
    let mut out_arg = out.as_os_str().to_owned();
    out_arg.push("/");
    let mut child = Command::new(go)
        .current_dir(module)
        .args(["build", "-trimpath", "-tags", "selinux,notest", "-ldflags"])
        .arg(ldflags)
        .arg("-o")
        .arg(out_arg)
        .args(GO_PACKAGES)
        .env("CGO_ENABLED", "0")
        .env("GOWORK", "off")
        .env("GOCACHE", go_cache)
        .env("GOFLAGS", "-mod=readonly")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io(format!("running {}", go.display()), e))?;
    let mut tail: Vec<String> = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let line = line.map_err(|e| Error::io("reading go build output", e))?;
            log(&line);
            tail.push(line);
            if tail.len() > 15 {
                tail.remove(0);
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::io("waiting for go build", e))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::GoBuild {
            status: status.to_string(),
            output: tail.join(" | "),
        })
    }
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_file(candidate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_dir_uses_go_platform_names() {
        let dir = store_dir().expect("HOME is set in tests");
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert!(name.starts_with("1.37.2-"), "{name}");
        assert!(
            !name.contains("x86_64") && !name.contains("aarch64"),
            "{name}"
        );
        assert!(dir.ends_with(Path::new("kubebuilder-envtest/k8s").join(name)));
    }

    #[test]
    fn embedded_module_pins_the_version() {
        assert!(GO_MOD.contains("k8s.io/kubernetes v1.37.2"));
        assert!(!GO_SUM.is_empty());
    }

    #[test]
    fn missing_binary_message_is_one_line_and_actionable() {
        let err = Error::AssetsMissing {
            binary: "etcd",
            searched: "looked in the envtest store, no file at /x/etcd".into(),
        }
        .to_string();
        assert!(!err.contains('\n'));
        assert!(err.contains("kubeforge envtest") && err.contains("KUBEBUILDER_ASSETS"));
    }
}
