//! The API calls this crate makes itself: readiness probes, server-side apply of CRDs and
//! webhook configurations, and reading them back until they are served.
//!
//! These are a handful of JSON requests, so they go through a tiny HTTPS client of their own
//! rather than kube's: kube's client stack (hyper, tower, k8s-openapi) is most of what
//! `kubeforge` would otherwise compile, and `kubeforge run` needs no more than this. With the
//! `client` feature the same code does the same work, so there is one way to start a plane.
//!
//! The client is ureq (the blocking client `download` already uses) with the admin client
//! certificate, trusting only the plane's serving CA. Each request runs on tokio's blocking
//! pool. Unlike a `kube::Client` it is bound to no runtime, so the shared plane keeps one
//! for every test.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};

use crate::certs::Pki;
use crate::{Error, FIELD_MANAGER};

/// How long one request may take, unless [`ApiClient::probe`] says otherwise.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A request answered with one of these is retried (kube's client does the same): the API
/// server sheds load or a just-started aggregated API is not ready for a moment.
const RETRIED_STATUSES: [u16; 3] = [429, 503, 504];
const RETRIES: u32 = 3;
const RETRY_DELAY: Duration = Duration::from_millis(200);

/// A JSON client for one API server, authenticated as the environment's admin.
#[derive(Clone)]
pub(crate) struct ApiClient {
    agent: ureq::Agent,
    /// `https://127.0.0.1:<port>`.
    server: String,
    timeout: Duration,
    retry: bool,
}

/// Why a request failed: the HTTP status if the server answered, and what it said.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) code: Option<u16>,
    pub(crate) message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(code) => write!(f, "HTTP {code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl ApiError {
    /// The crate's error for this failure while doing `context`.
    pub(crate) fn during(self, context: impl Into<String>) -> Error {
        Error::Api {
            context: context.into(),
            code: self.code,
            message: self.to_string(),
        }
    }

    fn transport(error: impl std::fmt::Display) -> Self {
        ApiError {
            code: None,
            message: error.to_string(),
        }
    }
}

impl ApiClient {
    /// A client for `server` presenting `pki`'s admin certificate and trusting only its
    /// serving CA.
    pub(crate) fn new(server: &str, pki: &Pki) -> Result<Self, Error> {
        let invalid = |e: ureq::Error| Error::Api {
            context: "loading the admin certificate into the API client".into(),
            code: None,
            message: e.to_string(),
        };
        let ca = Certificate::from_pem(pki.serving_ca_pem.as_bytes()).map_err(invalid)?;
        let cert = Certificate::from_pem(pki.admin_cert_pem.as_bytes()).map_err(invalid)?;
        let key = PrivateKey::from_pem(pki.admin_key_pem.as_bytes()).map_err(invalid)?;
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::new_with_certs(&[ca]))
            .client_cert(Some(ClientCert::new_with_certs(&[cert], key)))
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            // Error statuses carry the API server's Status message, which the caller reports.
            .http_status_as_error(false)
            // A pooled connection dies with a restarted kube-apiserver; a fresh one per
            // request costs a loopback TLS handshake, about a millisecond.
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .user_agent(format!("kubeforge-envtest/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(ApiClient {
            agent,
            server: server.to_owned(),
            timeout: REQUEST_TIMEOUT,
            retry: true,
        })
    }

    /// The same client for readiness probes: each request gives up after `timeout` and is
    /// never retried, so a probe cannot outlast its caller's deadline.
    pub(crate) fn probe(&self, timeout: Duration) -> Self {
        ApiClient {
            timeout,
            retry: false,
            ..self.clone()
        }
    }

    /// The body of a successful GET of `path` (e.g. `/readyz`, which answers `ok`).
    pub(crate) async fn get_text(&self, path: &str) -> Result<String, ApiError> {
        self.call(path, None).await
    }

    /// The object at `path`.
    pub(crate) async fn get(&self, path: &str) -> Result<Value, ApiError> {
        let text = self.get_text(path).await?;
        serde_json::from_str(&text).map_err(|e| ApiError::transport(format!("not JSON: {e}")))
    }

    /// The object at `path`, or `None` if there is none (404).
    pub(crate) async fn get_opt(&self, path: &str) -> Result<Option<Value>, ApiError> {
        match self.get(path).await {
            Ok(object) => Ok(Some(object)),
            Err(ApiError {
                code: Some(404), ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates or updates the object at `path` by server-side apply as [`FIELD_MANAGER`],
    /// taking over conflicting fields (as `kubectl apply --server-side --force-conflicts`).
    /// Fields a dumped object carries and apply rejects (`resourceVersion`, `managedFields`,
    /// `status`) are left out.
    pub(crate) async fn apply(&self, path: &str, object: &Value) -> Result<(), ApiError> {
        let mut object = object.clone();
        if let Some(fields) = object.as_object_mut() {
            fields.remove("status");
        }
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.remove("resourceVersion");
            metadata.remove("managedFields");
        }
        // JSON is YAML, which is what the apply content type names.
        let body = object.to_string();
        self.call(path, Some(body)).await.map(|_| ())
    }

    /// GET `path`, or apply `body` to it; retried on [`RETRIED_STATUSES`] unless probing.
    async fn call(&self, path: &str, apply: Option<String>) -> Result<String, ApiError> {
        let url = format!("{}{path}", self.server);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (agent, url, apply, timeout) =
                (self.agent.clone(), url.clone(), apply.clone(), self.timeout);
            let result = tokio::task::spawn_blocking(move || {
                call_blocking(&agent, &url, apply.as_deref(), timeout)
            })
            .await
            .map_err(|e| ApiError::transport(format!("the request task failed: {e}")))?;
            match result {
                Err(ApiError {
                    code: Some(code), ..
                }) if self.retry && attempt <= RETRIES && RETRIED_STATUSES.contains(&code) => {
                    tokio::time::sleep(RETRY_DELAY).await;
                }
                result => return result,
            }
        }
    }
}

fn call_blocking(
    agent: &ureq::Agent,
    url: &str,
    apply: Option<&str>,
    timeout: Duration,
) -> Result<String, ApiError> {
    let response = match apply {
        None => agent
            .get(url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .header("Accept", "application/json")
            .call(),
        Some(body) => agent
            .patch(url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .query("fieldManager", FIELD_MANAGER)
            .query("force", "true")
            .header("Accept", "application/json")
            .content_type("application/apply-patch+yaml")
            .send(body),
    };
    let mut response = response.map_err(ApiError::transport)?;
    let code = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(ApiError::transport)?;
    if response.status().is_success() {
        Ok(text)
    } else {
        Err(ApiError {
            code: Some(code),
            message: status_message(&text),
        })
    }
}

/// The message of the `Status` object an API server answers errors with, else the body's
/// first line: one line either way.
fn status_message(body: &str) -> String {
    let from_status = serde_json::from_str::<Value>(body).ok().and_then(|status| {
        status
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let message = from_status.unwrap_or_else(|| {
        body.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("(no message)")
            .to_owned()
    });
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_messages_are_one_line() {
        let status = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"CustomResourceDefinition.apiextensions.k8s.io \"x\" is invalid:\n spec.group: Required value","reason":"Invalid","code":422}"#;
        assert_eq!(
            status_message(status),
            r#"CustomResourceDefinition.apiextensions.k8s.io "x" is invalid: spec.group: Required value"#
        );
        assert_eq!(
            status_message("\n404 page not found\n"),
            "404 page not found"
        );
        assert_eq!(status_message(""), "(no message)");
        let error = ApiError {
            code: Some(422),
            message: "bad".into(),
        };
        assert_eq!(
            error.during("installing CRD x").to_string(),
            "installing CRD x: HTTP 422: bad"
        );
    }
}
