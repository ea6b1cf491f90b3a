//! Downloading the official envtest binaries, as setup-envtest does.
//!
//! What is matched, from controller-runtime's `tools/setup-envtest` and controller-tools:
//!
//! - The index: setup-envtest's `remote.DefaultIndexURL`
//!   ([`DEFAULT_INDEX_URL`]), the `envtest-releases.yaml` controller-tools publishes, shaped
//!   `releases: { v1.x.y: { envtest-v1.x.y-<os>-<arch>.tar.gz: { hash, selfLink } } }`
//!   (setup-envtest's `remote.Index`), where `hash` is the archive's SHA-512 in hex
//!   (`versions.SHA512HashType`, `HexHashEncoding`) and `selfLink` its absolute URL.
//! - The archive name: `envtest-v<version>-<os>-<arch>.tar.gz` (`Platform.ArchiveName`),
//!   with Go's OS and architecture names.
//! - The archive layout: controller-tools' release Dockerfiles
//!   (`hack/envtest/<os>/Dockerfile`) put the binaries in `/controller-tools/envtest` and tar
//!   that directory, so the entries are `controller-tools/envtest/{etcd,kube-apiserver,kubectl}`.
//!   setup-envtest flattens every regular file it finds; this module takes only those three.
//! - The store: `<bin-dir>/k8s/<version>-<os>-<arch>/` (`store.Store`, `Platform.BaseName`),
//!   see [`crate::assets::store_dir_in`].
//!
//! Unlike setup-envtest, which unpacks while it hashes and deletes the directory on a
//! mismatch, the archive is written to a temporary directory beside the store, verified, and
//! only then unpacked and renamed into place: a bad download never touches the store.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha512};

use crate::Error;
use crate::assets::{self, BINARIES, KUBERNETES_VERSION};

/// The index setup-envtest reads unless told otherwise (`--index`): controller-runtime's
/// `remote.DefaultIndexURL`.
pub const DEFAULT_INDEX_URL: &str =
    "https://raw.githubusercontent.com/kubernetes-sigs/controller-tools/HEAD/envtest-releases.yaml";

/// The directory holding the binaries inside a release archive.
const ARCHIVE_DIR: &str = "controller-tools/envtest";

/// How long name resolution and the TCP/TLS connect may take. An offline machine or a
/// firewall that drops packets must fall back to the Go build in seconds, not after the
/// operating system's multi-minute connect timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the server may take to answer a request, and to send the next chunk of a body.
/// There is no limit on a whole download: the archive is about 100 MB and links vary.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The file name the index lists for `version` (no `v`) and this platform.
pub(crate) fn archive_name(version: &str) -> String {
    format!(
        "envtest-v{version}-{}-{}.tar.gz",
        assets::go_os(),
        assets::go_arch()
    )
}

/// setup-envtest's `remote.Index`.
#[derive(Debug, serde::Deserialize)]
struct Index {
    releases: BTreeMap<String, BTreeMap<String, IndexArchive>>,
}

/// setup-envtest's `remote.Archive`.
#[derive(Debug, Clone, serde::Deserialize)]
struct IndexArchive {
    hash: String,
    #[serde(rename = "selfLink")]
    self_link: String,
}

/// Downloads the archive for [`KUBERNETES_VERSION`] and this platform listed in the index
/// at `index_url` (else the newest listed patch release of the same minor), verifies its
/// SHA-512, and installs its three binaries in `k8s_dir` (`<bin-dir>/k8s`) as
/// `<version>-<os>-<arch>`, which it returns.
///
/// Unreachable servers, error statuses and an index without this minor are
/// [`Error::DownloadUnavailable`]; anything wrong with what was served is another error.
pub(crate) fn download(
    index_url: &str,
    k8s_dir: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<PathBuf, Error> {
    let agent = agent();
    // Nothing is logged until the index answers: when it cannot, the caller's error (or its
    // "building with Go instead") is the only line, not buried under progress.
    let index = get_text(&agent, index_url)?;
    let (version, archive) = find_archive(&index, index_url)?;
    let store = k8s_dir.join(assets::platform_dir_name(&version));
    let store = store.as_path();
    let url = archive.self_link.as_str();
    log(&format!("downloading {url}"));
    assets::install_into_store(store, |dir| {
        // Inside the temporary directory, so it goes away with it on any error.
        let download = dir.join(".archive.tar.gz");
        fetch_verified(&agent, url, &archive.hash, &download)?;
        unpack(&download, dir, url)?;
        std::fs::remove_file(&download)
            .map_err(|e| Error::io(format!("removing {}", download.display()), e))
    })?;
    log(&format!(
        "control-plane binaries ready in {}",
        store.display()
    ));
    Ok(store.to_path_buf())
}

/// A blocking client on the rustls (ring) stack kube already uses, trusting the platform's
/// certificate store as setup-envtest (Go's net/http) does, so mirrors behind a company CA
/// work.
fn agent() -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_resolve(Some(CONNECT_TIMEOUT))
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_recv_response(Some(STALL_TIMEOUT))
        .timeout_per_read(Some(STALL_TIMEOUT))
        .user_agent(format!("kubeforge-envtest/{}", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

/// Sorts a request failure: not reaching the server (including a TLS handshake it fails,
/// which ureq reports as I/O), or an error status, means "not available here" and the caller
/// may fall back, which is safe because the Go build verifies its own modules; a malformed
/// URL or a protocol violation is the user's to fix and stays an error.
fn request_error(url: &str, err: ureq::Error) -> Error {
    use ureq::Error as E;
    let unavailable = |reason: String| Error::DownloadUnavailable {
        url: url.to_string(),
        reason,
    };
    match err {
        E::StatusCode(code) => unavailable(format!("the server answered HTTP {code}")),
        E::HostNotFound => unavailable("host not found".into()),
        E::Io(e) => unavailable(e.to_string()),
        e @ (E::ConnectionFailed | E::Timeout(_) | E::ConnectProxyFailed(_)) => {
            unavailable(e.to_string())
        }
        e => Error::Download {
            url: url.to_string(),
            message: e.to_string(),
        },
    }
}

fn get_text(agent: &ureq::Agent, url: &str) -> Result<String, Error> {
    let mut response = agent.get(url).call().map_err(|e| request_error(url, e))?;
    // At most 10 MB (ureq's default); the real index is a few dozen KB.
    response
        .body_mut()
        .read_to_string()
        .map_err(|e| request_error(url, e))
}

/// Picks the archive for this platform out of the index text: [`KUBERNETES_VERSION`]'s if
/// listed, else the newest stable patch release of its minor (controller-tools publishes
/// archives for some patch releases only). Returns the version (no `v`) and the archive.
fn find_archive(text: &str, index_url: &str) -> Result<(String, IndexArchive), Error> {
    let name = archive_name(KUBERNETES_VERSION);
    let index: Index = serde_saphyr::from_str(text).map_err(|e| Error::Download {
        url: index_url.to_string(),
        message: format!(
            "not an envtest release index (expected `releases: {{v1.x.y: {{envtest-v1.x.y-<os>-<arch>.tar.gz: {{hash, selfLink}}}}}}`): {}",
            one_line(&e.to_string())
        ),
    })?;
    // setup-envtest matches archive names across all releases; the one under
    // `v<version>` is where controller-tools puts it, so look there first.
    let under_version = index
        .releases
        .get(&format!("v{KUBERNETES_VERSION}"))
        .and_then(|r| r.get(&name));
    let exact = under_version
        .or_else(|| index.releases.values().find_map(|r| r.get(&name)))
        .map(|archive| (KUBERNETES_VERSION.to_string(), archive));
    let same_minor = || {
        index
            .releases
            .iter()
            .filter_map(|(release, archives)| {
                let version = release.strip_prefix('v')?;
                let patch = assets::same_minor_patch(version)?;
                let archive = archives.get(&archive_name(version))?;
                Some((patch, (version.to_string(), archive)))
            })
            .max_by_key(|(patch, _)| *patch)
            .map(|(_, found)| found)
    };
    let (version, archive) = exact
        .or_else(same_minor)
        .map(|(version, archive)| (version, archive.clone()))
        .ok_or_else(|| Error::DownloadUnavailable {
            url: index_url.to_string(),
            reason: format!(
                "the index lists no {name} and no other {}.x release for this platform ({} releases, newest {}); use an index that has it or --source go",
                KUBERNETES_VERSION.rsplit_once('.').map_or(KUBERNETES_VERSION, |(minor, _)| minor),
                index.releases.len(),
                index
                    .releases
                    .keys()
                    .max_by(|a, b| version_key(a).cmp(&version_key(b)))
                    .map_or("none", String::as_str)
            ),
        })?;
    if archive.hash.len() != 128 || !archive.hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::Download {
            url: index_url.to_string(),
            message: format!(
                "the hash listed for {} is not a hex SHA-512 digest",
                archive_name(&version)
            ),
        });
    }
    Ok((version, archive))
}

/// `v1.37.2` as numbers, to name the newest release in an error.
fn version_key(version: &str) -> Vec<u64> {
    version
        .trim_start_matches('v')
        .split(['.', '-'])
        .map_while(|part| part.parse().ok())
        .collect()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Streams `url` into `to` while hashing it and refuses it unless the SHA-512 is `expected`.
fn fetch_verified(agent: &ureq::Agent, url: &str, expected: &str, to: &Path) -> Result<(), Error> {
    let response = agent.get(url).call().map_err(|e| request_error(url, e))?;
    let mut body = response.into_body().into_reader();
    let file = File::create(to).map_err(|e| Error::io(format!("creating {}", to.display()), e))?;
    let mut out = BufWriter::new(file);
    let mut hasher = Sha512::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::DownloadUnavailable {
                    url: url.to_string(),
                    reason: format!("the download broke off: {e}"),
                });
            }
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| Error::io(format!("writing {}", to.display()), e))?;
    }
    out.flush()
        .map_err(|e| Error::io(format!("writing {}", to.display()), e))?;
    let actual = hex(&hasher.finalize());
    if !actual.eq_ignore_ascii_case(expected) {
        return Err(Error::HashMismatch {
            url: url.to_string(),
            expected: expected.chars().take(16).collect::<String>().to_lowercase(),
            actual: actual.chars().take(16).collect(),
        });
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Extracts `controller-tools/envtest/{etcd,kube-apiserver,kubectl}` from the verified
/// archive into `dir` as executables. Only these three exact paths are written, so no entry
/// of the archive can name a file outside `dir`.
fn unpack(archive: &Path, dir: &Path, url: &str) -> Result<(), Error> {
    let bad = |e: std::io::Error| Error::Download {
        url: url.to_string(),
        message: format!("not a readable .tar.gz archive: {e}"),
    };
    let file =
        File::open(archive).map_err(|e| Error::io(format!("opening {}", archive.display()), e))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(file)));
    let mut found = [false; BINARIES.len()];
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        // `tar -czf x.tar.gz /controller-tools/envtest` stores relative paths; tolerate a
        // leading `/` or `./` as other tar tools write them.
        let path: PathBuf = entry
            .path()
            .map_err(bad)?
            .components()
            .filter(|c| !matches!(c, Component::RootDir | Component::CurDir))
            .collect();
        let Some(i) = BINARIES
            .iter()
            .position(|b| path == Path::new(ARCHIVE_DIR).join(b))
        else {
            continue;
        };
        let target = dir.join(BINARIES[i]);
        let mut out = executable(&target)?;
        std::io::copy(&mut entry, &mut out).map_err(bad)?;
        found[i] = true;
    }
    let missing: Vec<String> = BINARIES
        .iter()
        .zip(found)
        .filter(|(_, found)| !found)
        .map(|(b, _)| format!("{ARCHIVE_DIR}/{b}"))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::Download {
            url: url.to_string(),
            message: format!(
                "the archive has no {} (expected {ARCHIVE_DIR}/{{{}}})",
                missing.join(", "),
                BINARIES.join(",")
            ),
        })
    }
}

fn executable(path: &Path) -> Result<File, Error> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o755)
        .open(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(version: &str, hash: &str) -> String {
        format!(
            "  v{version}:\n    {}:\n      hash: {hash}\n      selfLink: http://127.0.0.1:1/{version}.tar.gz\n",
            archive_name(version)
        )
    }

    fn index(hash: &str) -> String {
        format!("releases:\n{}", release(KUBERNETES_VERSION, hash))
    }

    #[test]
    fn finds_this_version_and_platform() {
        let hash = "ab".repeat(64);
        let (version, archive) = find_archive(&index(&hash), "http://x/i.yaml").unwrap();
        assert_eq!(version, KUBERNETES_VERSION);
        assert_eq!(archive.hash, hash);
        assert_eq!(
            archive.self_link,
            format!("http://127.0.0.1:1/{KUBERNETES_VERSION}.tar.gz")
        );
    }

    #[test]
    fn without_this_patch_release_the_newest_of_the_minor_serves() {
        let (minor, _) = KUBERNETES_VERSION.rsplit_once('.').unwrap();
        let hash = "cd".repeat(64);
        let text = format!(
            "releases:\n{}{}{}{}",
            release(&format!("{minor}.0"), &hash),
            release(&format!("{minor}.1"), &hash),
            release(&format!("{minor}.9-rc.1"), &hash),
            release("1.99.0", &hash),
        );
        let (version, archive) = find_archive(&text, "http://x/i.yaml").unwrap();
        assert_eq!(version, format!("{minor}.1"));
        assert!(archive.self_link.ends_with(&format!("{minor}.1.tar.gz")));
    }

    #[test]
    fn a_missing_version_is_unavailable_and_names_the_newest() {
        let text = "releases:\n  v1.30.0: {}\n  v1.9.0: {}\n";
        let err = find_archive(text, "http://x/i.yaml").unwrap_err();
        assert!(matches!(err, Error::DownloadUnavailable { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&archive_name(KUBERNETES_VERSION)) && msg.contains("newest v1.30.0"),
            "{msg}"
        );
    }

    #[test]
    fn a_malformed_hash_or_index_is_an_error() {
        let err = find_archive(&index("abc"), "http://x/i.yaml").unwrap_err();
        assert!(matches!(err, Error::Download { .. }), "{err}");
        let err = find_archive("<html>", "http://x/i.yaml").unwrap_err();
        assert!(matches!(err, Error::Download { .. }), "{err}");
        assert!(!err.to_string().contains('\n'));
    }

    #[test]
    fn archive_name_uses_go_platform_names() {
        let name = archive_name(KUBERNETES_VERSION);
        assert!(name.starts_with("envtest-v1.37.2-") && name.ends_with(".tar.gz"));
        assert!(!name.contains("x86_64") && !name.contains("aarch64"));
    }
}
