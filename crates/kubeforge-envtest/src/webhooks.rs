//! Admission and conversion webhooks served by the test itself (controller-runtime envtest's
//! `WebhookInstallOptions`).
//!
//! In a cluster the API server reaches a webhook through a Service, with a certificate
//! cert-manager issued. Neither exists here, so every webhook is pointed at
//! `https://127.0.0.1:<port><path>` instead, where the test runs its webhook server with a
//! certificate signed by a throwaway CA that the API server is told to trust (`caBundle`).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
    WebhookClientConfig as AdmissionClientConfig,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceConversion, CustomResourceDefinition,
    WebhookClientConfig as ConversionClientConfig, WebhookConversion,
};
use kube::Resource;
use kube::api::{Api, Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tempfile::TempDir;

use crate::certs::WebhookPki;
use crate::control_plane::free_ports;
use crate::manifests::{self, WebhookConfigurations};
use crate::{Error, FIELD_MANAGER};

/// Where the API server sends ConversionReviews when the CRD names no path, as Kubebuilder
/// and `kubeforge create webhook --conversion` serve it.
pub const CONVERSION_PATH: &str = "/convert";

/// How often installed configurations are looked up, and for how long.
const POLL: Duration = Duration::from_millis(100);
const EXIST_TIMEOUT: Duration = Duration::from_secs(10);

/// Which webhooks the API server of an [`Environment`](crate::Environment) should call on a
/// webhook server the test runs locally (see [`WebhookServer`]).
///
/// Giving an environment any `WebhookInstall` (even an empty one) makes it create the
/// webhook CA, serving certificate and port, and point CRD conversion webhooks at them.
/// Without one, webhook configurations and CRDs are installed exactly as written.
///
/// ```no_run
/// # async fn demo() -> Result<(), kubeforge_envtest::Error> {
/// use kubeforge_envtest::{Environment, WebhookInstall};
/// let env = Environment::builder()
///     .crd_dir("config/crd/bases")
///     .webhooks(WebhookInstall::from_dir("config/webhook").conversion_for(["myapps.apps.example.com"]))
///     .start()
///     .await?;
/// let server = env.webhook_server().expect("webhooks were asked for");
/// // Serve HTTPS on 127.0.0.1:server.port() with server.cert_dir()/tls.crt and tls.key.
/// # let _ = server;
/// # Ok(()) }
/// ```
#[derive(Debug, Default, Clone)]
#[must_use]
pub struct WebhookInstall {
    dirs: Vec<PathBuf>,
    mutating: Vec<MutatingWebhookConfiguration>,
    validating: Vec<ValidatingWebhookConfiguration>,
    conversion: Vec<String>,
}

impl WebhookInstall {
    /// No webhook configurations yet: only the CA, certificate and port, plus conversion for
    /// CRDs whose strategy is already `Webhook`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs every MutatingWebhookConfiguration and ValidatingWebhookConfiguration in the
    /// `.yaml`/`.yml`/`.json` files directly in `dir`, e.g. `config/webhook` as `kubeforge
    /// manifests` writes it. Other kinds there (the Service, a kustomization.yaml) are
    /// ignored; a missing directory is an error.
    pub fn from_dir(dir: impl Into<PathBuf>) -> Self {
        Self::new().dir(dir)
    }

    /// Also installs the webhook configurations in `dir` (see [`Self::from_dir`]).
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dirs.push(dir.into());
        self
    }

    /// Also installs this MutatingWebhookConfiguration, for tests that build it in code.
    pub fn mutating(mut self, configuration: MutatingWebhookConfiguration) -> Self {
        self.mutating.push(configuration);
        self
    }

    /// Also installs this ValidatingWebhookConfiguration, for tests that build it in code.
    pub fn validating(mut self, configuration: ValidatingWebhookConfiguration) -> Self {
        self.validating.push(configuration);
        self
    }

    /// Turns on conversion through the local webhook server for these CRDs (by name, e.g.
    /// `myapps.apps.example.com`), which must be among those the environment installs.
    ///
    /// CRDs generated into `config/crd/bases` have no `conversion` section (Kubebuilder adds
    /// it with a kustomize patch), so a test of a conversion webhook names them here.
    pub fn conversion_for<S: Into<String>>(mut self, crds: impl IntoIterator<Item = S>) -> Self {
        self.conversion.extend(crds.into_iter().map(Into::into));
        self
    }

    /// Everything from `other` as well.
    pub(crate) fn merge(&mut self, other: WebhookInstall) {
        self.dirs.extend(other.dirs);
        self.mutating.extend(other.mutating);
        self.validating.extend(other.validating);
        self.conversion.extend(other.conversion);
    }

    /// Reads the directories: the configurations to install (files first, then those given
    /// in code) and the CRD names to convert.
    pub(crate) fn load(self) -> Result<(WebhookConfigurations, Vec<String>), Error> {
        let mut all = WebhookConfigurations::default();
        for dir in &self.dirs {
            let found = manifests::read_webhook_dir(dir)?;
            all.mutating.extend(found.mutating);
            all.validating.extend(found.validating);
        }
        all.mutating.extend(self.mutating);
        all.validating.extend(self.validating);
        Ok((all, self.conversion))
    }
}

/// The webhook server the API server of an environment calls: where the test must serve
/// HTTPS, with which certificate, and the CA the API server trusts for it.
///
/// The certificate is valid for `localhost`, `127.0.0.1` and `::1` and lasts a week. The
/// directory is deleted with the environment.
#[derive(Debug)]
pub struct WebhookServer {
    dir: TempDir,
    port: u16,
    ca_pem: String,
}

impl WebhookServer {
    /// Makes the CA and serving pair, writes them into a new temporary directory (in
    /// `parent`, or the system temp dir) and picks a free port.
    pub(crate) fn create(parent: Option<&Path>) -> Result<Self, Error> {
        let pki = WebhookPki::generate()?;
        let mut builder = tempfile::Builder::new();
        builder.prefix("kubeforge-envtest-webhook-");
        let dir = match parent {
            Some(parent) => builder.tempdir_in(parent),
            None => builder.tempdir(),
        }
        .map_err(|e| Error::io("creating the webhook certificate dir", e))?;
        pki.write_files(dir.path())?;
        let [port] = free_ports::<1>()?;
        Ok(WebhookServer {
            dir,
            port,
            ca_pem: pki.ca_pem,
        })
    }

    /// The directory holding `tls.crt` and `tls.key` (the serving pair) and `ca.crt`: what
    /// a Kubebuilder-style manager takes as `--webhook-cert-path`.
    pub fn cert_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `cert_dir()/tls.crt`, the serving certificate (PEM).
    pub fn cert_path(&self) -> PathBuf {
        self.dir.path().join("tls.crt")
    }

    /// `cert_dir()/tls.key`, the serving certificate's private key (PEM, PKCS#8).
    pub fn key_path(&self) -> PathBuf {
        self.dir.path().join("tls.key")
    }

    /// The host every webhook URL names, `127.0.0.1`: where the server must listen.
    pub fn host(&self) -> Ipv4Addr {
        Ipv4Addr::LOCALHOST
    }

    /// The port every webhook URL names. It was free when the environment started; nothing
    /// holds it, so start the server soon.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`, the address to bind.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((self.host(), self.port))
    }

    /// The CA (PEM) that signed the serving certificate; it is every webhook's `caBundle`.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// `https://127.0.0.1:<port><path>`, the URL the API server calls for `path`
    /// (a leading `/` is added if missing).
    pub fn url(&self, path: &str) -> String {
        let slash = if path.starts_with('/') { "" } else { "/" };
        format!("https://{}{slash}{path}", self.addr())
    }

    /// Points a webhook at this server: a `service` becomes a URL with the service's path
    /// (its name, namespace and port mean nothing here) and `caBundle` is set. A webhook
    /// that already has a URL keeps it, and keeps its `caBundle` if it has one.
    pub(crate) fn rewrite_admission(&self, config: &mut AdmissionClientConfig) {
        if let Some(service) = config.service.take() {
            config.url = Some(self.url(service.path.as_deref().unwrap_or("/")));
            config.ca_bundle = Some(self.ca_bundle());
        } else if config.ca_bundle.as_ref().is_none_or(|b| b.0.is_empty()) {
            config.ca_bundle = Some(self.ca_bundle());
        }
    }

    /// Points every webhook of the configurations at this server.
    pub(crate) fn rewrite_configurations(&self, configs: &mut WebhookConfigurations) {
        for webhook in configs
            .mutating
            .iter_mut()
            .flat_map(|c| c.webhooks.iter_mut().flatten())
        {
            self.rewrite_admission(&mut webhook.client_config);
        }
        for webhook in configs
            .validating
            .iter_mut()
            .flat_map(|c| c.webhooks.iter_mut().flatten())
        {
            self.rewrite_admission(&mut webhook.client_config);
        }
    }

    /// Makes `crd` convert through this server if its strategy is `Webhook` or `force`:
    /// the client config becomes a URL (the service's path, else [`CONVERSION_PATH`]) with
    /// this CA, and `conversionReviewVersions` defaults to `["v1"]`.
    pub(crate) fn rewrite_conversion(&self, crd: &mut CustomResourceDefinition, force: bool) {
        let is_webhook = crd
            .spec
            .conversion
            .as_ref()
            .is_some_and(|c| c.strategy == "Webhook");
        if !is_webhook && !force {
            return;
        }
        let conversion = crd
            .spec
            .conversion
            .get_or_insert_with(CustomResourceConversion::default);
        conversion.strategy = "Webhook".into();
        let webhook = conversion
            .webhook
            .get_or_insert_with(WebhookConversion::default);
        if webhook.conversion_review_versions.is_empty() {
            webhook.conversion_review_versions = vec!["v1".into()];
        }
        let config = webhook
            .client_config
            .get_or_insert_with(ConversionClientConfig::default);
        if let Some(service) = config.service.take() {
            config.url = Some(self.url(service.path.as_deref().unwrap_or(CONVERSION_PATH)));
            config.ca_bundle = Some(self.ca_bundle());
        } else if config.url.is_none() {
            config.url = Some(self.url(CONVERSION_PATH));
            config.ca_bundle = Some(self.ca_bundle());
        } else if config.ca_bundle.as_ref().is_none_or(|b| b.0.is_empty()) {
            config.ca_bundle = Some(self.ca_bundle());
        }
    }

    /// Rewrites the conversion of every CRD whose strategy is `Webhook` or whose name is in
    /// `names`. With `require_all`, a name that matches no CRD is an error: a mistyped name
    /// must not silently test without conversion.
    pub(crate) fn rewrite_crds(
        &self,
        crds: &mut [CustomResourceDefinition],
        names: &[String],
        require_all: bool,
    ) -> Result<(), Error> {
        if require_all {
            let missing: Vec<&str> = names
                .iter()
                .filter(|n| !crds.iter().any(|c| c.metadata.name.as_ref() == Some(*n)))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                let installed: Vec<&str> = crds
                    .iter()
                    .filter_map(|c| c.metadata.name.as_deref())
                    .collect();
                return Err(Error::Webhook(format!(
                    "conversion webhook asked for CRD(s) {} that the environment does not install; installed: [{}]",
                    missing.join(", "),
                    installed.join(", ")
                )));
            }
        }
        for crd in crds {
            let force = crd
                .metadata
                .name
                .as_ref()
                .is_some_and(|n| names.contains(n));
            self.rewrite_conversion(crd, force);
        }
        Ok(())
    }

    fn ca_bundle(&self) -> ByteString {
        ByteString(self.ca_pem.as_bytes().to_vec())
    }
}

/// Creates or updates the webhook configurations by server-side apply, then waits until each
/// can be read back (controller-runtime's `WaitForWebhooks`).
pub(crate) async fn install(
    client: &kube::Client,
    configs: &WebhookConfigurations,
) -> Result<(), Error> {
    let mutating: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    let validating: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    for config in &configs.mutating {
        apply(&mutating, config).await?;
    }
    for config in &configs.validating {
        apply(&validating, config).await?;
    }
    let deadline = Instant::now() + EXIST_TIMEOUT;
    for config in &configs.mutating {
        wait_exists(&mutating, config, deadline).await?;
    }
    for config in &configs.validating {
        wait_exists(&validating, config, deadline).await?;
    }
    Ok(())
}

fn describe<K: Resource<DynamicType = ()>>(object: &K) -> String {
    format!(
        "{} {}",
        K::kind(&()),
        object.meta().name.as_deref().unwrap_or_default()
    )
}

async fn apply<K>(api: &Api<K>, object: &K) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    let name = object.meta().name.clone().unwrap_or_default();
    let mut object = object.clone();
    // Server-side apply rejects these if they came from a dumped object.
    object.meta_mut().resource_version = None;
    object.meta_mut().managed_fields = None;
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&object),
    )
    .await
    .map_err(|e| Error::kube(format!("installing {}", describe(&object)), e))?;
    Ok(())
}

async fn wait_exists<K>(api: &Api<K>, object: &K, deadline: Instant) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let name = object.meta().name.as_deref().unwrap_or_default();
    loop {
        let last = match api.get_opt(name).await {
            Ok(Some(_)) => return Ok(()),
            Ok(None) => "not found".to_string(),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(Error::Timeout(format!(
                "{} not readable after installing it: {last}",
                describe(object)
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    fn server() -> WebhookServer {
        WebhookServer::create(None).expect("webhook server")
    }

    const VALIDATING: &str = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: validating-webhook-configuration
webhooks:
- admissionReviewVersions: [v1]
  clientConfig:
    service:
      name: webhook-service
      namespace: system
      path: /validate-apps-example-com-v1-myapp
      port: 443
  failurePolicy: Fail
  name: vmyapp-v1.kb.io
  rules:
  - apiGroups: [apps.example.com]
    apiVersions: [v1]
    operations: [CREATE, UPDATE]
    resources: [myapps]
  sideEffects: None
- admissionReviewVersions: [v1]
  clientConfig:
    url: https://example.com/elsewhere
    caBundle: Zm9v
  name: external.kb.io
  sideEffects: None
"#;

    #[test]
    fn service_client_configs_become_local_urls_with_the_webhook_ca() {
        let server = server();
        let doc: serde_json::Value = serde_saphyr::from_str(VALIDATING).expect("yaml");
        let mut configs = WebhookConfigurations {
            mutating: Vec::new(),
            validating: vec![serde_json::from_value(doc).expect("typed")],
        };
        server.rewrite_configurations(&mut configs);

        // What the API server receives, serialized as it would be sent.
        let sent = serde_json::to_value(&configs.validating[0]).expect("json");
        let local = &sent["webhooks"][0]["clientConfig"];
        assert_eq!(
            local["url"],
            format!(
                "https://127.0.0.1:{}/validate-apps-example-com-v1-myapp",
                server.port()
            )
        );
        assert!(local.get("service").is_none(), "{local}");
        let bundle = STANDARD
            .decode(local["caBundle"].as_str().expect("caBundle is a string"))
            .expect("base64");
        assert_eq!(bundle, server.ca_pem().as_bytes());
        assert!(server.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        // Everything else is untouched.
        assert_eq!(sent["webhooks"][0]["failurePolicy"], "Fail");
        assert_eq!(sent["webhooks"][0]["rules"][0]["resources"][0], "myapps");

        // A URL webhook keeps its URL and its own CA.
        let external = &sent["webhooks"][1]["clientConfig"];
        assert_eq!(external["url"], "https://example.com/elsewhere");
        assert_eq!(external["caBundle"], "Zm9v");
    }

    #[test]
    fn a_service_without_a_path_is_called_at_the_root() {
        let server = server();
        let mut config = AdmissionClientConfig {
            service: Some(
                k8s_openapi::api::admissionregistration::v1::ServiceReference {
                    name: "webhook-service".into(),
                    namespace: "system".into(),
                    path: None,
                    port: Some(8443),
                },
            ),
            ..AdmissionClientConfig::default()
        };
        server.rewrite_admission(&mut config);
        assert_eq!(config.url, Some(format!("https://{}/", server.addr())));
        assert!(config.service.is_none());
        assert!(config.ca_bundle.is_some());
    }

    fn crd(conversion: serde_json::Value) -> CustomResourceDefinition {
        let mut doc = serde_json::json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": { "name": "myapps.apps.example.com" },
            "spec": {
                "group": "apps.example.com",
                "names": { "kind": "MyApp", "plural": "myapps" },
                "scope": "Namespaced",
                "versions": []
            }
        });
        if !conversion.is_null() {
            doc["spec"]["conversion"] = conversion;
        }
        serde_json::from_value(doc).expect("crd")
    }

    fn conversion_config(crd: &CustomResourceDefinition) -> serde_json::Value {
        serde_json::to_value(crd).expect("json")["spec"]["conversion"].clone()
    }

    #[test]
    fn conversion_webhooks_keep_the_service_path_and_get_the_ca() {
        let server = server();
        // As Kubebuilder's config/crd/patches/webhook_in_<kind>.yaml writes it.
        let mut patched = crd(serde_json::json!({
            "strategy": "Webhook",
            "webhook": {
                "clientConfig": { "service": {
                    "name": "webhook-service", "namespace": "system", "path": "/custom-convert"
                } },
                "conversionReviewVersions": ["v1"]
            }
        }));
        server.rewrite_conversion(&mut patched, false);
        let got = conversion_config(&patched);
        assert_eq!(got["strategy"], "Webhook");
        let client = &got["webhook"]["clientConfig"];
        assert_eq!(client["url"], server.url("/custom-convert"));
        assert!(client.get("service").is_none(), "{client}");
        let bundle = STANDARD
            .decode(client["caBundle"].as_str().expect("caBundle"))
            .expect("base64");
        assert_eq!(bundle, server.ca_pem().as_bytes());
        assert_eq!(
            got["webhook"]["conversionReviewVersions"],
            serde_json::json!(["v1"])
        );
    }

    #[test]
    fn conversion_is_only_added_where_asked_for() {
        let server = server();
        let mut plain = crd(serde_json::Value::Null);
        server.rewrite_conversion(&mut plain, false);
        assert!(
            plain.spec.conversion.is_none(),
            "a CRD nobody asked conversion for is left alone"
        );
        let mut none = crd(serde_json::json!({ "strategy": "None" }));
        server
            .rewrite_crds(std::slice::from_mut(&mut none), &[], true)
            .expect("rewrite");
        assert_eq!(
            conversion_config(&none),
            serde_json::json!({ "strategy": "None" })
        );

        let mut asked = crd(serde_json::Value::Null);
        server
            .rewrite_crds(
                std::slice::from_mut(&mut asked),
                &["myapps.apps.example.com".to_string()],
                true,
            )
            .expect("rewrite");
        let got = conversion_config(&asked);
        assert_eq!(got["strategy"], "Webhook");
        assert_eq!(
            got["webhook"]["clientConfig"]["url"],
            format!("https://127.0.0.1:{}/convert", server.port())
        );
        assert_eq!(
            got["webhook"]["conversionReviewVersions"],
            serde_json::json!(["v1"])
        );
        assert!(got["webhook"]["clientConfig"]["caBundle"].is_string());
    }

    #[test]
    fn conversion_for_an_unknown_crd_is_an_error_listing_the_installed_ones() {
        let server = server();
        let mut crds = [crd(serde_json::Value::Null)];
        let err = server
            .rewrite_crds(&mut crds, &["myaps.apps.example.com".to_string()], true)
            .expect_err("typo")
            .to_string();
        assert!(err.contains("myaps.apps.example.com"), "{err}");
        assert!(
            err.contains("installed: [myapps.apps.example.com]"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
        // Later installs (one directory of several) may name CRDs installed elsewhere.
        server
            .rewrite_crds(&mut crds, &["other.example.com".to_string()], false)
            .expect("not required");
    }

    #[test]
    fn the_cert_dir_holds_the_pair_and_ca_and_urls_use_the_port() {
        let server = server();
        for file in ["tls.crt", "tls.key", "ca.crt"] {
            assert!(server.cert_dir().join(file).is_file(), "{file}");
        }
        assert_eq!(server.cert_path(), server.cert_dir().join("tls.crt"));
        assert_eq!(server.key_path(), server.cert_dir().join("tls.key"));
        assert_eq!(
            std::fs::read_to_string(server.cert_dir().join("ca.crt")).expect("ca"),
            server.ca_pem()
        );
        assert_ne!(server.port(), 0);
        assert_eq!(
            server.url("validate-x"),
            format!("https://127.0.0.1:{}/validate-x", server.port())
        );
        let dir = server.cert_dir().to_owned();
        drop(server);
        assert!(!dir.exists(), "the cert dir is removed with the server");
    }
}
