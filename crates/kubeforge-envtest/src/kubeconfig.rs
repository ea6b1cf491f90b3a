//! The admin kubeconfig: written to the data directory for kubectl and the operator under
//! `kubeforge run`, with the admin credentials this crate's own API client uses; with the
//! `client` feature, also loaded into the `kube::Config` every kube client of the
//! environment uses.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
#[cfg(feature = "client")]
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::Serialize;

use crate::Error;
use crate::api::ApiClient;
use crate::certs::Pki;

/// The admin kubeconfig on disk, the API client with the same credentials and, with
/// `client`, the kubeconfig in kube's two parsed forms.
pub(crate) struct AdminKubeconfig {
    pub path: PathBuf,
    pub api: ApiClient,
    #[cfg(feature = "client")]
    pub kubeconfig: Kubeconfig,
    #[cfg(feature = "client")]
    pub config: kube::Config,
}

impl AdminKubeconfig {
    /// Writes `dir/kubeconfig` for the admin user (certificates embedded, so the file works
    /// on its own) and makes the clients; kube's loads the file as a user's would be.
    pub(crate) async fn write(dir: &Path, server: &str, pki: &Pki) -> Result<Self, Error> {
        let yaml = render(server, pki)?;
        let path = dir.join("kubeconfig");
        std::fs::write(&path, &yaml)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        let api = ApiClient::new(server, pki)?;
        #[cfg(feature = "client")]
        {
            let kubeconfig = Kubeconfig::from_yaml(&yaml)?;
            let config = kube::Config::from_custom_kubeconfig(
                kubeconfig.clone(),
                &KubeConfigOptions::default(),
            )
            .await?;
            Ok(AdminKubeconfig {
                path,
                api,
                kubeconfig,
                config,
            })
        }
        #[cfg(not(feature = "client"))]
        Ok(AdminKubeconfig { path, api })
    }
}

/// The file's layout (client-go's `clientcmdapi.Config`, the fields used here): plain serde
/// structs rather than kube's, which only the `client` feature compiles.
#[derive(Serialize)]
struct KubeconfigFile<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    clusters: [NamedCluster<'a>; 1],
    users: [NamedUser; 1],
    contexts: [NamedContext; 1],
    #[serde(rename = "current-context")]
    current_context: &'static str,
}

#[derive(Serialize)]
struct NamedCluster<'a> {
    name: &'static str,
    cluster: Cluster<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Cluster<'a> {
    server: &'a str,
    certificate_authority_data: String,
}

#[derive(Serialize)]
struct NamedUser {
    name: &'static str,
    user: User,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct User {
    client_certificate_data: String,
    client_key_data: String,
}

#[derive(Serialize)]
struct NamedContext {
    name: &'static str,
    context: Context,
}

#[derive(Serialize)]
struct Context {
    cluster: &'static str,
    user: &'static str,
    namespace: &'static str,
}

const CLUSTER: &str = "envtest";
const USER: &str = "envtest-admin";
const CONTEXT: &str = "envtest";

/// The kubeconfig YAML; `*-data` fields are standard base64 with padding, as kubectl expects.
fn render(server: &str, pki: &Pki) -> Result<String, Error> {
    let file = KubeconfigFile {
        api_version: "v1",
        kind: "Config",
        clusters: [NamedCluster {
            name: CLUSTER,
            cluster: Cluster {
                server,
                certificate_authority_data: STANDARD.encode(&pki.serving_ca_pem),
            },
        }],
        users: [NamedUser {
            name: USER,
            user: User {
                client_certificate_data: STANDARD.encode(&pki.admin_cert_pem),
                client_key_data: STANDARD.encode(&pki.admin_key_pem),
            },
        }],
        contexts: [NamedContext {
            name: CONTEXT,
            context: Context {
                cluster: CLUSTER,
                user: USER,
                namespace: "default",
            },
        }],
        current_context: CONTEXT,
    };
    // Plain scalars, as kubectl writes them, rather than folded blocks for the long base64.
    let options = serde_saphyr::ser_options! { prefer_block_scalars: false };
    serde_saphyr::to_string_with_options(&file, options)
        .map_err(|e| Error::Object(format!("encoding the kubeconfig: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn written_kubeconfig_embeds_the_pki() {
        let pki = Pki::generate().expect("pki");
        let dir = tempfile::tempdir().expect("tempdir");
        let admin = AdminKubeconfig::write(dir.path(), "https://127.0.0.1:1234", &pki)
            .await
            .expect("write");
        assert_eq!(admin.path, dir.path().join("kubeconfig"));

        let text = std::fs::read_to_string(&admin.path).expect("read");
        let file: serde_json::Value = serde_saphyr::from_str(&text).expect("YAML");
        assert_eq!(file["current-context"], "envtest");
        assert_eq!(file["contexts"][0]["context"]["user"], "envtest-admin");
        assert_eq!(file["contexts"][0]["context"]["namespace"], "default");
        let cluster = &file["clusters"][0]["cluster"];
        assert_eq!(cluster["server"], "https://127.0.0.1:1234");
        let decoded = |value: &serde_json::Value| {
            STANDARD
                .decode(value.as_str().expect("a string"))
                .expect("base64")
        };
        assert_eq!(
            decoded(&cluster["certificate-authority-data"]),
            pki.serving_ca_pem.as_bytes()
        );
        let user = &file["users"][0]["user"];
        assert_eq!(
            decoded(&user["client-certificate-data"]),
            pki.admin_cert_pem.as_bytes()
        );
        assert_eq!(
            decoded(&user["client-key-data"]),
            pki.admin_key_pem.as_bytes()
        );
    }

    #[cfg(feature = "client")]
    #[tokio::test]
    async fn written_kubeconfig_loads_into_kube() {
        let pki = Pki::generate().expect("pki");
        let dir = tempfile::tempdir().expect("tempdir");
        let admin = AdminKubeconfig::write(dir.path(), "https://127.0.0.1:1234", &pki)
            .await
            .expect("write");

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
