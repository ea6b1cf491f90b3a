//! Webhook configurations written for a cluster (`service:` as controller-gen writes them)
//! are installed pointing at a server the test runs, and the real API server calls it over
//! TLS trusting the environment's webhook CA: for admission and for CRD conversion.

// Everything here goes through kube clients.
#![cfg(feature = "client")]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::routing::post;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, ObjectMeta, PostParams};
use kube::core::GroupVersionKind;
use kubeforge_envtest::{Environment, WebhookServer};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};

/// The path Kubebuilder gives a validating webhook for core/v1 ConfigMap (empty group).
const VALIDATE_PATH: &str = "/validate--v1-configmap";
const DENIAL: &str = "configmaps are frozen by the test webhook";

/// As `controller-gen` writes config/webhook/manifests.yaml: a Service in kustomize's
/// placeholder namespace, which does not exist in the test.
const MANIFESTS_YAML: &str = r#"---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: validating-webhook-configuration
webhooks:
- admissionReviewVersions:
  - v1
  clientConfig:
    service:
      name: webhook-service
      namespace: system
      path: /validate--v1-configmap
  failurePolicy: Fail
  name: vconfigmap-v1.kb.io
  rules:
  - apiGroups:
    - ""
    apiVersions:
    - v1
    operations:
    - CREATE
    resources:
    - configmaps
  sideEffects: None
"#;

/// Also in config/webhook; must be skipped.
const SERVICE_YAML: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: webhook-service
  namespace: system
spec:
  ports:
  - port: 443
    targetPort: 9443
"#;

/// Two versions and no `conversion` section, as `config/crd/bases` holds it.
const CRD_YAML: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gizmos.demo.kubeforge.dev
spec:
  group: demo.kubeforge.dev
  names:
    kind: Gizmo
    plural: gizmos
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-preserve-unknown-fields: true
  - name: v2
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-preserve-unknown-fields: true
"#;

/// What the test server was asked: request paths, in order.
type Calls = Arc<Mutex<Vec<String>>>;

fn json_response(body: &Value) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    ([(CONTENT_TYPE, "application/json")], body.to_string())
}

/// Denies every request, echoing the review's uid as the API server requires.
fn deny(review: &Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {
            "uid": review["request"]["uid"],
            "allowed": false,
            "status": { "code": 403, "message": DENIAL }
        }
    })
}

/// v1 `spec.size` is v2 `spec.replicas`.
fn convert(review: &Value) -> Value {
    let desired = review["request"]["desiredAPIVersion"]
        .as_str()
        .unwrap_or_default();
    let converted: Vec<Value> = review["request"]["objects"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut object| {
            let spec = object["spec"].as_object_mut().map(std::mem::take);
            let mut spec = spec.unwrap_or_default();
            let (from, to) = if desired.ends_with("/v2") {
                ("size", "replicas")
            } else {
                ("replicas", "size")
            };
            if let Some(value) = spec.remove(from) {
                spec.insert(to.into(), value);
            }
            object["spec"] = Value::Object(spec);
            object["apiVersion"] = json!(desired);
            object
        })
        .collect();
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "ConversionReview",
        "response": {
            "uid": review["request"]["uid"],
            "convertedObjects": converted,
            "result": { "status": "Success" }
        }
    })
}

/// Serves the webhooks over HTTPS on the environment's webhook address with the files from
/// its cert dir, as a manager would; stops when the returned task is aborted.
async fn serve(server: &WebhookServer, calls: Calls) -> tokio::task::JoinHandle<()> {
    let chain = CertificateDer::pem_file_iter(server.cert_path())
        .expect("tls.crt")
        .collect::<Result<Vec<_>, _>>()
        .expect("tls.crt parses");
    let key = PrivateKeyDer::from_pem_file(server.key_path()).expect("tls.key parses");
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("serving certificate");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

    let record = |calls: &Calls, path: &str| {
        calls.lock().expect("calls").push(path.to_string());
    };
    let (admission_calls, conversion_calls) = (calls.clone(), calls);
    let router = Router::new()
        .route(
            VALIDATE_PATH,
            post(move |body: Bytes| async move {
                record(&admission_calls, VALIDATE_PATH);
                let review: Value = serde_json::from_slice(&body).unwrap_or_default();
                json_response(&deny(&review))
            }),
        )
        .route(
            "/convert",
            post(move |body: Bytes| async move {
                record(&conversion_calls, "/convert");
                let review: Value = serde_json::from_slice(&body).unwrap_or_default();
                json_response(&convert(&review))
            }),
        );

    let listener = tokio::net::TcpListener::bind(server.addr())
        .await
        .expect("bind the webhook port");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let service = TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                // A failed handshake (a client not trusting the CA) just ends the connection.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    })
}

fn config_map(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    }
}

/// Error message of a failed create, or `None` if it succeeded.
async fn create_error(api: &Api<ConfigMap>, name: &str) -> Option<String> {
    match api.create(&PostParams::default(), &config_map(name)).await {
        Ok(_) => None,
        Err(kube::Error::Api(status)) => Some(status.message),
        Err(other) => Some(other.to_string()),
    }
}

/// Handshakes with the webhook server as a client trusting only `ca_pem`, under `name`.
async fn handshake(server: &WebhookServer, name: &str) -> Result<(), String> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(server.ca_pem().as_bytes()).expect("CA PEM"))
        .expect("add CA");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(server.addr())
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from(name.to_string()).map_err(|e| e.to_string())?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn webhooks_written_for_a_service_are_called_on_the_local_server() {
    let root = tempfile::tempdir().expect("tempdir");
    let webhook_dir = root.path().join("webhook");
    let crd_dir = root.path().join("crd");
    std::fs::create_dir(&webhook_dir).expect("mkdir");
    std::fs::create_dir(&crd_dir).expect("mkdir");
    std::fs::write(webhook_dir.join("manifests.yaml"), MANIFESTS_YAML).expect("write");
    std::fs::write(webhook_dir.join("service.yaml"), SERVICE_YAML).expect("write");
    std::fs::write(
        webhook_dir.join("kustomization.yaml"),
        "resources:\n- manifests.yaml\n- service.yaml\n",
    )
    .expect("write");
    std::fs::write(crd_dir.join("gizmos.yaml"), CRD_YAML).expect("write");

    let env = common::start_with(
        Environment::builder()
            .crd_dir(&crd_dir)
            .webhook_dir(&webhook_dir)
            .conversion_webhook_for(["gizmos.demo.kubeforge.dev"]),
    )
    .await;
    let server = env.webhook_server().expect("webhooks were configured");
    let cert_dir = server.cert_dir().to_owned();
    for file in ["tls.crt", "tls.key", "ca.crt"] {
        assert!(
            cert_dir.join(file).is_file(),
            "{file} in {}",
            cert_dir.display()
        );
    }

    // The API server holds the rewritten configuration.
    let installed: Api<ValidatingWebhookConfiguration> = Api::all(env.client());
    let config = installed
        .get("validating-webhook-configuration")
        .await
        .expect("installed by start()");
    let webhooks = config.webhooks.expect("webhooks");
    assert_eq!(webhooks.len(), 1);
    let client = &webhooks[0].client_config;
    assert_eq!(
        client.url.as_deref(),
        Some(format!("https://127.0.0.1:{}{VALIDATE_PATH}", server.port()).as_str())
    );
    assert!(client.service.is_none(), "{client:?}");
    assert_eq!(
        client
            .ca_bundle
            .as_ref()
            .map(|b| String::from_utf8_lossy(&b.0)),
        Some(server.ca_pem().into()),
        "caBundle must be the webhook CA"
    );
    assert_eq!(webhooks[0].failure_policy.as_deref(), Some("Fail"));

    // And the CRD converts through the same server.
    let crds: Api<CustomResourceDefinition> = Api::all(env.client());
    let crd = crds.get("gizmos.demo.kubeforge.dev").await.expect("crd");
    let conversion = crd.spec.conversion.expect("conversion");
    assert_eq!(conversion.strategy, "Webhook");
    let webhook = conversion.webhook.expect("conversion webhook");
    assert_eq!(webhook.conversion_review_versions, ["v1"]);
    let client = webhook.client_config.expect("client config");
    assert_eq!(client.url, Some(server.url("/convert")));
    assert_eq!(
        client
            .ca_bundle
            .as_ref()
            .map(|b| String::from_utf8_lossy(&b.0)),
        Some(server.ca_pem().into()),
        "the conversion caBundle must be the webhook CA"
    );

    // Nothing listens yet and failurePolicy is Fail: creations fail. The webhook takes
    // effect once the API server's informer has seen the configuration, which may lag
    // start() by a moment, so creations that still succeed are tolerated briefly.
    let config_maps: Api<ConfigMap> = Api::namespaced(env.client(), "default");
    let began = Instant::now();
    let mut attempts = 0;
    let unreachable = loop {
        attempts += 1;
        if let Some(message) = create_error(&config_maps, &format!("before-{attempts}")).await {
            break message;
        }
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "the webhook never took effect ({attempts} creations succeeded)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!(
        "webhook in effect after {attempts} attempt(s), {} ms",
        began.elapsed().as_millis()
    );
    assert!(
        unreachable.contains("vconfigmap-v1.kb.io")
            && unreachable.contains("failed calling webhook"),
        "{unreachable}"
    );

    // With the server up, the API server calls it over TLS and relays its answer.
    let calls = Calls::default();
    let task = serve(server, calls.clone()).await;
    for name in ["localhost", "127.0.0.1", "::1"] {
        handshake(server, name)
            .await
            .unwrap_or_else(|e| panic!("the serving certificate must be valid for {name}: {e}"));
    }
    let denied = create_error(&config_maps, "after")
        .await
        .expect("the webhook must deny the creation");
    assert!(
        denied.contains("vconfigmap-v1.kb.io") && denied.contains(DENIAL),
        "{denied}"
    );
    assert!(
        calls
            .lock()
            .expect("calls")
            .iter()
            .any(|p| p == VALIDATE_PATH),
        "the server saw no admission review"
    );
    assert!(
        config_maps.get_opt("after").await.expect("get").is_none(),
        "a denied ConfigMap must not exist"
    );

    // Conversion: stored as v1, read as v2 through the test's /convert.
    let gvk = |version: &str| GroupVersionKind::gvk("demo.kubeforge.dev", version, "Gizmo");
    let v1 = ApiResource::from_gvk_with_plural(&gvk("v1"), "gizmos");
    let v2 = ApiResource::from_gvk_with_plural(&gvk("v2"), "gizmos");
    let mut gizmo = DynamicObject::new("g", &v1);
    gizmo.data = json!({ "spec": { "size": 3 } });
    Api::<DynamicObject>::namespaced_with(env.client(), "default", &v1)
        .create(&PostParams::default(), &gizmo)
        .await
        .expect("create v1 gizmo");
    let as_v2 = Api::<DynamicObject>::namespaced_with(env.client(), "default", &v2)
        .get("g")
        .await
        .expect("read the gizmo as v2 (the API server calls /convert)");
    assert_eq!(as_v2.data["spec"], json!({ "replicas": 3 }), "{as_v2:?}");
    assert!(
        calls.lock().expect("calls").iter().any(|p| p == "/convert"),
        "the server saw no conversion review"
    );

    task.abort();
    drop(env);
    assert!(
        !cert_dir.exists(),
        "{} outlived the environment",
        cert_dir.display()
    );
}

#[tokio::test]
async fn conversion_for_a_crd_that_is_not_installed_fails_before_starting() {
    let err = Environment::builder()
        .conversion_webhook_for(["missing.demo.kubeforge.dev"])
        .start()
        .await
        .expect_err("an unknown CRD name must fail");
    assert!(
        err.to_string().contains("missing.demo.kubeforge.dev"),
        "{err}"
    );
}
