//! `kubeforge envtest --index-url ... --bin-dir ...`: downloading setup-envtest's
//! release archive from a local HTTP server. The archive is made with `tar`
//! and hashed with `sha512sum`, as controller-tools' release Dockerfile does,
//! from small stand-in binaries.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;

const VERSION: &str = "1.37.2";

fn platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{}-{arch}", std::env::consts::OS)
}

/// Serves `index.yaml` and the archive on 127.0.0.1 from a thread; counts requests.
struct Server {
    index_url: String,
    requests: Arc<AtomicUsize>,
}

fn serve(archive: Vec<u8>, hash: String) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let name = format!("envtest-v{VERSION}-{}.tar.gz", platform());
    let index = format!(
        "releases:\n  v{VERSION}:\n    {name}:\n      hash: {hash}\n      selfLink: {base}/releases/{name}\n"
    );
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let path = request_line.split(' ').nth(1).unwrap_or("/");
            let (status, body): (&str, &[u8]) = if path == "/index.yaml" {
                ("200 OK", index.as_bytes())
            } else if path == format!("/releases/{name}") {
                ("200 OK", &archive)
            } else {
                ("404 Not Found", b"")
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
    Server {
        index_url: format!("{base}/index.yaml"),
        requests,
    }
}

/// `controller-tools/envtest/{etcd,kube-apiserver,kubectl}` (shell scripts
/// printing their name) packed with `tar -czf`, and its SHA-512.
fn archive(dir: &Path) -> (Vec<u8>, String) {
    let tree = dir.join("pack/controller-tools/envtest");
    std::fs::create_dir_all(&tree).unwrap();
    for name in ["etcd", "kube-apiserver", "kubectl"] {
        std::fs::write(tree.join(name), format!("#!/bin/sh\necho {name}\n")).unwrap();
    }
    let path = dir.join("envtest.tar.gz");
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&path)
        .arg("-C")
        .arg(dir.join("pack"))
        .arg("controller-tools/envtest")
        .status()
        .unwrap();
    assert!(status.success());
    let sum = Command::new("sha512sum").arg(&path).output().unwrap();
    assert!(sum.status.success());
    let hash = String::from_utf8(sum.stdout).unwrap();
    let hash = hash.split_whitespace().next().unwrap().to_string();
    (std::fs::read(&path).unwrap(), hash)
}

/// `kubeforge envtest` with no Go on PATH and nothing inherited that names a store.
fn envtest(dir: &Path) -> assert_cmd::Command {
    let mut cmd = kubeforge(dir);
    cmd.arg("envtest")
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("HOME", dir)
        .env("PATH", dir.join("no-bin"))
        .env_remove("KUBEBUILDER_ASSETS")
        .env_remove("KUBEFORGE_ENVTEST_INDEX_URL")
        .env_remove("KUBEFORGE_ENVTEST_BIN_DIR")
        .env_remove("KUBEFORGE_ENVTEST_SOURCE");
    cmd
}

#[track_caller]
fn stdout_path(output: &std::process::Output) -> PathBuf {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

#[test]
fn downloads_into_the_bin_dir_and_prints_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, hash) = archive(dir.path());
    let server = serve(bytes, hash);

    // A relative --bin-dir: the printed path is absolute, usable as KUBEBUILDER_ASSETS anywhere.
    let output = envtest(dir.path())
        .args(["--index-url", &server.index_url, "--bin-dir", "bin"])
        .output()
        .unwrap();
    let store = stdout_path(&output);
    assert_eq!(
        store,
        dir.path().join(format!("bin/k8s/{VERSION}-{}", platform()))
    );
    assert_eq!(server.requests.load(Ordering::SeqCst), 2);
    let kubectl = Command::new(store.join("kubectl")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&kubectl.stdout).trim(), "kubectl");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("downloading"), "{stderr}");

    // Filled: printed again without touching the server.
    let output = envtest(dir.path())
        .args(["--index-url", &server.index_url, "--bin-dir", "bin"])
        .output()
        .unwrap();
    assert_eq!(stdout_path(&output), store);
    assert_eq!(server.requests.load(Ordering::SeqCst), 2);
}

#[test]
fn the_environment_variables_choose_the_index_and_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, hash) = archive(dir.path());
    let server = serve(bytes, hash);
    let bin = dir.path().join("from-env");
    let output = envtest(dir.path())
        .env("KUBEFORGE_ENVTEST_INDEX_URL", &server.index_url)
        .env("KUBEFORGE_ENVTEST_BIN_DIR", &bin)
        .env("KUBEFORGE_ENVTEST_SOURCE", "download")
        .output()
        .unwrap();
    assert_eq!(
        stdout_path(&output),
        bin.join(format!("k8s/{VERSION}-{}", platform()))
    );
}

#[test]
fn a_hash_mismatch_fails_and_installs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _) = archive(dir.path());
    let wrong = "ab".repeat(64);
    let server = serve(bytes, wrong);
    let output = envtest(dir.path())
        .args(["--index-url", &server.index_url, "--bin-dir", "bin"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains("SHA-512 mismatch"), "{stderr}");
    assert!(last.contains("abababababababab"), "{stderr}");
    assert!(
        !dir.path()
            .join(format!("bin/k8s/{VERSION}-{}", platform()))
            .exists()
    );
}

#[test]
fn source_go_without_go_says_so_and_never_downloads() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, hash) = archive(dir.path());
    let server = serve(bytes, hash);
    let output = envtest(dir.path())
        .args(["--index-url", &server.index_url, "--source", "go"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Go is required"), "{stderr}");
    assert_eq!(server.requests.load(Ordering::SeqCst), 0);
}

#[test]
fn an_unknown_source_lists_the_allowed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let output = envtest(dir.path())
        .args(["--source", "curl"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for value in ["auto", "download", "go"] {
        assert!(stderr.contains(value), "{stderr}");
    }
}
