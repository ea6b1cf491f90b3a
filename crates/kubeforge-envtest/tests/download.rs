//! Downloading setup-envtest's release archives, against a local HTTP server that serves an
//! index and archives built here: from the real binaries (the control-plane store), and
//! small corrupted or misshapen ones.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use kubeforge_envtest::Error;
use kubeforge_envtest::assets::{self, EnsureOptions, Source};
use sha2::{Digest, Sha512};

/// A one-thread HTTP/1.1 server on 127.0.0.1 serving fixed bodies by path (404 otherwise)
/// and counting requests.
struct Server {
    base: String,
    routes: Arc<Mutex<HashMap<String, Arc<[u8]>>>>,
    requests: Arc<AtomicUsize>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes: Arc<Mutex<HashMap<String, Arc<[u8]>>>> = Arc::default();
        let requests = Arc::new(AtomicUsize::new(0));
        let (r, n) = (routes.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                // Skip the headers.
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                n.fetch_add(1, Ordering::SeqCst);
                let path = request_line.split(' ').nth(1).unwrap_or("/").to_string();
                let body = r.lock().unwrap().get(&path).cloned();
                let (status, body) = match body {
                    Some(body) => ("200 OK", body),
                    None => ("404 Not Found", Arc::from(&b"not found"[..])),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        Server {
            base,
            routes,
            requests,
        }
    }

    fn serve(&self, path: &str, body: impl Into<Arc<[u8]>>) -> String {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_string(), body.into());
        format!("{}{path}", self.base)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn platform() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    (std::env::consts::OS, arch)
}

fn archive_name() -> String {
    let (os, arch) = platform();
    format!(
        "envtest-v{}-{os}-{arch}.tar.gz",
        kubeforge_envtest::KUBERNETES_VERSION
    )
}

fn sha512_hex(bytes: &[u8]) -> String {
    Sha512::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An index in controller-tools' envtest-releases.yaml shape listing one archive.
fn index(release: &str, archive: &str, hash: &str, url: &str) -> Vec<u8> {
    format!("releases:\n  {release}:\n    {archive}:\n      hash: {hash}\n      selfLink: {url}\n")
        .into_bytes()
}

/// A .tar.gz of `(path in archive, contents)` entries, laid out as controller-tools' release
/// Dockerfile makes it (directories `controller-tools/` and `controller-tools/envtest/` first).
fn tar_gz(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for dir in ["controller-tools/", "controller-tools/envtest/"] {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        tar.append_data(&mut header, dir, std::io::empty()).unwrap();
    }
    for (name, bytes) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o755);
        header.set_size(bytes.len() as u64);
        tar.append_data(&mut header, name, &bytes[..]).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// Shell scripts standing in for the binaries, under `prefix/`.
fn fake_binaries(prefix: &str) -> Vec<(String, Vec<u8>)> {
    ["etcd", "kube-apiserver", "kubectl"]
        .into_iter()
        .map(|b| {
            (
                format!("{prefix}/{b}"),
                format!("#!/bin/sh\necho {b}\n").into_bytes(),
            )
        })
        .collect()
}

/// The real binaries (as the tests find them) packed as a release archive, and its SHA-512;
/// `None` with a note when there are none. Made once per test process with the system's
/// `tar`, `gzip` and `sha512sum`, as controller-tools' release Dockerfile makes it: ~200 MB
/// through a debug build's gzip and SHA-512 would take a minute.
fn real_archive() -> Option<&'static (Arc<[u8]>, String)> {
    static ARCHIVE: OnceLock<Option<(Arc<[u8]>, String)>> = OnceLock::new();
    ARCHIVE
        .get_or_init(|| {
            let real = match assets::find() {
                Ok(real) => real,
                Err(e) => {
                    eprintln!(
                        "SKIPPED: no control-plane binaries to pack into a test archive ({e}); run `kubeforge envtest` first"
                    );
                    return None;
                }
            };
            let dir = tempfile::tempdir().unwrap();
            let envtest = dir.path().join("controller-tools/envtest");
            std::fs::create_dir_all(&envtest).unwrap();
            for (name, path) in [
                ("etcd", &real.etcd),
                ("kube-apiserver", &real.kube_apiserver),
                ("kubectl", &real.kubectl),
            ] {
                std::os::unix::fs::symlink(path, envtest.join(name)).unwrap();
            }
            let run = |cmd: &mut std::process::Command| {
                let output = cmd.output().unwrap();
                assert!(output.status.success(), "{cmd:?}: {output:?}");
                output.stdout
            };
            // -h: store the files the symlinks point at.
            run(std::process::Command::new("tar")
                .args(["-c", "-h", "-f", "envtest.tar", "controller-tools"])
                .current_dir(dir.path()));
            run(std::process::Command::new("gzip")
                .args(["-1", "envtest.tar"])
                .current_dir(dir.path()));
            let sum = run(std::process::Command::new("sha512sum")
                .arg("envtest.tar.gz")
                .current_dir(dir.path()));
            let hash = String::from_utf8(sum).unwrap();
            let hash = hash.split_whitespace().next().unwrap().to_string();
            let bytes = std::fs::read(dir.path().join("envtest.tar.gz")).unwrap();
            Some((Arc::from(bytes), hash))
        })
        .as_ref()
}

fn options(index_url: &str, bin_dir: &Path, source: Source) -> EnsureOptions {
    EnsureOptions {
        index_url: Some(index_url.to_string()),
        bin_dir: Some(bin_dir.to_path_buf()),
        source: Some(source),
    }
}

/// What is left under `<bin-dir>/k8s`: the store only, never a temporary directory.
fn k8s_entries(bin_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(bin_dir.join("k8s"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A server whose index lists the archive of the real binaries, and the index's URL.
fn serve_real_archive() -> Option<(Server, String, kubeforge_envtest::Assets)> {
    let (archive, hash) = real_archive()?;
    let real = assets::find().unwrap();
    let server = Server::start();
    let name = archive_name();
    let archive_url = server.serve(&format!("/download/{name}"), archive.clone());
    let index_url = server.serve(
        "/envtest-releases.yaml",
        index(
            &format!("v{}", kubeforge_envtest::KUBERNETES_VERSION),
            &name,
            hash,
            &archive_url,
        ),
    );
    Some((server, index_url, real))
}

#[test]
fn downloads_the_real_binaries_once_into_the_chosen_store() {
    let Some((server, index_url, real)) = serve_real_archive() else {
        return;
    };
    let name = archive_name();

    let bin_dir = tempfile::tempdir().unwrap();
    let mut log = Vec::new();
    let dir = assets::ensure_with(
        &options(&index_url, bin_dir.path(), Source::Download),
        |line| log.push(line.to_string()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dir, assets::store_dir_in(bin_dir.path()));
    assert!(dir.ends_with(format!(
        "k8s/{}",
        &name["envtest-v".len()..name.len() - ".tar.gz".len()]
    )));
    assert_eq!(server.requests(), 2, "index and archive: {log:?}");
    assert_eq!(
        k8s_entries(bin_dir.path()),
        [dir.file_name().unwrap().to_string_lossy()]
    );

    for (binary, original) in [
        ("etcd", &real.etcd),
        ("kube-apiserver", &real.kube_apiserver),
        ("kubectl", &real.kubectl),
    ] {
        let installed = std::fs::metadata(dir.join(binary)).unwrap();
        assert_eq!(
            installed.len(),
            std::fs::metadata(original).unwrap().len(),
            "{binary}"
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            installed.permissions().mode() & 0o111,
            0o111,
            "{binary} is executable"
        );
    }
    let etcd = std::process::Command::new(dir.join("etcd"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(etcd.status.success(), "{etcd:?}");
    assert!(
        String::from_utf8_lossy(&etcd.stdout).contains("etcd Version"),
        "{}",
        String::from_utf8_lossy(&etcd.stdout)
    );

    // The store is complete now: the second call does not even fetch the index.
    let again = assets::ensure_with(
        &options(&index_url, bin_dir.path(), Source::Download),
        |_| {},
    )
    .unwrap();
    assert_eq!(again, dir);
    assert_eq!(server.requests(), 2);
}

#[test]
fn a_corrupted_archive_is_refused_and_nothing_is_installed() {
    let archive = tar_gz(&fake_binaries("controller-tools/envtest"));
    let hash = sha512_hex(&archive);
    let mut corrupted = archive;
    let middle = corrupted.len() / 2;
    corrupted[middle] ^= 0xff;
    let server = Server::start();
    let name = archive_name();
    let archive_url = server.serve(&format!("/{name}"), corrupted);
    let index_url = server.serve(
        "/index.yaml",
        index(
            &format!("v{}", kubeforge_envtest::KUBERNETES_VERSION),
            &name,
            &hash,
            &archive_url,
        ),
    );
    let bin_dir = tempfile::tempdir().unwrap();

    // Auto too: wrong bytes are never a reason to fall back to a Go build.
    for source in [Source::Download, Source::Auto] {
        let err =
            assets::ensure_with(&options(&index_url, bin_dir.path(), source), |_| {}).unwrap_err();
        assert!(matches!(err, Error::HashMismatch { .. }), "{err}");
        let msg = err.to_string();
        assert!(!msg.contains('\n'), "{msg}");
        assert!(msg.contains(&archive_url), "{msg}");
        assert!(msg.contains(&hash[..16]), "expected hash prefix: {msg}");
        assert!(!assets::store_dir_in(bin_dir.path()).exists());
        assert!(
            k8s_entries(bin_dir.path()).is_empty(),
            "{:?}",
            k8s_entries(bin_dir.path())
        );
    }
}

#[test]
fn an_archive_without_the_envtest_layout_is_refused() {
    // The old kubebuilder-tools layout, correctly hashed.
    let archive = tar_gz(&fake_binaries("kubebuilder/bin"));
    let server = Server::start();
    let name = archive_name();
    let hash = sha512_hex(&archive);
    let archive_url = server.serve(&format!("/{name}"), archive);
    let index_url = server.serve(
        "/index.yaml",
        index(
            &format!("v{}", kubeforge_envtest::KUBERNETES_VERSION),
            &name,
            &hash,
            &archive_url,
        ),
    );
    let bin_dir = tempfile::tempdir().unwrap();
    let err = assets::ensure_with(&options(&index_url, bin_dir.path(), Source::Auto), |_| {})
        .unwrap_err();
    assert!(matches!(err, Error::Download { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("controller-tools/envtest/kube-apiserver"),
        "{err}"
    );
    assert!(!assets::store_dir_in(bin_dir.path()).exists());
}

#[test]
fn an_unreachable_server_is_a_clear_error_when_only_downloading() {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        format!("http://127.0.0.1:{port}/envtest-releases.yaml")
    };
    let bin_dir = tempfile::tempdir().unwrap();
    let err = assets::ensure_with(&options(&closed, bin_dir.path(), Source::Download), |_| {})
        .unwrap_err();
    assert!(matches!(err, Error::DownloadUnavailable { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&closed) && !msg.contains('\n'), "{msg}");
    assert!(!bin_dir.path().join("k8s").exists(), "nothing written");
}

#[test]
fn an_index_without_this_version_or_platform_names_what_is_missing() {
    let server = Server::start();
    let hash = "0".repeat(128);
    let (_, arch) = platform();
    let cases = [
        // Another version only.
        index(
            "v1.30.0",
            &format!("envtest-v1.30.0-linux-{arch}.tar.gz"),
            &hash,
            "http://x/a",
        ),
        // This version, another platform only.
        index(
            &format!("v{}", kubeforge_envtest::KUBERNETES_VERSION),
            &format!(
                "envtest-v{}-plan9-mips.tar.gz",
                kubeforge_envtest::KUBERNETES_VERSION
            ),
            &hash,
            "http://x/a",
        ),
    ];
    for (i, body) in cases.into_iter().enumerate() {
        let index_url = server.serve(&format!("/{i}/index.yaml"), body);
        let bin_dir = tempfile::tempdir().unwrap();
        let err = assets::ensure_with(
            &options(&index_url, bin_dir.path(), Source::Download),
            |_| {},
        )
        .unwrap_err();
        assert!(matches!(err, Error::DownloadUnavailable { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&archive_name()) && msg.contains(&index_url),
            "{msg}"
        );
        assert!(!bin_dir.path().join("k8s").exists());
    }
    // A 404 for the index is "not available" too.
    let missing = format!("{}/nothing-here.yaml", server.base);
    let err = assets::ensure_with(
        &options(
            &missing,
            tempfile::tempdir().unwrap().path(),
            Source::Download,
        ),
        |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("HTTP 404"), "{err}");
}

/// Set for the child process of [`an_environment_downloads_into_an_empty_store`].
const CHILD: &str = "KUBEFORGE_ENVTEST_TEST_DOWNLOAD_CHILD";

/// Runs only as that test's child, whose environment names an empty store and a local
/// index; anywhere else it returns at once.
#[tokio::test]
async fn child_starts_an_environment() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let env = kubeforge_envtest::Environment::start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // kubectl from the store just filled, so this runs with or without the client feature.
    let output = std::process::Command::new(assets::find().unwrap().kubectl)
        .arg("--kubeconfig")
        .arg(env.kubeconfig_path())
        .args(["version", "-o", "json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let version: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        version["serverVersion"]["gitVersion"],
        format!("v{}", kubeforge_envtest::KUBERNETES_VERSION)
    );
    env.stop().await;
}

#[test]
fn an_environment_downloads_into_an_empty_store() {
    let Some((server, index_url, _)) = serve_real_archive() else {
        return;
    };
    let bin_dir = tempfile::tempdir().unwrap();
    // The environment variables are per process, so the start runs in a child: this test
    // binary again, running only the test above.
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_starts_an_environment", "--nocapture"])
        .env(CHILD, "1")
        .env(assets::BIN_DIR_ENV, bin_dir.path())
        .env(assets::INDEX_URL_ENV, &index_url)
        .env_remove(assets::SOURCE_ENV)
        .env_remove("KUBEBUILDER_ASSETS")
        .env_remove("TEST_ASSET_KUBE_APISERVER")
        .env_remove("TEST_ASSET_ETCD")
        .env_remove("TEST_ASSET_KUBECTL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
    assert_eq!(server.requests(), 2, "index and archive, once");
    let store = assets::store_dir_in(bin_dir.path());
    for binary in ["etcd", "kube-apiserver", "kubectl"] {
        assert!(
            store.join(binary).is_file(),
            "{binary} in {}",
            store.display()
        );
    }
}

/// controller-tools publishes archives for some patch releases only (1.37.0, not 1.37.2):
/// the newest listed release of the pinned minor is installed under its own version, and
/// found again without a request.
#[test]
fn another_patch_release_of_the_minor_serves_when_this_one_is_not_listed() {
    let (minor, _) = kubeforge_envtest::KUBERNETES_VERSION
        .rsplit_once('.')
        .unwrap();
    let other = format!("{minor}.0");
    assert_ne!(other, kubeforge_envtest::KUBERNETES_VERSION);
    let (os, arch) = platform();
    let name = format!("envtest-v{other}-{os}-{arch}.tar.gz");
    let archive = tar_gz(&fake_binaries("controller-tools/envtest"));
    let hash = sha512_hex(&archive);
    let server = Server::start();
    let archive_url = server.serve(&format!("/download/{name}"), archive);
    let index_url = server.serve(
        "/envtest-releases.yaml",
        index(&format!("v{other}"), &name, &hash, &archive_url),
    );
    let bin_dir = tempfile::tempdir().unwrap();

    let dir = assets::ensure_with(
        &options(&index_url, bin_dir.path(), Source::Download),
        |_| {},
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dir, bin_dir.path().join(format!("k8s/{other}-{os}-{arch}")));
    assert_eq!(
        k8s_entries(bin_dir.path()),
        [format!("{other}-{os}-{arch}")]
    );
    assert_eq!(server.requests(), 2);

    let again = assets::ensure_with(
        &options(&index_url, bin_dir.path(), Source::Download),
        |_| {},
    )
    .unwrap();
    assert_eq!(again, dir);
    assert_eq!(
        server.requests(),
        2,
        "an installed patch release is used as it is"
    );
}
