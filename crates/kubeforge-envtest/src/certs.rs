//! Throwaway PKI for one control plane.
//!
//! Separate CAs for serving and for client auth (as envtest does) so a client certificate
//! can never be mistaken for a serving certificate. Webhook servers under test get a CA of
//! their own ([`WebhookPki`]), so nothing they hold can vouch for the API server. ECDSA P-256
//! keeps generation fast.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};

use crate::Error;

/// PEM-encoded material written to the temp dir and embedded in the kubeconfig.
pub(crate) struct Pki {
    pub serving_ca_pem: String,
    pub serving_cert_pem: String,
    pub serving_key_pem: String,
    pub client_ca_pem: String,
    pub admin_cert_pem: String,
    pub admin_key_pem: String,
    pub sa_private_pem: String,
    pub sa_public_pem: String,
}

const DAY: u64 = 24 * 60 * 60;

impl Pki {
    pub(crate) fn generate() -> Result<Self, Error> {
        let (serving_ca_pem, serving_ca) = ca("kubeforge-envtest serving CA")?;
        let (client_ca_pem, client_ca) = ca("kubeforge-envtest client CA")?;

        let serving_key = new_key()?;
        let mut serving = leaf_params("localhost", None)?;
        serving.subject_alt_names = CertificateParams::new(vec![
            "localhost".to_string(),
            Ipv4Addr::LOCALHOST.to_string(),
        ])?
        .subject_alt_names;
        serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let serving_cert = serving.signed_by(&serving_key, &serving_ca)?;

        let admin_key = new_key()?;
        let mut admin = leaf_params("admin", Some("system:masters"))?;
        admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let admin_cert = admin.signed_by(&admin_key, &client_ca)?;

        let sa_key = new_key()?;

        Ok(Pki {
            serving_ca_pem,
            serving_cert_pem: serving_cert.pem(),
            serving_key_pem: serving_key.serialize_pem(),
            client_ca_pem,
            admin_cert_pem: admin_cert.pem(),
            admin_key_pem: admin_key.serialize_pem(),
            sa_private_pem: sa_key.serialize_pem(),
            sa_public_pem: sa_key.public_key_pem(),
        })
    }

    /// Writes what kube-apiserver reads from disk (its serving pair, the client CA and the
    /// ServiceAccount key pair) into a new directory `dir`. The admin pair and serving CA
    /// are not written: the kubeconfig embeds them.
    pub(crate) fn write_files(&self, dir: &Path) -> Result<PkiFiles, Error> {
        std::fs::create_dir(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        Ok(PkiFiles {
            serving_cert: write_file(dir, "apiserver.crt", &self.serving_cert_pem)?,
            serving_key: write_file(dir, "apiserver.key", &self.serving_key_pem)?,
            client_ca: write_file(dir, "client-ca.crt", &self.client_ca_pem)?,
            sa_private_key: write_file(dir, "sa.key", &self.sa_private_pem)?,
            sa_public_key: write_file(dir, "sa.pub", &self.sa_public_pem)?,
            dir: dir.to_owned(),
        })
    }
}

/// The CA and serving pair of the webhook server a test runs locally: the API server trusts
/// the CA through each webhook's `caBundle`, the test's server presents the pair.
pub(crate) struct WebhookPki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl WebhookPki {
    /// A fresh CA and a serving certificate for every name the API server might dial a
    /// local server by: `localhost`, `127.0.0.1` and `::1`.
    pub(crate) fn generate() -> Result<Self, Error> {
        let (ca_pem, ca) = ca("kubeforge-envtest webhook CA")?;
        let key = new_key()?;
        let mut params = leaf_params("localhost", None)?;
        params.subject_alt_names = CertificateParams::new(vec![
            "localhost".to_string(),
            Ipv4Addr::LOCALHOST.to_string(),
            Ipv6Addr::LOCALHOST.to_string(),
        ])?
        .subject_alt_names;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &ca)?;
        Ok(WebhookPki {
            ca_pem,
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Writes `tls.crt`, `tls.key` (the names controller-runtime's webhook server and a
    /// `kubernetes.io/tls` Secret use) and `ca.crt` into the existing directory `dir`.
    pub(crate) fn write_files(&self, dir: &Path) -> Result<(), Error> {
        write_file(dir, "tls.crt", &self.cert_pem)?;
        write_file(dir, "tls.key", &self.key_pem)?;
        write_file(dir, "ca.crt", &self.ca_pem)?;
        Ok(())
    }
}

/// Where [`Pki::write_files`] put each file, for kube-apiserver's flags.
pub(crate) struct PkiFiles {
    pub dir: PathBuf,
    pub serving_cert: PathBuf,
    pub serving_key: PathBuf,
    pub client_ca: PathBuf,
    pub sa_private_key: PathBuf,
    pub sa_public_key: PathBuf,
}

fn write_file(dir: &Path, name: &str, contents: &str) -> Result<PathBuf, Error> {
    let path = dir.join(name);
    std::fs::write(&path, contents)
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    Ok(path)
}

fn new_key() -> Result<KeyPair, Error> {
    Ok(KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?)
}

fn ca(name: &str) -> Result<(String, Issuer<'static, KeyPair>), Error> {
    let key = new_key()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(name, None);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params);
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), Issuer::new(params, key)))
}

fn leaf_params(common_name: &str, organization: Option<&str>) -> Result<CertificateParams, Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = dn(common_name, organization);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    set_validity(&mut params);
    Ok(params)
}

fn dn(common_name: &str, organization: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    if let Some(org) = organization {
        dn.push(DnType::OrganizationName, org);
    }
    dn
}

/// Valid from yesterday (tolerates small clock skew) for a week, like envtest's leaves:
/// long enough for any `kubeforge run` session, short enough to be useless if leaked.
fn set_validity(params: &mut CertificateParams) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let (y, m, d) = civil_date(now.saturating_sub(DAY));
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = civil_date(now + 7 * DAY);
    params.not_after = rcgen::date_time_ymd(y, m, d);
}

/// Calendar date of a Unix timestamp (Howard Hinnant's civil_from_days), so no date crate
/// is needed just to say "a week from now".
fn civil_date(unix_secs: u64) -> (i32, u8, u8) {
    let days = (unix_secs / DAY) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_date_conversion() {
        // 2024-02-29 00:00:00 UTC
        assert_eq!(civil_date(1_709_164_800), (2024, 2, 29));
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(1_767_139_200), (2025, 12, 31));
    }

    #[test]
    fn generates_distinct_pem_material() {
        let pki = Pki::generate().expect("generate");
        assert!(
            pki.serving_ca_pem
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
        assert!(pki.sa_public_pem.contains("PUBLIC KEY"));
        assert_ne!(pki.serving_ca_pem, pki.client_ca_pem);
        assert_ne!(pki.admin_key_pem, pki.serving_key_pem);
    }

    #[test]
    fn webhook_pki_has_its_own_ca_and_is_written_under_the_usual_names() {
        let pki = Pki::generate().expect("generate");
        let webhook = WebhookPki::generate().expect("generate");
        assert_ne!(webhook.ca_pem, pki.serving_ca_pem);
        assert_ne!(webhook.ca_pem, pki.client_ca_pem);
        assert!(webhook.key_pem.contains("PRIVATE KEY"));
        let dir = tempfile::tempdir().expect("tempdir");
        webhook.write_files(dir.path()).expect("write");
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).expect("read");
        assert_eq!(read("tls.crt"), webhook.cert_pem);
        assert_eq!(read("tls.key"), webhook.key_pem);
        assert_eq!(read("ca.crt"), webhook.ca_pem);
    }

    #[test]
    fn writes_what_the_apiserver_reads() {
        let pki = Pki::generate().expect("generate");
        let root = tempfile::tempdir().expect("tempdir");
        let files = pki.write_files(&root.path().join("pki")).expect("write");
        let read = |p: &Path| std::fs::read_to_string(p).expect("read");
        assert_eq!(read(&files.serving_cert), pki.serving_cert_pem);
        assert_eq!(read(&files.serving_key), pki.serving_key_pem);
        assert_eq!(read(&files.client_ca), pki.client_ca_pem);
        assert_eq!(read(&files.sa_private_key), pki.sa_private_pem);
        assert_eq!(read(&files.sa_public_key), pki.sa_public_pem);
        assert!(files.serving_cert.starts_with(&files.dir));

        let err = pki
            .write_files(&root.path().join("pki"))
            .err()
            .expect("the directory exists now")
            .to_string();
        assert!(err.contains("pki"), "{err}");
    }
}
