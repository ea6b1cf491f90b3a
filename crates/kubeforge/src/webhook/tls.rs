//! The webhook server's certificate, read from files and read again when
//! they change (controller-runtime's certwatcher).
//!
//! This follows `manager/tls.rs` (the metrics server's), which is private to
//! the manager; the two should become one shared module.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The files' contents as last loaded, and the certificate made from them.
#[derive(Debug)]
struct Loaded {
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    certified: Arc<CertifiedKey>,
}

/// The current certificate from a pair of files, served to every handshake.
#[derive(Debug)]
pub(crate) struct CertWatcher {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Loaded>,
}

impl CertWatcher {
    pub(crate) fn load(cert: PathBuf, key: PathBuf) -> Result<Self, String> {
        let loaded = read(&cert, &key)?;
        Ok(CertWatcher {
            cert,
            key,
            current: RwLock::new(loaded),
        })
    }

    /// Reads the files again; `Ok(true)` if they changed and the new pair is
    /// now served. Contents are compared rather than modification times:
    /// a Secret volume swaps a symlink, and a rewrite within one timestamp
    /// tick must not be missed. A pair that does not parse (e.g. the
    /// certificate written, the key not yet) keeps the previous one.
    pub(crate) fn refresh(&self) -> Result<bool, String> {
        let cert_pem = read_file(&self.cert, "certificate")?;
        let key_pem = read_file(&self.key, "private key")?;
        {
            let current = self.current.read().unwrap_or_else(|e| e.into_inner());
            if current.cert_pem == cert_pem && current.key_pem == key_pem {
                return Ok(false);
            }
        }
        let loaded = parse(&self.cert, cert_pem, key_pem)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = loaded;
        Ok(true)
    }

    /// Checks the files every `interval` until the watcher is dropped.
    pub(crate) fn watch(self: &Arc<Self>, interval: Duration) {
        let watched: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(watcher) = watched.upgrade() else {
                    return;
                };
                match watcher.refresh() {
                    Ok(true) => tracing::info!(
                        cert = %watcher.cert.display(),
                        "reloaded the webhook serving certificate"
                    ),
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!(%error, "keeping the previous webhook serving certificate")
                    }
                }
            }
        });
    }
}

impl ResolvesServerCert for CertWatcher {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        Some(current.certified.clone())
    }
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))
}

fn read(cert: &Path, key: &Path) -> Result<Loaded, String> {
    let cert_pem = read_file(cert, "certificate")?;
    let key_pem = read_file(key, "private key")?;
    parse(cert, cert_pem, key_pem)
}

fn parse(cert_path: &Path, cert_pem: Vec<u8>, key_pem: Vec<u8>) -> Result<Loaded, String> {
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot parse the certificate {}: {e}", cert_path.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "the certificate {} has no PEM CERTIFICATE block",
            cert_path.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| format!("cannot parse the private key: {e}"))?;
    let provider = rustls::crypto::ring::default_provider();
    let certified = CertifiedKey::from_der(chain, key, &provider)
        .map_err(|e| format!("unusable certificate and key: {e}"))?;
    Ok(Loaded {
        cert_pem,
        key_pem,
        certified: Arc::new(certified),
    })
}

/// TLS 1.2 or newer, certificates from `certs`; ALPN offers only HTTP/1.1
/// unless `http2` (Kubebuilder's --enable-http2=false default, because of
/// HTTP/2 rapid-reset attacks).
pub(crate) fn server_config(
    certs: Arc<CertWatcher>,
    http2: bool,
) -> Result<Arc<ServerConfig>, String> {
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_cert_resolver(certs);
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(Arc::new(config))
}
