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

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
#[cfg(feature = "client")]
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use serde_json::{Map, Value};
use tempfile::TempDir;

use crate::Error;
use crate::api::ApiClient;
use crate::certs::WebhookPki;
use crate::control_plane::free_ports;
use crate::manifests::{self, Object, WebhookConfigurations};

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
    #[cfg(feature = "client")]
    mutating: Vec<MutatingWebhookConfiguration>,
    #[cfg(feature = "client")]
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
    #[cfg(feature = "client")]
    pub fn mutating(mut self, configuration: MutatingWebhookConfiguration) -> Self {
        self.mutating.push(configuration);
        self
    }

    /// Also installs this ValidatingWebhookConfiguration, for tests that build it in code.
    #[cfg(feature = "client")]
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
        #[cfg(feature = "client")]
        {
            self.mutating.extend(other.mutating);
            self.validating.extend(other.validating);
        }
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
        #[cfg(feature = "client")]
        {
            for config in &self.mutating {
                all.mutating
                    .push(from_code(config, "MutatingWebhookConfiguration")?);
            }
            for config in &self.validating {
                all.validating
                    .push(from_code(config, "ValidatingWebhookConfiguration")?);
            }
        }
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

    /// Points a webhook's `clientConfig` at this server: a `service` becomes a URL with the
    /// service's path (its name, namespace and port mean nothing here) and `caBundle` is set.
    /// A webhook that already has a URL keeps it, and keeps its `caBundle` if it has one.
    pub(crate) fn rewrite_admission(&self, config: &mut Map<String, Value>) {
        match config.remove("service").filter(|s| !s.is_null()) {
            Some(service) => {
                let path = service.get("path").and_then(Value::as_str).unwrap_or("/");
                config.insert("url".into(), self.url(path).into());
                config.insert("caBundle".into(), self.ca_bundle());
            }
            None if !has_ca_bundle(config) => {
                config.insert("caBundle".into(), self.ca_bundle());
            }
            None => {}
        }
    }

    /// Points every webhook of the configurations at this server.
    pub(crate) fn rewrite_configurations(&self, configs: &mut WebhookConfigurations) {
        for config in configs.mutating.iter_mut().chain(&mut configs.validating) {
            let webhooks = config.doc.get_mut("webhooks").and_then(Value::as_array_mut);
            for webhook in webhooks.into_iter().flatten() {
                if let Some(client) = webhook
                    .get_mut("clientConfig")
                    .and_then(Value::as_object_mut)
                {
                    self.rewrite_admission(client);
                }
            }
        }
    }

    /// Makes `crd` convert through this server if its strategy is `Webhook` or `force`:
    /// the client config becomes a URL (the service's path, else [`CONVERSION_PATH`]) with
    /// this CA, and `conversionReviewVersions` defaults to `["v1"]`.
    pub(crate) fn rewrite_conversion(&self, crd: &mut Value, force: bool) {
        let is_webhook = crd
            .pointer("/spec/conversion/strategy")
            .is_some_and(|s| s == "Webhook");
        if !is_webhook && !force {
            return;
        }
        let Some(spec) = crd.get_mut("spec").and_then(Value::as_object_mut) else {
            return;
        };
        let mut conversion = take_object(spec, "conversion");
        conversion.insert("strategy".into(), "Webhook".into());
        let mut webhook = take_object(&mut conversion, "webhook");
        let no_versions = webhook
            .get("conversionReviewVersions")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        if no_versions {
            webhook.insert("conversionReviewVersions".into(), serde_json::json!(["v1"]));
        }
        let mut config = take_object(&mut webhook, "clientConfig");
        let has_url = config.get("url").is_some_and(|u| !u.is_null());
        match config.remove("service").filter(|s| !s.is_null()) {
            Some(service) => {
                let path = service
                    .get("path")
                    .and_then(Value::as_str)
                    .unwrap_or(CONVERSION_PATH);
                config.insert("url".into(), self.url(path).into());
                config.insert("caBundle".into(), self.ca_bundle());
            }
            None if !has_url => {
                config.insert("url".into(), self.url(CONVERSION_PATH).into());
                config.insert("caBundle".into(), self.ca_bundle());
            }
            None if !has_ca_bundle(&config) => {
                config.insert("caBundle".into(), self.ca_bundle());
            }
            None => {}
        }
        webhook.insert("clientConfig".into(), config.into());
        conversion.insert("webhook".into(), webhook.into());
        spec.insert("conversion".into(), conversion.into());
    }

    /// Rewrites the conversion of every CRD whose strategy is `Webhook` or whose name is in
    /// `names`. With `require_all`, a name that matches no CRD is an error: a mistyped name
    /// must not silently test without conversion.
    pub(crate) fn rewrite_crds(
        &self,
        crds: &mut [Object],
        names: &[String],
        require_all: bool,
    ) -> Result<(), Error> {
        if require_all {
            let missing: Vec<&str> = names
                .iter()
                .filter(|n| !crds.iter().any(|c| &c.name == *n))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                let installed: Vec<&str> = crds.iter().map(|c| c.name.as_str()).collect();
                return Err(Error::Webhook(format!(
                    "conversion webhook asked for CRD(s) {} that the environment does not install; installed: [{}]",
                    missing.join(", "),
                    installed.join(", ")
                )));
            }
        }
        for crd in crds {
            let force = names.contains(&crd.name);
            self.rewrite_conversion(&mut crd.doc, force);
        }
        Ok(())
    }

    /// The CA as a `caBundle`: base64 of the PEM, as the API expects `[]byte` in JSON.
    fn ca_bundle(&self) -> Value {
        STANDARD.encode(self.ca_pem.as_bytes()).into()
    }
}

/// Whether a client config names a CA of its own.
fn has_ca_bundle(config: &Map<String, Value>) -> bool {
    config
        .get("caBundle")
        .and_then(Value::as_str)
        .is_some_and(|b| !b.is_empty())
}

/// Removes the object at `key` from `map` to be rewritten and put back; an empty one if
/// there is none (missing or `null`).
fn take_object(map: &mut Map<String, Value>, key: &str) -> Map<String, Value> {
    match map.remove(key) {
        Some(Value::Object(object)) => object,
        _ => Map::new(),
    }
}

/// A webhook configuration given in code, as JSON.
#[cfg(feature = "client")]
fn from_code(config: &impl serde::Serialize, kind: &str) -> Result<Object, Error> {
    let doc = serde_json::to_value(config)
        .map_err(|e| Error::Object(format!("encoding a {kind} given in code: {e}")))?;
    Object::webhook_configuration(doc, kind)
        .map_err(|e| Error::Object(format!("a {kind} given in code: {e}")))
}

const ADMISSION_PATH: &str = "/apis/admissionregistration.k8s.io/v1";

/// Creates or updates the webhook configurations by server-side apply, then waits until each
/// can be read back (controller-runtime's `WaitForWebhooks`).
pub(crate) async fn install(api: &ApiClient, configs: &WebhookConfigurations) -> Result<(), Error> {
    let all = || {
        let mutating = configs.mutating.iter().map(|c| {
            (
                "MutatingWebhookConfiguration",
                "mutatingwebhookconfigurations",
                c,
            )
        });
        let validating = configs.validating.iter().map(|c| {
            (
                "ValidatingWebhookConfiguration",
                "validatingwebhookconfigurations",
                c,
            )
        });
        mutating.chain(validating)
    };
    for (kind, plural, config) in all() {
        api.apply(
            &format!("{ADMISSION_PATH}/{plural}/{}", config.name),
            &config.doc,
        )
        .await
        .map_err(|e| e.during(format!("installing {kind} {}", config.name)))?;
    }
    let deadline = Instant::now() + EXIST_TIMEOUT;
    for (kind, plural, config) in all() {
        let path = format!("{ADMISSION_PATH}/{plural}/{}", config.name);
        loop {
            let last = match api.get_opt(&path).await {
                Ok(Some(_)) => break,
                Ok(None) => "not found".to_string(),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(Error::Timeout(format!(
                    "{kind} {} not readable after installing it: {last}",
                    config.name
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
            validating: vec![
                Object::webhook_configuration(doc, "ValidatingWebhookConfiguration")
                    .expect("valid"),
            ],
        };
        server.rewrite_configurations(&mut configs);

        // What the API server receives.
        let sent = &configs.validating[0].doc;
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

    #[cfg(feature = "client")]
    #[test]
    fn configurations_given_in_code_are_installed_like_those_from_files() {
        let doc: serde_json::Value = serde_saphyr::from_str(VALIDATING).expect("yaml");
        let typed: ValidatingWebhookConfiguration = serde_json::from_value(doc).expect("typed");
        let (configs, conversion) = WebhookInstall::new()
            .validating(typed)
            .conversion_for(["myapps.apps.example.com"])
            .load()
            .expect("load");
        assert!(configs.mutating.is_empty());
        let [config] = configs.validating.as_slice() else {
            panic!("one configuration: {configs:?}");
        };
        assert_eq!(config.name, "validating-webhook-configuration");
        assert_eq!(
            config.doc["webhooks"][0]["clientConfig"]["service"]["path"],
            "/validate-apps-example-com-v1-myapp"
        );
        assert_eq!(conversion, ["myapps.apps.example.com"]);

        let err = WebhookInstall::new()
            .mutating(MutatingWebhookConfiguration::default())
            .load()
            .expect_err("a configuration without a name")
            .to_string();
        assert!(
            err.starts_with("a MutatingWebhookConfiguration given in code: ")
                && err.contains("name"),
            "{err}"
        );
    }

    #[test]
    fn a_service_without_a_path_is_called_at_the_root() {
        let server = server();
        let mut config = serde_json::json!({
            "service": { "name": "webhook-service", "namespace": "system", "port": 8443 }
        });
        let config = config.as_object_mut().expect("an object");
        server.rewrite_admission(config);
        assert_eq!(
            config.get("url"),
            Some(&format!("https://{}/", server.addr()).into())
        );
        assert!(!config.contains_key("service"));
        assert!(has_ca_bundle(config));
    }

    fn crd(conversion: serde_json::Value) -> Object {
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
        Object::crd(doc).expect("crd")
    }

    fn conversion_config(crd: &Object) -> serde_json::Value {
        crd.doc["spec"]["conversion"].clone()
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
        server.rewrite_conversion(&mut patched.doc, false);
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
        server.rewrite_conversion(&mut plain.doc, false);
        assert!(
            plain.doc["spec"].get("conversion").is_none(),
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
