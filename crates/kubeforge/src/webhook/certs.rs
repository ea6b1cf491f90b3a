//! Self-managed webhook certificates: the manager makes its own CA and
//! serving certificate, keeps them in one Secret every replica shares, and
//! writes the CA into its webhook configurations and CRD conversion stanzas,
//! so webhooks work without cert-manager (what OPA's cert-controller does
//! for Go operators).
//!
//! The Secret (`kubernetes.io/tls`: `tls.crt`, `tls.key`, `ca.crt`, plus
//! `ca.key` so the CA can sign renewals) is the single source of truth.
//! Every replica, leader or not, runs the same loop:
//!
//! 1. read the Secret; if it is missing, generate a CA and a certificate and
//!    `create` it (AlreadyExists: another replica won, use its); if it needs
//!    renewal, generate and `replace` it at the resourceVersion read
//!    (Conflict: another replica renewed first, use its). So replicas
//!    converge on one certificate.
//! 2. make every named webhook configuration entry's and CRD conversion's
//!    `caBundle` equal `ca.crt` (patched only when different), so a
//!    `kubectl apply` that resets it is repaired on the next round;
//! 3. serve the Secret's certificate.
//!
//! `ca.crt` holds the current CA first and, after a CA rotation, the previous
//! CAs until they expire, so a replica still serving a certificate from the
//! old CA stays trusted while the others catch up.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DynamicObject, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use rcgen::PublicKeyData as _;
use serde_json::json;

use crate::manager::error_chain;
use crate::tls::{Origin, ServingCert};

/// The Secret key of the serving certificate (a TLS Secret's).
pub const TLS_CERT_KEY: &str = "tls.crt";
/// The Secret key of the serving certificate's private key.
pub const TLS_KEY_KEY: &str = "tls.key";
/// The Secret key of the CA bundle the API server is given (current CA first).
pub const CA_CERT_KEY: &str = "ca.crt";
/// The Secret key of the current CA's private key, to sign renewals.
pub const CA_KEY_KEY: &str = "ca.key";

/// How long a generated CA is valid unless configured otherwise.
pub const DEFAULT_CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// How long a generated serving certificate is valid unless configured otherwise.
pub const DEFAULT_CERT_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// How often every replica re-reads the Secret and re-checks the caBundles.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(3600);
/// How soon a failed round (or one before any certificate) is retried.
const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(10);
/// Certificates start this much in the past, for clocks running behind.
const BACKDATE: Duration = Duration::from_secs(3600);
/// Rounds of read-then-write before a Secret that keeps changing is an error.
const WRITE_ATTEMPTS: usize = 5;

/// Why self-managed certificates could not be made, stored or injected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// A request to the API server failed (403: the manager lacks the RBAC
    /// of config/selfmanaged-certs).
    #[error("cannot {action}: {source}")]
    Kube {
        /// What was attempted, naming the object.
        action: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// rcgen could not generate a key or certificate.
    #[error("cannot generate a webhook certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The configuration cannot produce a certificate.
    #[error("self-managed webhook certificates: {0}")]
    Config(String),
    /// The Secret kept changing under us.
    #[error("Secret {0} changed during each of {WRITE_ATTEMPTS} attempts to update it; will retry")]
    Contended(String),
}

fn kube_error(action: impl Into<String>) -> impl FnOnce(kube::Error) -> CertError {
    let action = action.into();
    move |source| CertError::Kube { action, source }
}

/// The certificate every replica serves and the CA bundle that trusts it,
/// as stored in the Secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ServingCertificate {
    cert_pem: String,
    key_pem: String,
    ca_bundle_pem: String,
}

impl std::fmt::Debug for ServingCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("ServingCertificate")
            .field("cert_pem", &self.cert_pem)
            .field("ca_bundle_pem", &self.ca_bundle_pem)
            .finish_non_exhaustive()
    }
}

impl ServingCertificate {
    /// The serving certificate (PEM), `tls.crt`.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Its private key (PEM), `tls.key`.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The CAs the API server must trust (PEM, current first), `ca.crt`:
    /// what goes into every `caBundle`.
    pub fn ca_bundle_pem(&self) -> &str {
        &self.ca_bundle_pem
    }
}

/// What one caBundle injection found.
#[derive(Debug)]
#[non_exhaustive]
pub enum Injection {
    /// Every caBundle already matched.
    Unchanged,
    /// At least one caBundle was patched.
    Patched,
    /// The object does not exist (yet): tried again next round.
    Missing,
    /// The CRD has no conversion webhook to trust the CA.
    NoConversionWebhook,
}

/// One object the CA bundle goes into.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Target {
    /// A MutatingWebhookConfiguration: every webhook entry.
    Mutating(String),
    /// A ValidatingWebhookConfiguration: every webhook entry.
    Validating(String),
    /// A CustomResourceDefinition's `spec.conversion.webhook.clientConfig`.
    ConversionCrd(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Mutating(name) => write!(f, "MutatingWebhookConfiguration {name}"),
            Target::Validating(name) => write!(f, "ValidatingWebhookConfiguration {name}"),
            Target::ConversionCrd(name) => write!(f, "CustomResourceDefinition {name}"),
        }
    }
}

/// Self-managed webhook certificates: where they are kept, what they are
/// for, and where their CA goes.
///
/// ```no_run
/// # use kubeforge::webhook::{SelfManagedCerts, WebhookConfig, WebhookServer};
/// # fn demo(client: kube::Client) {
/// let certs = SelfManagedCerts::new("myapp-system", "webhook-server-cert")
///     .service("myapp-webhook-service", "myapp-system")
///     .mutating_configuration("myapp-mutating-webhook-configuration")
///     .validating_configuration("myapp-validating-webhook-configuration")
///     .conversion_crd("myapps.apps.example.com");
/// let server = WebhookServer::new(WebhookConfig::new()).self_managed_certs(certs, client);
/// # let _ = server;
/// # }
/// ```
///
/// With several replicas each runs it: they share the Secret, so they serve
/// one certificate. A manager's `--webhook-cert-mode=self-managed` sets it
/// up from its flags.
#[derive(Clone, Debug)]
pub struct SelfManagedCerts {
    namespace: String,
    secret_name: String,
    dns_names: Vec<String>,
    ip_addresses: Vec<IpAddr>,
    targets: Vec<Target>,
    ca_validity: Duration,
    cert_validity: Duration,
    renew_fraction: f64,
    check_interval: Duration,
    retry_interval: Duration,
}

impl SelfManagedCerts {
    /// Certificates kept in Secret `namespace/secret_name`, with the
    /// defaults: CA valid 10 years, serving certificate 1 year, either
    /// renewed once less than a third of its lifetime is left, checked
    /// every hour.
    pub fn new(namespace: impl Into<String>, secret_name: impl Into<String>) -> Self {
        SelfManagedCerts {
            namespace: namespace.into(),
            secret_name: secret_name.into(),
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            targets: Vec::new(),
            ca_validity: DEFAULT_CA_VALIDITY,
            cert_validity: DEFAULT_CERT_VALIDITY,
            renew_fraction: 1.0 / 3.0,
            check_interval: DEFAULT_CHECK_INTERVAL,
            retry_interval: DEFAULT_RETRY_INTERVAL,
        }
    }

    /// Adds DNS names to the serving certificate.
    #[must_use]
    pub fn dns_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        for name in names {
            let name = name.into();
            if !self.dns_names.contains(&name) {
                self.dns_names.push(name);
            }
        }
        self
    }

    /// Adds the names the API server uses to reach Service `name` in
    /// `namespace`: `name`, `name.ns`, `name.ns.svc`, `name.ns.svc.cluster.local`.
    #[must_use]
    pub fn service(self, name: &str, namespace: &str) -> Self {
        self.dns_names([
            name.to_owned(),
            format!("{name}.{namespace}"),
            format!("{name}.{namespace}.svc"),
            format!("{name}.{namespace}.svc.cluster.local"),
        ])
    }

    /// Adds IP addresses to the serving certificate (e.g. 127.0.0.1 in tests).
    #[must_use]
    pub fn ip_addresses(mut self, addresses: impl IntoIterator<Item = IpAddr>) -> Self {
        for address in addresses {
            if !self.ip_addresses.contains(&address) {
                self.ip_addresses.push(address);
            }
        }
        self
    }

    /// Writes the CA into every webhook of this MutatingWebhookConfiguration.
    #[must_use]
    pub fn mutating_configuration(self, name: impl Into<String>) -> Self {
        self.target(Target::Mutating(name.into()))
    }

    /// Writes the CA into every webhook of this ValidatingWebhookConfiguration.
    #[must_use]
    pub fn validating_configuration(self, name: impl Into<String>) -> Self {
        self.target(Target::Validating(name.into()))
    }

    /// Writes the CA into this CRD's conversion webhook (by name, e.g.
    /// `myapps.apps.example.com`).
    #[must_use]
    pub fn conversion_crd(self, name: impl Into<String>) -> Self {
        self.target(Target::ConversionCrd(name.into()))
    }

    fn target(mut self, target: Target) -> Self {
        if !self.targets.contains(&target) {
            self.targets.push(target);
        }
        self
    }

    /// How long a new CA is valid (10 years).
    #[must_use]
    pub fn ca_validity(mut self, validity: Duration) -> Self {
        self.ca_validity = validity;
        self
    }

    /// How long a new serving certificate is valid (1 year; never past its CA).
    #[must_use]
    pub fn cert_validity(mut self, validity: Duration) -> Self {
        self.cert_validity = validity;
        self
    }

    /// Renew a certificate once less than this fraction of its lifetime is
    /// left (a third); clamped to 0.01..=0.99.
    #[must_use]
    pub fn renew_when_remaining(mut self, fraction: f64) -> Self {
        self.renew_fraction = if fraction.is_nan() {
            1.0 / 3.0
        } else {
            fraction.clamp(0.01, 0.99)
        };
        self
    }

    /// How often the Secret and the caBundles are checked (1 hour); a failed
    /// round is retried after at most 10 seconds.
    #[must_use]
    pub fn check_interval(mut self, interval: Duration) -> Self {
        self.check_interval = interval;
        self.retry_interval = self.retry_interval.min(interval);
        self
    }

    /// The Secret's namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The Secret's name.
    pub fn secret_name(&self) -> &str {
        &self.secret_name
    }

    /// The objects the CA bundle is written into.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    fn secret_id(&self) -> String {
        format!("{}/{}", self.namespace, self.secret_name)
    }

    fn subject_alt_names(&self) -> Vec<String> {
        self.dns_names
            .iter()
            .cloned()
            .chain(self.ip_addresses.iter().map(IpAddr::to_string))
            .collect()
    }

    fn policy(&self) -> Policy {
        Policy {
            names: self.subject_alt_names(),
            ca_validity: self.ca_validity,
            cert_validity: self.cert_validity,
            renew_fraction: self.renew_fraction,
        }
    }

    /// Reads the Secret and makes sure it holds a current certificate:
    /// creates it if missing, renews what is due (or unusable), and returns
    /// what is stored, which is what another replica wrote if it got there
    /// first.
    pub async fn reconcile(&self, client: &Client) -> Result<ServingCertificate, CertError> {
        self.write_loop(client, false).await
    }

    /// Replaces the CA and the serving certificate now, whatever their age;
    /// the old CA stays in the bundle until it expires. For tests, and for
    /// an operator who suspects a key leaked.
    pub async fn rotate(&self, client: &Client) -> Result<ServingCertificate, CertError> {
        self.write_loop(client, true).await
    }

    async fn write_loop(
        &self,
        client: &Client,
        mut force_new_ca: bool,
    ) -> Result<ServingCertificate, CertError> {
        let policy = self.policy();
        if policy.names.is_empty() {
            return Err(CertError::Config(
                "no DNS name or IP address for the serving certificate; give the webhook Service (--webhook-service-name)".into(),
            ));
        }
        let api: Api<Secret> = Api::namespaced(client.clone(), &self.namespace);
        let id = self.secret_id();
        for _ in 0..WRITE_ATTEMPTS {
            let now = SystemTime::now();
            let existing = api
                .get_opt(&self.secret_name)
                .await
                .map_err(kube_error(format!("read Secret {id}")))?;
            let Some(mut secret) = existing else {
                let data = policy.generate(&BTreeMap::new(), Plan::NewCa("none yet"), now)?;
                let secret = Secret {
                    metadata: ObjectMeta {
                        name: Some(self.secret_name.clone()),
                        namespace: Some(self.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    type_: Some("kubernetes.io/tls".into()),
                    data: Some(data),
                    ..Secret::default()
                };
                match api.create(&PostParams::default(), &secret).await {
                    Ok(created) => {
                        tracing::info!(secret = %id, "created the webhook CA and serving certificate");
                        return stored(&created, &id);
                    }
                    // Another replica created it first: use its.
                    Err(kube::Error::Api(status)) if status.code == 409 => continue,
                    Err(error) => return Err(kube_error(format!("create Secret {id}"))(error)),
                }
            };
            let data = secret.data.clone().unwrap_or_default();
            let plan = if force_new_ca {
                Plan::NewCa("rotation requested")
            } else {
                policy.decide(&data, now)
            };
            if plan == Plan::Keep {
                return stored(&secret, &id);
            }
            let new_data = policy.generate(&data, plan, now)?;
            secret.data = Some(new_data);
            // The same object with its resourceVersion: a replica that wrote
            // in between makes this fail with 409, and we read its version.
            match api
                .replace(&self.secret_name, &PostParams::default(), &secret)
                .await
            {
                Ok(replaced) => {
                    tracing::info!(secret = %id, reason = plan.reason(), "renewed the webhook certificates");
                    return stored(&replaced, &id);
                }
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    force_new_ca = false;
                    continue;
                }
                Err(error) => return Err(kube_error(format!("update Secret {id}"))(error)),
            }
        }
        Err(CertError::Contended(id))
    }

    /// Makes every target's caBundle equal `bundle_pem`, patching only what
    /// differs; one result per target, in order.
    pub async fn inject_ca_bundle(
        &self,
        client: &Client,
        bundle_pem: &str,
    ) -> Vec<(Target, Result<Injection, CertError>)> {
        let mut results = Vec::new();
        for target in &self.targets {
            let result = inject(client, target, bundle_pem.as_bytes()).await;
            results.push((target.clone(), result));
        }
        results
    }

    /// The loop every replica runs while it serves: reconcile, inject,
    /// serve; again every check interval (sooner after a failure) until
    /// `stop` completes.
    pub(crate) async fn run(
        self,
        client: Client,
        serving: Arc<ServingCert>,
        stop: impl Future<Output = ()>,
    ) {
        let mut stop = std::pin::pin!(stop);
        let mut missing: HashSet<Target> = HashSet::new();
        let origin = format!("Secret {}", self.secret_id());
        loop {
            let healthy = match self.reconcile(&client).await {
                Ok(current) => {
                    // The bundle first: a replica serves a certificate from a
                    // new CA only once the API server has been told to trust it.
                    let injected = self.log_injections(&client, &current, &mut missing).await;
                    let served = match serving.update(
                        current.cert_pem.clone().into_bytes(),
                        current.key_pem.clone().into_bytes(),
                        Origin::Named(&origin),
                    ) {
                        Ok(true) => {
                            tracing::info!(secret = %self.secret_id(), "serving the webhook certificate from the Secret");
                            true
                        }
                        Ok(false) => true,
                        Err(error) => {
                            tracing::warn!(%error, "keeping the previous webhook serving certificate");
                            false
                        }
                    };
                    injected && served
                }
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "self-managed webhook certificates");
                    false
                }
            };
            let wait = if healthy && serving.is_loaded() {
                self.check_interval
            } else {
                self.retry_interval
            };
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Injects and logs; a missing object is logged once until it appears.
    /// `false` if an injection failed.
    async fn log_injections(
        &self,
        client: &Client,
        current: &ServingCertificate,
        missing: &mut HashSet<Target>,
    ) -> bool {
        let mut ok = true;
        for (target, result) in self.inject_ca_bundle(client, &current.ca_bundle_pem).await {
            match result {
                Ok(Injection::Missing) => {
                    if missing.insert(target.clone()) {
                        tracing::warn!(%target, "cannot inject the webhook CA yet: not found; will retry");
                    }
                }
                Ok(Injection::Patched) => {
                    missing.remove(&target);
                    tracing::info!(%target, "injected the webhook CA bundle");
                }
                Ok(Injection::NoConversionWebhook) => {
                    if missing.insert(target.clone()) {
                        tracing::warn!(%target, "has no conversion webhook to inject the CA into");
                    }
                }
                Ok(Injection::Unchanged) => {
                    missing.remove(&target);
                }
                Err(error) => {
                    ok = false;
                    tracing::warn!(%target, error = %error_chain(&error), "cannot inject the webhook CA bundle");
                }
            }
        }
        ok
    }
}

/// The certificate as stored in `secret`.
fn stored(secret: &Secret, id: &str) -> Result<ServingCertificate, CertError> {
    let data = secret.data.clone().unwrap_or_default();
    let text = |key: &str| {
        data.get(key)
            .and_then(|value| String::from_utf8(value.0.clone()).ok())
            .ok_or_else(|| {
                CertError::Config(format!(
                    "Secret {id} has no usable {key} after writing it; is another program writing it?"
                ))
            })
    };
    Ok(ServingCertificate {
        cert_pem: text(TLS_CERT_KEY)?,
        key_pem: text(TLS_KEY_KEY)?,
        ca_bundle_pem: text(CA_CERT_KEY)?,
    })
}

/// One target's caBundle(s) made equal to `bundle` with a JSON patch that
/// first tests the resourceVersion read, so an edit in between is never
/// overwritten (it fails, and the next round sees the edit).
async fn inject(client: &Client, target: &Target, bundle: &[u8]) -> Result<Injection, CertError> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bundle);
    // One code path for the three kinds: each is read as JSON, where a
    // caBundle is the base64 string the API server stores.
    let (resource, name) = match target {
        Target::Mutating(name) => (
            ApiResource::erase::<MutatingWebhookConfiguration>(&()),
            name,
        ),
        Target::Validating(name) => (
            ApiResource::erase::<ValidatingWebhookConfiguration>(&()),
            name,
        ),
        Target::ConversionCrd(name) => (ApiResource::erase::<CustomResourceDefinition>(&()), name),
    };
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let Some(object) = api
        .get_opt(name)
        .await
        .map_err(kube_error(format!("read {target}")))?
    else {
        return Ok(Injection::Missing);
    };
    let differs = |client_config: &serde_json::Value| {
        client_config.get("caBundle").and_then(|b| b.as_str()) != Some(encoded.as_str())
    };
    let paths: Vec<String> = match target {
        Target::Mutating(_) | Target::Validating(_) => object
            .data
            .get("webhooks")
            .and_then(|webhooks| webhooks.as_array())
            .into_iter()
            .flatten()
            .enumerate()
            .filter(|(_, webhook)| differs(&webhook["clientConfig"]))
            .map(|(index, _)| format!("/webhooks/{index}/clientConfig/caBundle"))
            .collect(),
        Target::ConversionCrd(_) => {
            let pointer = "/spec/conversion/webhook/clientConfig";
            let Some(client_config) = object.data.pointer(pointer) else {
                return Ok(Injection::NoConversionWebhook);
            };
            if differs(client_config) {
                vec![format!("{pointer}/caBundle")]
            } else {
                Vec::new()
            }
        }
    };
    if paths.is_empty() {
        return Ok(Injection::Unchanged);
    }
    let mut operations = vec![json!({
        "op": "test",
        "path": "/metadata/resourceVersion",
        "value": object.metadata.resource_version.unwrap_or_default(),
    })];
    operations.extend(
        paths
            .iter()
            .map(|path| json!({"op": "add", "path": path, "value": encoded})),
    );
    let patch: json_patch::Patch = serde_json::from_value(serde_json::Value::Array(operations))
        .map_err(|e| CertError::Config(format!("building the caBundle patch: {e}")))?;
    api.patch(name, &PatchParams::default(), &Patch::Json::<()>(patch))
        .await
        .map_err(kube_error(format!("patch the caBundle of {target}")))?;
    Ok(Injection::Patched)
}

/// What a Secret needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    /// Everything is current.
    Keep,
    /// The CA is fine; only `ca.crt` has expired CAs to drop.
    Rebundle,
    /// A new serving certificate from the current CA, and why.
    NewCert(&'static str),
    /// A new CA and serving certificate, and why.
    NewCa(&'static str),
}

impl Plan {
    fn reason(self) -> &'static str {
        match self {
            Plan::Keep => "current",
            Plan::Rebundle => "expired CAs dropped from the bundle",
            Plan::NewCert(reason) | Plan::NewCa(reason) => reason,
        }
    }
}

/// The pure part: what to make and when, independent of the API server.
#[derive(Clone, Debug)]
struct Policy {
    names: Vec<String>,
    ca_validity: Duration,
    cert_validity: Duration,
    renew_fraction: f64,
}

/// What kubeforge needs to know about a certificate it made.
#[derive(Clone, Debug)]
struct CertInfo {
    der: Vec<u8>,
    not_before: i64,
    not_after: i64,
    names: Vec<String>,
    public_key: Vec<u8>,
}

fn unix(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// Every certificate in a PEM buffer that parses, in order.
fn parse_pem_certs(pem: &[u8]) -> Vec<CertInfo> {
    x509_parser::pem::Pem::iter_from_buffer(pem)
        .map_while(Result::ok)
        .filter(|block| block.label == "CERTIFICATE")
        .filter_map(|block| {
            let cert = block.parse_x509().ok()?;
            let mut names = Vec::new();
            if let Ok(Some(san)) = cert.subject_alternative_name() {
                for name in &san.value.general_names {
                    match name {
                        x509_parser::extensions::GeneralName::DNSName(dns) => {
                            names.push((*dns).to_owned());
                        }
                        x509_parser::extensions::GeneralName::IPAddress(bytes) => {
                            let ip = match bytes.len() {
                                4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                                16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                                _ => None,
                            };
                            names.extend(ip.map(|ip| ip.to_string()));
                        }
                        _ => {}
                    }
                }
            }
            Some(CertInfo {
                der: block.contents.clone(),
                not_before: cert.validity().not_before.timestamp(),
                not_after: cert.validity().not_after.timestamp(),
                names,
                public_key: cert.public_key().subject_public_key.data.to_vec(),
            })
        })
        .collect()
}

/// Whether `issued` was signed by the key of `ca` (both DER).
fn signed_by(issued: &[u8], ca: &[u8]) -> bool {
    let (Ok((_, issued)), Ok((_, ca))) = (
        x509_parser::parse_x509_certificate(issued),
        x509_parser::parse_x509_certificate(ca),
    ) else {
        return false;
    };
    issued.verify_signature(Some(ca.public_key())).is_ok()
}

fn key_pair(pem: &[u8]) -> Option<rcgen::KeyPair> {
    rcgen::KeyPair::from_pem(std::str::from_utf8(pem).ok()?).ok()
}

impl Policy {
    /// Whether a certificate valid `not_before..not_after` is due at `now`:
    /// expired, not yet valid, or less than the renewal fraction left.
    fn due(&self, info: &CertInfo, now: i64) -> bool {
        let lifetime = (info.not_after - info.not_before).max(1) as f64;
        let remaining = (info.not_after - now) as f64;
        now < info.not_before || remaining < lifetime * self.renew_fraction
    }

    /// What the Secret's `data` needs at `now`.
    fn decide(&self, data: &BTreeMap<String, ByteString>, now: SystemTime) -> Plan {
        let now = unix(now);
        let get = |key: &str| data.get(key).map(|v| v.0.as_slice()).unwrap_or_default();
        let bundle = parse_pem_certs(get(CA_CERT_KEY));
        let Some(ca) = bundle.first() else {
            return Plan::NewCa("no CA");
        };
        match key_pair(get(CA_KEY_KEY)) {
            Some(key) if key.der_bytes() == ca.public_key.as_slice() => {}
            _ => return Plan::NewCa("no CA key matching the CA"),
        }
        if self.due(ca, now) {
            return Plan::NewCa("the CA is due for renewal");
        }
        let Some(cert) = parse_pem_certs(get(TLS_CERT_KEY)).into_iter().next() else {
            return Plan::NewCert("no serving certificate");
        };
        match key_pair(get(TLS_KEY_KEY)) {
            Some(key) if key.der_bytes() == cert.public_key.as_slice() => {}
            _ => return Plan::NewCert("no key matching the serving certificate"),
        }
        if !signed_by(&cert.der, &ca.der) {
            return Plan::NewCert("the serving certificate is not from the current CA");
        }
        let mut have = cert.names.clone();
        let mut want = self.names.clone();
        have.sort();
        want.sort();
        if have != want {
            return Plan::NewCert("the serving certificate's names changed");
        }
        if self.due(&cert, now) {
            return Plan::NewCert("the serving certificate is due for renewal");
        }
        if bundle.iter().skip(1).any(|old| old.not_after <= now) {
            return Plan::Rebundle;
        }
        Plan::Keep
    }

    /// The Secret's new `data` for `plan`, keeping what it does not replace.
    fn generate(
        &self,
        data: &BTreeMap<String, ByteString>,
        plan: Plan,
        now: SystemTime,
    ) -> Result<BTreeMap<String, ByteString>, CertError> {
        let get = |key: &str| data.get(key).map(|v| v.0.clone()).unwrap_or_default();
        let old_bundle = get(CA_CERT_KEY);
        let (ca_pem, ca_key_pem) = match plan {
            Plan::Keep => return Ok(data.clone()),
            Plan::NewCa(_) => new_ca(self.ca_validity, now)?,
            Plan::NewCert(_) | Plan::Rebundle => {
                let ca = parse_pem_certs(&old_bundle).into_iter().next();
                let ca_pem = ca.map(|ca| der_to_pem(&ca.der)).unwrap_or_default();
                let key = String::from_utf8(get(CA_KEY_KEY)).unwrap_or_default();
                (ca_pem, key)
            }
        };
        let bundle = merge_bundle(&ca_pem, &old_bundle, unix(now));
        let (cert_pem, key_pem) = match plan {
            Plan::Rebundle => (get(TLS_CERT_KEY), get(TLS_KEY_KEY)),
            _ => {
                let (cert, key) = self.new_cert(&ca_pem, &ca_key_pem, now)?;
                (cert.into_bytes(), key.into_bytes())
            }
        };
        let mut out = data.clone();
        out.insert(TLS_CERT_KEY.into(), ByteString(cert_pem));
        out.insert(TLS_KEY_KEY.into(), ByteString(key_pem));
        out.insert(CA_CERT_KEY.into(), ByteString(bundle.into_bytes()));
        out.insert(CA_KEY_KEY.into(), ByteString(ca_key_pem.into_bytes()));
        Ok(out)
    }

    /// A serving certificate for the names, signed by the CA, valid for
    /// the configured time but never past the CA.
    fn new_cert(
        &self,
        ca_pem: &str,
        ca_key_pem: &str,
        now: SystemTime,
    ) -> Result<(String, String), CertError> {
        let ca_key = rcgen::KeyPair::from_pem(ca_key_pem)?;
        let ca_not_after = parse_pem_certs(ca_pem.as_bytes())
            .first()
            .map(|ca| UNIX_EPOCH + Duration::from_secs(u64::try_from(ca.not_after).unwrap_or(0)));
        let issuer = rcgen::Issuer::from_ca_cert_pem(ca_pem, ca_key)?;
        let mut params = rcgen::CertificateParams::new(self.names.clone())?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(first) = self.names.first() {
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, first.as_str());
        }
        params.not_before = (now - BACKDATE).into();
        let mut not_after = now + self.cert_validity;
        if let Some(limit) = ca_not_after {
            not_after = not_after.min(limit);
        }
        params.not_after = not_after.into();
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let key = rcgen::KeyPair::generate()?;
        let cert = params.signed_by(&key, &issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

/// A new self-signed CA valid from `now` (less [`BACKDATE`]) for `validity`.
fn new_ca(validity: Duration, now: SystemTime) -> Result<(String, String), CertError> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.distinguished_name = rcgen::DistinguishedName::new();
    // A distinct subject per CA, so old and new CAs in one bundle never
    // look like the same issuer to a verifier.
    let stamp = unix(now);
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("kubeforge webhook CA {stamp}"),
    );
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = (now - BACKDATE).into();
    params.not_after = (now + validity).into();
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn der_to_pem(der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// The bundle after (re)issuing from `current_ca_pem`: it first, then every
/// CA of `previous` that is neither it nor expired at `now`, each once.
fn merge_bundle(current_ca_pem: &str, previous: &[u8], now: i64) -> String {
    let current = parse_pem_certs(current_ca_pem.as_bytes());
    let mut seen: Vec<Vec<u8>> = current.iter().map(|c| c.der.clone()).collect();
    let mut bundle: String = current.iter().map(|c| der_to_pem(&c.der)).collect();
    for old in parse_pem_certs(previous) {
        if old.not_after > now && !seen.contains(&old.der) {
            bundle.push_str(&der_to_pem(&old.der));
            seen.push(old.der);
        }
    }
    bundle
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn policy() -> Policy {
        Policy {
            names: vec!["svc.ns.svc".into(), "127.0.0.1".into()],
            ca_validity: 300 * DAY,
            cert_validity: 30 * DAY,
            renew_fraction: 1.0 / 3.0,
        }
    }

    fn fresh(now: SystemTime) -> BTreeMap<String, ByteString> {
        policy()
            .generate(&BTreeMap::new(), Plan::NewCa("test"), now)
            .unwrap()
    }

    #[test]
    fn a_fresh_secret_is_kept() {
        let now = SystemTime::now();
        let data = fresh(now);
        assert_eq!(policy().decide(&data, now), Plan::Keep);
        let cert = &parse_pem_certs(&data[TLS_CERT_KEY].0)[0];
        let mut names = cert.names.clone();
        names.sort();
        assert_eq!(names, ["127.0.0.1", "svc.ns.svc"]);
        assert_eq!(parse_pem_certs(&data[CA_CERT_KEY].0).len(), 1);
    }

    #[test]
    fn an_empty_or_foreign_secret_gets_a_new_ca() {
        let now = SystemTime::now();
        assert!(matches!(
            policy().decide(&BTreeMap::new(), now),
            Plan::NewCa(_)
        ));
        // A cert-manager Secret: a CA but not its key.
        let mut data = fresh(now);
        data.remove(CA_KEY_KEY);
        assert!(matches!(policy().decide(&data, now), Plan::NewCa(_)));
    }

    #[test]
    fn the_serving_certificate_is_renewed_when_a_third_is_left() {
        let start = SystemTime::now();
        let data = fresh(start);
        // 30 days plus the backdated hour: a third left after ~20 days.
        assert_eq!(policy().decide(&data, start + 19 * DAY), Plan::Keep);
        assert_eq!(
            policy().decide(&data, start + 21 * DAY),
            Plan::NewCert("the serving certificate is due for renewal")
        );
        let renewed = policy()
            .generate(
                &data,
                policy().decide(&data, start + 21 * DAY),
                start + 21 * DAY,
            )
            .unwrap();
        assert_eq!(renewed[CA_CERT_KEY], data[CA_CERT_KEY], "same CA");
        assert_ne!(renewed[TLS_CERT_KEY], data[TLS_CERT_KEY]);
        assert_eq!(policy().decide(&renewed, start + 21 * DAY), Plan::Keep);
    }

    #[test]
    fn the_ca_is_renewed_when_a_third_is_left_and_the_old_one_stays_in_the_bundle() {
        let start = SystemTime::now();
        let data = fresh(start);
        let later = start + 201 * DAY;
        assert_eq!(
            policy().decide(&data, later),
            Plan::NewCa("the CA is due for renewal")
        );
        let renewed = policy()
            .generate(&data, Plan::NewCa("test"), later)
            .unwrap();
        let bundle = parse_pem_certs(&renewed[CA_CERT_KEY].0);
        let old_ca = &parse_pem_certs(&data[CA_CERT_KEY].0)[0];
        assert_eq!(bundle.len(), 2);
        assert_eq!(bundle[1].der, old_ca.der, "the old CA follows the new one");
        let cert = &parse_pem_certs(&renewed[TLS_CERT_KEY].0)[0];
        assert!(signed_by(&cert.der, &bundle[0].der));
        assert_eq!(policy().decide(&renewed, later), Plan::Keep);
        // Once the old CA has expired it is dropped.
        let after_expiry = start + 301 * DAY;
        let mut long = policy();
        long.ca_validity = 3000 * DAY;
        long.cert_validity = 300 * DAY;
        let renewed = long.generate(&data, Plan::NewCa("test"), later).unwrap();
        assert_eq!(long.decide(&renewed, after_expiry), Plan::Rebundle);
        let pruned = long
            .generate(&renewed, Plan::Rebundle, after_expiry)
            .unwrap();
        assert_eq!(parse_pem_certs(&pruned[CA_CERT_KEY].0).len(), 1);
        assert_eq!(pruned[TLS_CERT_KEY], renewed[TLS_CERT_KEY]);
    }

    #[test]
    fn changed_names_or_a_foreign_certificate_are_reissued() {
        let now = SystemTime::now();
        let data = fresh(now);
        let mut other = policy();
        other.names.push("svc.ns.svc.cluster.local".into());
        assert_eq!(
            other.decide(&data, now),
            Plan::NewCert("the serving certificate's names changed")
        );
        let mut foreign = data.clone();
        let elsewhere = fresh(now);
        foreign.insert(TLS_CERT_KEY.into(), elsewhere[TLS_CERT_KEY].clone());
        foreign.insert(TLS_KEY_KEY.into(), elsewhere[TLS_KEY_KEY].clone());
        assert_eq!(
            policy().decide(&foreign, now),
            Plan::NewCert("the serving certificate is not from the current CA")
        );
        let mut mismatched = data.clone();
        mismatched.insert(TLS_KEY_KEY.into(), elsewhere[TLS_KEY_KEY].clone());
        assert_eq!(
            policy().decide(&mismatched, now),
            Plan::NewCert("no key matching the serving certificate")
        );
    }

    #[test]
    fn the_serving_certificate_never_outlives_its_ca() {
        let now = SystemTime::now();
        let mut short_ca = policy();
        short_ca.ca_validity = 10 * DAY;
        let data = short_ca
            .generate(&BTreeMap::new(), Plan::NewCa("test"), now)
            .unwrap();
        let ca = &parse_pem_certs(&data[CA_CERT_KEY].0)[0];
        let cert = &parse_pem_certs(&data[TLS_CERT_KEY].0)[0];
        assert!(cert.not_after <= ca.not_after);
    }

    #[test]
    fn bundles_put_the_current_ca_first_once_and_drop_expired_ones() {
        let now = SystemTime::now();
        let (a, _) = new_ca(100 * DAY, now).unwrap();
        let (b, _) = new_ca(100 * DAY, now).unwrap();
        let (expired, _) = new_ca(DAY, now - 10 * DAY).unwrap();
        let previous = format!("{b}{expired}{a}garbage");
        let merged = merge_bundle(&a, previous.as_bytes(), unix(now));
        let ders: Vec<_> = parse_pem_certs(merged.as_bytes())
            .into_iter()
            .map(|c| c.der)
            .collect();
        let der = |pem: &str| parse_pem_certs(pem.as_bytes())[0].der.clone();
        assert_eq!(ders, [der(&a), der(&b)]);
        assert_eq!(merge_bundle(&a, b"", unix(now)), der_to_pem(&der(&a)));
    }

    #[test]
    fn builder_derives_service_names_and_clamps_settings() {
        let certs = SelfManagedCerts::new("ns", "secret")
            .service("svc", "ns")
            .service("svc", "ns")
            .ip_addresses(["127.0.0.1".parse().unwrap()])
            .mutating_configuration("m")
            .mutating_configuration("m")
            .conversion_crd("things.example.com")
            .renew_when_remaining(5.0);
        assert_eq!(
            certs.subject_alt_names(),
            [
                "svc",
                "svc.ns",
                "svc.ns.svc",
                "svc.ns.svc.cluster.local",
                "127.0.0.1"
            ]
        );
        assert_eq!(
            certs.targets(),
            [
                Target::Mutating("m".into()),
                Target::ConversionCrd("things.example.com".into())
            ]
        );
        assert!((certs.renew_fraction - 0.99).abs() < f64::EPSILON);
        assert_eq!(
            Target::Validating("v".into()).to_string(),
            "ValidatingWebhookConfiguration v"
        );
    }
}
