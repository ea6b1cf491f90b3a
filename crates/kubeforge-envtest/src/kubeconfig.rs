//! The admin kubeconfig: written to the data directory for kubectl and the operator under
//! `kubeforge run`, and loaded into the `kube::Config` every client of the environment uses.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::Error;
use crate::certs::Pki;

/// The admin kubeconfig on disk and in its two parsed forms.
pub(crate) struct AdminKubeconfig {
    pub path: PathBuf,
    pub kubeconfig: Kubeconfig,
    pub config: kube::Config,
}

impl AdminKubeconfig {
    /// Writes `dir/kubeconfig` for the admin user (certificates embedded, so the file works
    /// on its own) and loads it the way a user's kubeconfig would be loaded.
    pub(crate) async fn write(dir: &Path, server: &str, pki: &Pki) -> Result<Self, Error> {
        let yaml = render(server, pki);
        let path = dir.join("kubeconfig");
        std::fs::write(&path, &yaml)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        let kubeconfig = Kubeconfig::from_yaml(&yaml)?;
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &KubeConfigOptions::default())
                .await?;
        Ok(AdminKubeconfig {
            path,
            kubeconfig,
            config,
        })
    }
}

/// The kubeconfig YAML; `*-data` fields are standard base64 with padding, as kubectl expects.
fn render(server: &str, pki: &Pki) -> String {
    let ca = STANDARD.encode(&pki.serving_ca_pem);
    let cert = STANDARD.encode(&pki.admin_cert_pem);
    let key = STANDARD.encode(&pki.admin_key_pem);
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: envtest
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: envtest-admin
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
contexts:
- name: envtest
  context:
    cluster: envtest
    user: envtest-admin
    namespace: default
current-context: envtest
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn written_kubeconfig_embeds_the_pki_and_loads() {
        let pki = Pki::generate().expect("pki");
        let dir = tempfile::tempdir().expect("tempdir");
        let admin = AdminKubeconfig::write(dir.path(), "https://127.0.0.1:1234", &pki)
            .await
            .expect("write");
        assert_eq!(admin.path, dir.path().join("kubeconfig"));

        let from_disk = Kubeconfig::read_from(&admin.path).expect("parse the file");
        assert_eq!(from_disk.current_context.as_deref(), Some("envtest"));
        let cluster = from_disk.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:1234"));
        let ca = cluster
            .certificate_authority_data
            .as_deref()
            .expect("CA data");
        assert_eq!(
            STANDARD.decode(ca).expect("base64"),
            pki.serving_ca_pem.as_bytes()
        );
        let user = from_disk.auth_infos[0].auth_info.as_ref().expect("user");
        assert_eq!(
            STANDARD
                .decode(user.client_certificate_data.as_deref().expect("cert data"))
                .expect("base64"),
            pki.admin_cert_pem.as_bytes()
        );

        assert_eq!(
            admin.config.cluster_url.to_string(),
            "https://127.0.0.1:1234/"
        );
        assert_eq!(admin.config.default_namespace, "default");
    }
}
