//! Where the control-plane binaries (etcd, kube-apiserver, kubectl) live, and how to get them.
//!
//! The layout follows setup-envtest's store, so a store filled by `setup-envtest use 1.37.2`
//! and one filled by `kubeforge envtest` are interchangeable, and `KUBEBUILDER_ASSETS`
//! means the same as it does for controller-runtime's envtest.
//!
//! [`ensure`] fills the store by downloading the official envtest release archive (what
//! setup-envtest downloads), or by building the binaries from the Go
//! module embedded here when the download server cannot be reached or lacks the version.
//! [`EnsureOptions`] and the `KUBEFORGE_ENVTEST_*` environment variables choose the index,
//! the store and the source.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Error;

pub use crate::download::DEFAULT_INDEX_URL;

/// The Kubernetes version the embedded Go module pins and the store directory is named after.
///
/// Tests that assert on server behaviour can compare against it, and it tells users which
/// `setup-envtest use` version fills the same store.
pub const KUBERNETES_VERSION: &str = "1.37.2";

/// The Go module that builds the binaries; embedded so `kubeforge envtest` needs no checkout.
const GO_MOD: &str = include_str!("../go/go.mod");
const GO_SUM: &str = include_str!("../go/go.sum");

/// The three file names, in the order they are checked.
pub(crate) const BINARIES: [&str; 3] = ["kube-apiserver", "etcd", "kubectl"];

/// Overrides the index [`ensure`] downloads from (setup-envtest's `--index`), e.g. a mirror.
pub const INDEX_URL_ENV: &str = "KUBEFORGE_ENVTEST_INDEX_URL";

/// Overrides the store root (setup-envtest's `--bin-dir`): binaries then live in
/// `$KUBEFORGE_ENVTEST_BIN_DIR/k8s/<version>-<os>-<arch>`, for [`find`] and [`ensure`] alike.
pub const BIN_DIR_ENV: &str = "KUBEFORGE_ENVTEST_BIN_DIR";

/// Chooses where [`ensure`] gets missing binaries: `auto`, `download` or `go` ([`Source`]).
pub const SOURCE_ENV: &str = "KUBEFORGE_ENVTEST_SOURCE";

/// Where [`ensure`] gets the binaries when neither `KUBEBUILDER_ASSETS` nor the store has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// Download the release archive; build with Go if the server cannot be reached, answers
    /// with an error, or does not list this version. A corrupt download is still an error.
    #[default]
    Auto,
    /// Download only (no Go needed; fails when offline).
    Download,
    /// Build with Go only, never contacting the release index (for offline machines with a Go
    /// module cache or proxy).
    Go,
}

impl std::str::FromStr for Source {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "auto" => Ok(Source::Auto),
            "download" => Ok(Source::Download),
            "go" => Ok(Source::Go),
            other => Err(Error::Config(format!(
                "unknown envtest binary source `{other}`; expected auto, download or go"
            ))),
        }
    }
}

/// How [`ensure_with`] finds and fills the store. A field left `None` takes the matching
/// environment variable ([`INDEX_URL_ENV`], [`BIN_DIR_ENV`], [`SOURCE_ENV`]), then the default,
/// so [`find`] and [`ensure`] agree on the store without code changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnsureOptions {
    /// The release index (default [`DEFAULT_INDEX_URL`], setup-envtest's).
    pub index_url: Option<String>,
    /// The store root, as setup-envtest's `--bin-dir` (default
    /// `${XDG_DATA_HOME:-$HOME/.local/share}/kubebuilder-envtest`). Choosing one also means
    /// `KUBEBUILDER_ASSETS` is not consulted: an explicit store beats an inherited variable.
    pub bin_dir: Option<PathBuf>,
    /// Where missing binaries come from (default [`Source::Auto`]).
    pub source: Option<Source>,
}

impl EnsureOptions {
    fn resolved_index_url(&self) -> String {
        self.index_url
            .clone()
            .or_else(|| non_empty_env(INDEX_URL_ENV).map(|v| v.to_string_lossy().into_owned()))
            .unwrap_or_else(|| DEFAULT_INDEX_URL.to_string())
    }

    fn resolved_bin_dir(&self) -> Option<PathBuf> {
        self.bin_dir.clone().or_else(env_bin_dir)
    }

    fn resolved_source(&self) -> Result<Source, Error> {
        match (self.source, non_empty_env(SOURCE_ENV)) {
            (Some(source), _) => Ok(source),
            (None, Some(value)) => value
                .to_string_lossy()
                .parse()
                .map_err(|e| Error::Config(format!("{SOURCE_ENV}: {e}"))),
            (None, None) => Ok(Source::Auto),
        }
    }

    /// The store directory these options name.
    pub fn store_dir(&self) -> Result<PathBuf, Error> {
        match self.resolved_bin_dir() {
            Some(root) => Ok(store_dir_in(&root)),
            None => Ok(store_dir_in(&default_store_root()?)),
        }
    }
}

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
pub(crate) fn go_os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// `GOARCH` spelling of the current architecture.
pub(crate) fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The store directory for [`KUBERNETES_VERSION`]:
/// `${XDG_DATA_HOME:-$HOME/.local/share}/kubebuilder-envtest/k8s/1.37.2-<os>-<arch>`, or
/// `$KUBEFORGE_ENVTEST_BIN_DIR/k8s/1.37.2-<os>-<arch>` when that is set.
///
/// It is setup-envtest's own layout (its `store.DefaultStoreDir` on Linux, and `--bin-dir`),
/// so binaries installed by either tool serve both, and they live outside any repository
/// (one copy per machine, not per checkout).
pub fn store_dir() -> Result<PathBuf, Error> {
    EnsureOptions::default().store_dir()
}

/// The store directory for [`KUBERNETES_VERSION`] under a setup-envtest `--bin-dir`:
/// `<bin_dir>/k8s/<version>-<os>-<arch>` (setup-envtest's `Platform.BaseName`).
pub fn store_dir_in(bin_dir: &Path) -> PathBuf {
    bin_dir
        .join("k8s")
        .join(platform_dir_name(KUBERNETES_VERSION))
}

/// The complete store directory to use under `k8s_dir` (`<bin-dir>/k8s`): this exact
/// [`KUBERNETES_VERSION`] if installed, else the newest installed release of the same
/// minor (`1.37.0` when the pin is `1.37.2`). controller-tools publishes envtest archives
/// for some patch releases only, so a download may bring another patch of the minor the
/// pinned k8s-openapi speaks; any of them serves.
pub(crate) fn installed_in(k8s_dir: &Path) -> Option<PathBuf> {
    let exact = k8s_dir.join(platform_dir_name(KUBERNETES_VERSION));
    if has_all(&exact) {
        return Some(exact);
    }
    let suffix = format!("-{}-{}", go_os(), go_arch());
    let entries = std::fs::read_dir(k8s_dir).ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version = name.strip_suffix(&suffix)?.to_owned();
            let patch = same_minor_patch(&version)?;
            let dir = entry.path();
            has_all(&dir).then_some((patch, dir))
        })
        .max_by_key(|(patch, _)| *patch)
        .map(|(_, dir)| dir)
}

/// `<version>-<os>-<arch>`, setup-envtest's `Platform.BaseName`.
pub(crate) fn platform_dir_name(version: &str) -> String {
    format!("{version}-{}-{}", go_os(), go_arch())
}

/// The patch number of `version` (`1.37.0`, no `v`) when it is a stable release of
/// [`KUBERNETES_VERSION`]'s minor; pre-releases (`1.37.0-rc.1`) do not count.
pub(crate) fn same_minor_patch(version: &str) -> Option<u64> {
    let minor = KUBERNETES_VERSION.rsplit_once('.')?.0;
    version.strip_prefix(minor)?.strip_prefix('.')?.parse().ok()
}

fn default_store_root() -> Result<PathBuf, Error> {
    let data_home = non_empty_env("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty_env("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .ok_or(Error::NoStoreDir)?;
    Ok(data_home.join("kubebuilder-envtest"))
}

fn env_bin_dir() -> Option<PathBuf> {
    non_empty_env(BIN_DIR_ENV).map(PathBuf::from)
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

/// Finds one binary: `TEST_ASSET_*`, then `$KUBEBUILDER_ASSETS/<name>` unless a store was
/// chosen with `KUBEFORGE_ENVTEST_BIN_DIR`, then the store.
///
/// An explicitly named location that does not hold the binary is an error rather than a
/// fall-through, so a typo in `KUBEBUILDER_ASSETS` is not silently masked by the store.
fn find_one(binary: &str) -> Result<PathBuf, Error> {
    let name = binary_name(binary);
    let var = env_var_for(binary);
    let candidate = if let Some(path) = non_empty_env(var) {
        (PathBuf::from(path), format!("{var} is set"))
    } else if let Some(dir) =
        non_empty_env("KUBEBUILDER_ASSETS").filter(|_| env_bin_dir().is_none())
    {
        (
            PathBuf::from(dir).join(name),
            "KUBEBUILDER_ASSETS is set".to_string(),
        )
    } else {
        let exact = store_dir()?;
        let dir = exact.parent().and_then(installed_in).unwrap_or(exact);
        (dir.join(name), "looked in the envtest store".into())
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
/// consulted; when `KUBEFORGE_ENVTEST_BIN_DIR` is set, it is not consulted), then the store
/// ([`store_dir`]).
pub fn find() -> Result<Assets, Error> {
    Ok(Assets {
        kube_apiserver: find_one("kube-apiserver")?,
        etcd: find_one("etcd")?,
        kubectl: find_one("kubectl")?,
    })
}

/// Makes sure the binaries exist and returns the directory holding them, with the
/// settings from the environment: [`ensure_with`] and default [`EnsureOptions`].
pub fn ensure(log: impl FnMut(&str)) -> Result<PathBuf, Error> {
    ensure_with(&EnsureOptions::default(), log)
}

/// Makes sure the binaries exist and returns the directory holding them.
///
/// Returns `$KUBEBUILDER_ASSETS` if it holds all three (unless a store is chosen with
/// [`EnsureOptions::bin_dir`]), else the store directory if it is complete. Otherwise fills
/// the store from the [`Source`]: the release archive from the index, verified against its
/// SHA-512, or a Go build of the embedded module. Either fills a temporary directory next
/// to the store that is renamed into place, so an interrupted or failed attempt never leaves
/// a half-filled store that [`find`] would accept. `log` receives progress lines (including
/// `go build`'s own output).
pub fn ensure_with(options: &EnsureOptions, mut log: impl FnMut(&str)) -> Result<PathBuf, Error> {
    let go = find_in_path("go");
    let mut build =
        |go: &Path, store: &Path, log: &mut dyn FnMut(&str)| build_with_go(go, store, log);
    ensure_using(
        options,
        &mut log,
        go.as_deref().map(|go| (go, &mut build as &mut GoBuild<'_>)),
    )
}

/// The Go build step, injectable so tests can check when it runs without spending minutes.
type GoBuild<'a> = dyn FnMut(&Path, &Path, &mut dyn FnMut(&str)) -> Result<(), Error> + 'a;

/// [`ensure_with`] with the Go step given: `go` is the `go` binary and the build, or `None`
/// when Go is not installed.
fn ensure_using(
    options: &EnsureOptions,
    log: &mut dyn FnMut(&str),
    go: Option<(&Path, &mut GoBuild<'_>)>,
) -> Result<PathBuf, Error> {
    let source = options.resolved_source()?;
    let have_go = go.is_some();
    if options.resolved_bin_dir().is_none()
        && let Some(dir) = non_empty_env("KUBEBUILDER_ASSETS").map(PathBuf::from)
        && has_all(&dir)
    {
        return Ok(dir);
    }
    let store = options.store_dir()?;
    let k8s_dir = store
        .parent()
        .ok_or_else(|| Error::Start(format!("store path {} has no parent", store.display())))?
        .to_path_buf();
    if let Some(installed) = installed_in(&k8s_dir) {
        return Ok(installed);
    }
    let store_ref = store.as_path();
    let go_build = move |log: &mut dyn FnMut(&str)| match go {
        Some((go, build)) => build(go, store_ref, log),
        None => Err(Error::GoMissing),
    };
    let index_url = options.resolved_index_url();
    let filled = match source {
        Source::Go => {
            go_build(log)?;
            store.clone()
        }
        Source::Download => crate::download::download(&index_url, &k8s_dir, log)?,
        Source::Auto => match crate::download::download(&index_url, &k8s_dir, log) {
            Ok(filled) => filled,
            Err(unavailable @ Error::DownloadUnavailable { .. }) => {
                if !have_go {
                    return Err(Error::NoBinarySource {
                        download: unavailable.to_string(),
                        go: "`go` is not on PATH".into(),
                    });
                }
                log(&format!("{unavailable}; building with Go instead"));
                go_build(log)?;
                store.clone()
            }
            Err(other) => return Err(other),
        },
    };
    Ok(filled)
}

/// [`find`], and when the store is where it looked and lacks the binaries, a download into
/// the store (never the Go build: minutes of it inside a test's start would look like a
/// hang). Only one download runs per process; concurrent starts wait for it.
pub(crate) async fn find_or_download() -> Result<Assets, Error> {
    let missing = match find() {
        Err(missing @ Error::AssetsMissing { .. }) => missing,
        other => return other,
    };
    let named_elsewhere = BINARIES
        .iter()
        .any(|b| non_empty_env(env_var_for(b)).is_some())
        || (env_bin_dir().is_none() && non_empty_env("KUBEBUILDER_ASSETS").is_some());
    let options = EnsureOptions::default();
    if named_elsewhere || options.resolved_source()? == Source::Go {
        return Err(missing);
    }
    let downloaded = tokio::task::spawn_blocking(move || {
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let store = options.store_dir()?;
        let k8s_dir = store.parent().unwrap_or(&store);
        if installed_in(k8s_dir).is_some() {
            return Ok(());
        }
        crate::download::download(&options.resolved_index_url(), k8s_dir, &mut |line| {
            tracing::info!("{line}")
        })
        .map(drop)
    })
    .await
    .map_err(|e| Error::Start(format!("downloading the control-plane binaries: {e}")))?;
    match (downloaded, missing) {
        (Ok(()), _) => find(),
        // Not available: the binaries are still just missing, and the message says how to
        // get them. Anything else (a hash mismatch) is reported as itself.
        (
            Err(unavailable @ Error::DownloadUnavailable { .. }),
            Error::AssetsMissing { binary, searched },
        ) => Err(Error::AssetsMissing {
            binary,
            searched: format!("{searched}; {unavailable}"),
        }),
        (Err(e), _) => Err(e),
    }
}

/// Fills the store directory `store` all at once: `fill` writes the three binaries into a
/// fresh temporary directory beside it (same filesystem, so the final rename is atomic),
/// which then replaces an incomplete store. On any error the temporary directory is removed
/// and the store is untouched. Losing a race against another process that filled the same
/// store first is success.
pub(crate) fn install_into_store(
    store: &Path,
    fill: impl FnOnce(&Path) -> Result<(), Error>,
) -> Result<(), Error> {
    let parent = store
        .parent()
        .ok_or_else(|| Error::Start(format!("store path {} has no parent", store.display())))?;
    let name = store
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    // The leading dot keeps setup-envtest's store listing (`<version>-<os>-<arch>` only)
    // from mistaking it for an installed version.
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}-tmp-"))
        .tempdir_in(parent)
        .map_err(|e| {
            Error::io(
                format!("creating a temporary directory in {}", parent.display()),
                e,
            )
        })?;
    fill(staging.path())?;
    // A store dir without all three binaries (e.g. partly copied by hand) is replaced.
    if store.exists() && !has_all(store) {
        std::fs::remove_dir_all(store)
            .map_err(|e| Error::io(format!("removing incomplete {}", store.display()), e))?;
    }
    let filled = staging.keep();
    if let Err(e) = std::fs::rename(&filled, store) {
        let _ = std::fs::remove_dir_all(&filled);
        if !has_all(store) {
            return Err(Error::io(
                format!("moving binaries to {}", store.display()),
                e,
            ));
        }
    }
    Ok(())
}

/// Builds the binaries with Go from the embedded module into the store.
fn build_with_go(go: &Path, store: &Path, log: &mut dyn FnMut(&str)) -> Result<(), Error> {
    let module = tempfile::Builder::new()
        .prefix("kubeforge-envtest-go-")
        .tempdir()
        .map_err(|e| Error::io("creating a temporary Go module directory", e))?;
    std::fs::write(module.path().join("go.mod"), GO_MOD)
        .map_err(|e| Error::io("writing go.mod", e))?;
    std::fs::write(module.path().join("go.sum"), GO_SUM)
        .map_err(|e| Error::io("writing go.sum", e))?;

    // Go's build cache for these three binaries is about 3 GB that nothing
    // reuses once the store is filled, so unless the user chose a GOCACHE,
    // the build gets a temporary one, deleted after the build: in memory
    // when the machine has plenty (see `memory_backed_scratch`), else in the
    // module directory.
    let scratch;
    let go_cache = match non_empty_env("GOCACHE") {
        Some(cache) => PathBuf::from(cache),
        None => {
            scratch = memory_backed_scratch();
            scratch.as_ref().map_or_else(
                || module.path().join("gocache"),
                |dir| dir.path().to_path_buf(),
            )
        }
    };

    log(&format!(
        "building kube-apiserver, etcd and kubectl {KUBERNETES_VERSION} with Go (several minutes the first time)"
    ));
    install_into_store(store, |out| {
        run_go_build(go, module.path(), &go_cache, out, log)?;
        let server = out.join("server");
        if is_file(&server) {
            std::fs::rename(&server, out.join("etcd"))
                .map_err(|e| Error::io("renaming the etcd binary", e))?;
        }
        if has_all(out) {
            Ok(())
        } else {
            Err(Error::GoBuild {
                status: "success".into(),
                output: format!("expected {} in {}", BINARIES.join(", "), out.display()),
            })
        }
    })?;
    log(&format!(
        "control-plane binaries ready in {}",
        store.display()
    ));
    Ok(())
}

/// Free space a tmpfs must have, and memory the machine must have available,
/// before the temporary Go cache goes there: about three times what the
/// cache grows to, so the build never pushes the machine into swap.
const MEMORY_SCRATCH_MIN: u64 = 10 << 30;

/// A temporary directory on /dev/shm for Go's build cache, when the machine
/// has room for it in memory. On a fresh machine the Go build runs beside
/// cargo's (the first `cargo xtask demo`, or a project's first `cargo
/// test`), and the two together write gigabytes: measured on the standard
/// 2-core machine, 30 to 40% of the time stalled on disk. Kept in memory,
/// the cache costs the disk nothing; it is deleted when the build ends.
///
/// A build stopped by a signal (Ctrl-C) never runs that deletion, and
/// memory, unlike /tmp, is not there to be cleaned later: so the directory
/// is named after the process, and a later build first deletes those of
/// processes that no longer exist.
fn memory_backed_scratch() -> Option<tempfile::TempDir> {
    let shm = Path::new("/dev/shm");
    remove_abandoned_scratch(shm);
    if free_bytes(shm)? < MEMORY_SCRATCH_MIN || available_memory()? < MEMORY_SCRATCH_MIN {
        return None;
    }
    tempfile::Builder::new()
        .prefix(&format!("{SCRATCH_PREFIX}{}-", std::process::id()))
        .tempdir_in(shm)
        .ok()
}

/// The start of a memory-backed Go cache's name; the process id follows.
const SCRATCH_PREFIX: &str = "kubeforge-envtest-gocache-";

/// Deletes the memory-backed caches in `dir` whose process has gone (see
/// [`memory_backed_scratch`]). Best effort: what cannot be read or deleted
/// (another user's) is left.
fn remove_abandoned_scratch(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix(SCRATCH_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Bytes an unprivileged user may still write on the file system holding `dir`.
#[allow(unsafe_code)]
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `path` is a NUL-terminated string and `stat` a plain C struct
    // that statvfs fills in; both outlive the call.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    Some((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

/// MemAvailable from /proc/meminfo, in bytes (None where there is no such file).
fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

fn run_go_build(
    go: &Path,
    module: &Path,
    go_cache: &Path,
    out: &Path,
    log: &mut dyn FnMut(&str),
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
        // No DWARF from the compiler either (`-w` only keeps the linker from
        // writing it): the binaries are the same, the build about 9% less CPU.
        .args(["build", "-trimpath", "-tags", "selinux,notest"])
        .arg("-gcflags=all=-dwarf=false")
        .arg("-ldflags")
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
    #[cfg(target_os = "linux")]
    fn free_space_and_memory_are_read_from_the_system() {
        let free = free_bytes(&std::env::temp_dir()).expect("statvfs of the temp dir");
        assert!(free > 0);
        assert_eq!(free_bytes(Path::new("/no/such/dir")), None);
        assert!(available_memory().expect("/proc/meminfo") > 0);
        // Wherever the scratch directory goes, it is on a file system with
        // room for the cache, and deleted when dropped.
        if let Some(scratch) = memory_backed_scratch() {
            let path = scratch.path().to_path_buf();
            assert!(path.starts_with("/dev/shm"));
            let own = format!("{SCRATCH_PREFIX}{}-", std::process::id());
            assert!(
                path.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&own))
            );
            assert!(free_bytes(&path).expect("statvfs") >= MEMORY_SCRATCH_MIN);
            drop(scratch);
            assert!(!path.exists());
        }
    }

    #[test]
    fn abandoned_scratch_is_removed_and_live_scratch_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        // No process has pid u32::MAX (Linux caps pids at 2^22).
        let abandoned = dir.path().join(format!("{SCRATCH_PREFIX}{}-x1", u32::MAX));
        let live = dir
            .path()
            .join(format!("{SCRATCH_PREFIX}{}-x2", std::process::id()));
        let other = dir.path().join("someone-elses");
        for d in [&abandoned, &live, &other] {
            std::fs::create_dir_all(d.join("sub")).expect("mkdir");
        }
        remove_abandoned_scratch(dir.path());
        assert!(!abandoned.exists());
        assert!(live.exists());
        assert!(other.exists());
    }

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

    /// A URL on a port nothing listens on: connection refused at once.
    fn closed_index_url() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        format!("http://127.0.0.1:{port}/envtest-releases.yaml")
    }

    fn options(bin_dir: &Path, source: Source) -> EnsureOptions {
        EnsureOptions {
            index_url: Some(closed_index_url()),
            bin_dir: Some(bin_dir.to_path_buf()),
            source: Some(source),
        }
    }

    /// Runs [`ensure_using`] with a fake Go build that writes three empty files; returns
    /// the result, how often the build ran and the log.
    fn run(options: &EnsureOptions, have_go: bool) -> (Result<PathBuf, Error>, usize, String) {
        let mut builds = 0;
        let mut build = |_: &Path, store: &Path, _: &mut dyn FnMut(&str)| {
            builds += 1;
            install_into_store(store, |out| {
                for b in BINARIES {
                    std::fs::write(out.join(b), "").map_err(|e| Error::io("test", e))?;
                }
                Ok(())
            })
        };
        let mut log = String::new();
        let go = Path::new("/fake/go");
        let result = ensure_using(
            options,
            &mut |line| log.push_str(line),
            have_go.then_some((go, &mut build as &mut GoBuild<'_>)),
        );
        (result, builds, log)
    }

    #[test]
    fn auto_builds_with_go_when_the_index_is_unreachable() {
        let dir = tempfile::tempdir().unwrap();
        let (result, builds, log) = run(&options(dir.path(), Source::Auto), true);
        let store = result.unwrap();
        assert_eq!(store, store_dir_in(dir.path()));
        assert!(has_all(&store));
        assert_eq!(builds, 1);
        assert!(log.contains("building with Go instead"), "{log}");
        // Complete now: neither source is asked again.
        let (again, builds, _) = run(&options(dir.path(), Source::Auto), true);
        assert_eq!(again.unwrap(), store);
        assert_eq!(builds, 0);
    }

    #[test]
    fn download_only_reports_the_unreachable_server_and_never_builds() {
        let dir = tempfile::tempdir().unwrap();
        let (result, builds, _) = run(&options(dir.path(), Source::Download), true);
        let err = result.unwrap_err();
        assert!(matches!(err, Error::DownloadUnavailable { .. }), "{err}");
        assert!(err.to_string().contains("127.0.0.1"), "{err}");
        assert_eq!(builds, 0);
        assert!(!store_dir_in(dir.path()).exists());
    }

    #[test]
    fn auto_without_go_names_both_causes_and_the_ways_out() {
        let dir = tempfile::tempdir().unwrap();
        let (result, _, _) = run(&options(dir.path(), Source::Auto), false);
        let err = result.unwrap_err();
        assert!(matches!(err, Error::NoBinarySource { .. }), "{err}");
        let msg = err.to_string();
        assert!(!msg.contains('\n'), "{msg}");
        for part in [
            "127.0.0.1",
            "not on PATH",
            "KUBEBUILDER_ASSETS",
            "--index-url",
            "Go 1.26",
        ] {
            assert!(msg.contains(part), "{part}: {msg}");
        }
    }

    #[test]
    fn go_source_builds_without_asking_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let (result, builds, log) = run(&options(dir.path(), Source::Go), true);
        assert!(result.is_ok());
        assert_eq!(builds, 1);
        assert!(!log.contains("127.0.0.1"), "{log}");
        let (result, _, _) = run(
            &options(tempfile::tempdir().unwrap().path(), Source::Go),
            false,
        );
        assert!(matches!(result, Err(Error::GoMissing)));
    }

    #[test]
    fn a_failed_fill_leaves_no_store_and_no_temporary_directory() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_dir_in(dir.path());
        let err = install_into_store(&store, |_| Err(Error::Config("boom".into()))).unwrap_err();
        assert_eq!(err.to_string(), "boom");
        assert!(!store.exists());
        let leftovers: Vec<_> = std::fs::read_dir(store.parent().unwrap())
            .unwrap()
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn sources_parse_and_unknown_ones_say_what_is_allowed() {
        assert_eq!("download".parse::<Source>().unwrap(), Source::Download);
        assert_eq!("go".parse::<Source>().unwrap(), Source::Go);
        assert_eq!("auto".parse::<Source>().unwrap(), Source::Auto);
        let err = "curl".parse::<Source>().unwrap_err().to_string();
        assert!(err.contains("auto, download or go"), "{err}");
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
