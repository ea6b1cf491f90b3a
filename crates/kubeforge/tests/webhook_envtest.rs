//! Webhooks through a real API server (kubeforge-envtest): the test makes a
//! CA and serving certificate, runs kubeforge's webhook server on a free
//! port, and registers it as Kubernetes would for an operator: a CRD with
//! two versions converted by `/convert`, and Mutating/Validating webhook
//! configurations pointing at the kind's Kubebuilder paths. Everything is
//! then observed through the API server: stored defaults, denials with the
//! validator's message, warnings in the response headers, dry runs,
//! conversion between versions, and a certificate rotated on disk.
//!
//! Waits poll for the observable result with a generous upper bound only so
//! a regression fails rather than hangs: the API server picks up webhook
//! configurations asynchronously.

#![cfg(feature = "runtime")]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http;
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhook, MutatingWebhookConfiguration, ValidatingWebhook,
    ValidatingWebhookConfiguration,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceConversion, CustomResourceDefinition, WebhookConversion,
};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::core::crd::merge_crds;
use kube::{Api, Client, CustomResourceExt, ResourceExt};
use kubeforge::webhook::{
    AdmissionContext, Conversion, Defaulter, Denial, Validator, Warnings, WebhookConfig,
    WebhookServer, mutate_path, validate_path,
};
use kubeforge_envtest::Environment;
use rustls::pki_types::CertificateDer;
use serde_json::json;

mod support;
use support::gadget::{GROUP, WAIT_LIMIT, client_config, eventually, gadget, rules, v1, v1beta1};

/// Labels every Gadget and defaults its replicas to 1.
struct GadgetDefaulter;

impl Defaulter<v1::Gadget> for GadgetDefaulter {
    async fn set_defaults(
        &self,
        _ctx: &AdmissionContext,
        obj: &mut v1::Gadget,
    ) -> Result<(), Denial> {
        obj.labels_mut()
            .insert("app.kubernetes.io/managed-by".into(), "kubeforge".into());
        obj.spec.replicas.get_or_insert(1);
        Ok(())
    }
}

/// Requires an image, warns about `:latest`, and records each call's
/// dry-run flag.
#[derive(Clone, Default)]
struct GadgetValidator {
    dry_runs: Arc<Mutex<Vec<bool>>>,
}

impl GadgetValidator {
    fn check(&self, ctx: &AdmissionContext, obj: &v1::Gadget) -> Result<Warnings, Denial> {
        self.dry_runs.lock().unwrap().push(ctx.dry_run);
        if obj.spec.image.is_empty() {
            return Err(Denial::field("spec.image", "must name a container image"));
        }
        if obj.spec.image.ends_with(":latest") {
            return Ok(vec![
                "spec.image: the latest tag is not reproducible".into(),
            ]);
        }
        Ok(vec![])
    }
}

impl Validator<v1::Gadget> for GadgetValidator {
    async fn validate_create(
        &self,
        ctx: &AdmissionContext,
        obj: &v1::Gadget,
    ) -> Result<Warnings, Denial> {
        self.check(ctx, obj)
    }

    async fn validate_update(
        &self,
        ctx: &AdmissionContext,
        _old: &v1::Gadget,
        new: &v1::Gadget,
    ) -> Result<Warnings, Denial> {
        self.check(ctx, new)
    }
}

/// A CA and a serving certificate it signed for 127.0.0.1 and localhost,
/// written as tls.crt/tls.key into `dir` (key first, so a reader never pairs
/// the new certificate with the old key for long); the CA's PEM.
fn write_certificates(dir: &Path) -> (String, CertificateDer<'static>) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "webhook test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();

    let mut params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "webhook-service");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &*ca).unwrap();
    std::fs::write(dir.join("tls.key.new"), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("tls.crt.new"), cert.pem()).unwrap();
    std::fs::rename(dir.join("tls.key.new"), dir.join("tls.key")).unwrap();
    std::fs::rename(dir.join("tls.crt.new"), dir.join("tls.crt")).unwrap();
    (ca.pem(), ca.der().clone())
}

/// The webhook configurations as `kubeforge manifests` will write them
/// (Kubebuilder's names, sideEffects None, failurePolicy Fail), with a URL
/// instead of a Service.
fn webhook_configurations(
    port: u16,
    ca_pem: &str,
) -> (MutatingWebhookConfiguration, ValidatingWebhookConfiguration) {
    let mut mutating = MutatingWebhookConfiguration {
        webhooks: Some(vec![MutatingWebhook {
            name: "mgadget-v1.kb.io".into(),
            client_config: client_config(port, &mutate_path::<v1::Gadget>(), Some(ca_pem)),
            rules: rules(),
            side_effects: "None".into(),
            admission_review_versions: vec!["v1".into()],
            failure_policy: Some("Fail".into()),
            ..MutatingWebhook::default()
        }]),
        ..MutatingWebhookConfiguration::default()
    };
    mutating.metadata.name = Some("kubeforge-test-mutating".into());
    let mut validating = ValidatingWebhookConfiguration {
        webhooks: Some(vec![ValidatingWebhook {
            name: "vgadget-v1.kb.io".into(),
            client_config: client_config(port, &validate_path::<v1::Gadget>(), Some(ca_pem)),
            rules: rules(),
            side_effects: "None".into(),
            admission_review_versions: vec!["v1".into()],
            failure_policy: Some("Fail".into()),
            ..ValidatingWebhook::default()
        }]),
        ..ValidatingWebhookConfiguration::default()
    };
    validating.metadata.name = Some("kubeforge-test-validating".into());
    (mutating, validating)
}

/// Both versions of Gadget, v1 stored, converted by the webhook at `/convert`.
fn crd(port: u16, ca_pem: &str) -> CustomResourceDefinition {
    let mut crd = merge_crds(vec![v1::Gadget::crd(), v1beta1::Gadget::crd()], "v1").unwrap();
    crd.spec.conversion = Some(CustomResourceConversion {
        strategy: "Webhook".into(),
        webhook: Some(WebhookConversion {
            client_config: Some(apiextensions::WebhookClientConfig {
                url: Some(format!("https://127.0.0.1:{port}/convert")),
                ca_bundle: Some(ByteString(ca_pem.as_bytes().to_vec())),
                service: None,
            }),
            conversion_review_versions: vec!["v1".into()],
        }),
    });
    crd
}

/// Creates or replaces (server-side apply) the CRD and webhook configurations.
async fn apply_registrations(client: &Client, port: u16, ca_pem: &str) {
    let params = PatchParams::apply("webhook-envtest").force();
    let crd = crd(port, ca_pem);
    Api::<CustomResourceDefinition>::all(client.clone())
        .patch(&crd.name_any(), &params, &Patch::Apply(&crd))
        .await
        .unwrap();
    let (mutating, validating) = webhook_configurations(port, ca_pem);
    Api::<MutatingWebhookConfiguration>::all(client.clone())
        .patch(&mutating.name_any(), &params, &Patch::Apply(&mutating))
        .await
        .unwrap();
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .patch(&validating.name_any(), &params, &Patch::Apply(&validating))
        .await
        .unwrap();
}

/// A dry-run create of a fresh Gadget that comes back defaulted: the
/// mutating webhook is in place (and the validator saw a dry run).
async fn webhooks_answer(client: &Client) -> Result<(), String> {
    let api = Api::<v1::Gadget>::namespaced(client.clone(), "default");
    let params = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let created = api
        .create(&params, &gadget("probe", "nginx:1.27"))
        .await
        .map_err(|e| e.to_string())?;
    match created.labels().get("app.kubernetes.io/managed-by") {
        Some(_) => Ok(()),
        None => Err("not defaulted yet".into()),
    }
}

/// Creates a Gadget with a raw request; the status and `Warning` headers.
async fn create_raw(client: &Client, body: serde_json::Value) -> (u16, Vec<String>, String) {
    let request = http::Request::post(format!("/apis/{GROUP}/v1/namespaces/default/gadgets"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(kube::client::Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    let response = client.send(request).await.unwrap();
    let status = response.status().as_u16();
    let warnings = response
        .headers()
        .get_all("warning")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect();
    let body = response.into_body().collect_bytes().await.unwrap();
    (
        status,
        warnings,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[tokio::test]
async fn webhooks_work_through_the_api_server_and_survive_a_certificate_rotation() {
    let env = Environment::start().await.unwrap();
    let client = env.client();
    let cert_dir = tempfile::tempdir().unwrap();
    let (ca_pem, _) = write_certificates(cert_dir.path());

    let validator = GadgetValidator::default();
    let server = WebhookServer::new(
        WebhookConfig::new()
            .host("127.0.0.1".parse().unwrap())
            .port(0)
            .cert_dir(cert_dir.path())
            .cert_reload_interval(Duration::from_millis(200)),
    )
    .defaulter::<v1::Gadget, _>(GadgetDefaulter)
    .validator::<v1::Gadget, _>(validator.clone())
    .conversion(Conversion::<v1::Gadget>::new().spoke::<v1beta1::Gadget>())
    .bind()
    .await
    .unwrap();
    let port = server.local_addr().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));

    apply_registrations(&client, port, &ca_pem).await;
    eventually("the webhooks to be called", || webhooks_answer(&client)).await;
    assert!(
        validator.dry_runs.lock().unwrap().contains(&true),
        "the validator saw the dry run"
    );
    let v1_api = Api::<v1::Gadget>::namespaced(client.clone(), "default");
    assert!(
        v1_api.get_opt("probe").await.unwrap().is_none(),
        "a dry run stores nothing"
    );

    // Defaults are stored.
    v1_api
        .create(&PostParams::default(), &gadget("plain", "nginx:1.27"))
        .await
        .unwrap();
    let stored = v1_api.get("plain").await.unwrap();
    assert_eq!(stored.spec.replicas, Some(1));
    assert_eq!(
        stored
            .labels()
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("kubeforge")
    );

    // An invalid object is denied with the validator's message.
    match v1_api
        .create(&PostParams::default(), &gadget("no-image", ""))
        .await
    {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{status:?}");
            assert!(
                status
                    .message
                    .contains("admission webhook \"vgadget-v1.kb.io\" denied the request")
                    && status
                        .message
                        .contains("spec.image: must name a container image"),
                "{}",
                status.message
            );
        }
        other => panic!("an object without an image was not denied: {other:?}"),
    }

    // Warnings reach the client as Warning headers (kubectl prints them).
    let (code, warnings, body) = create_raw(
        &client,
        json!({
            "apiVersion": format!("{GROUP}/v1"),
            "kind": "Gadget",
            "metadata": {"name": "latest"},
            "spec": {"image": "nginx:latest"},
        }),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("spec.image: the latest tag is not reproducible")),
        "{warnings:?}"
    );

    // Written as v1beta1, read as v1 (and defaulted on the way, since the
    // webhooks see v1): the conversion webhook in both directions.
    let beta_api = Api::<v1beta1::Gadget>::namespaced(client.clone(), "default");
    let beta = v1beta1::Gadget::new(
        "beta",
        v1beta1::GadgetSpec {
            image: "nginx:1.27".into(),
            size: 3,
        },
    );
    beta_api
        .create(&PostParams::default(), &beta)
        .await
        .unwrap();
    let as_hub = v1_api.get("beta").await.unwrap();
    assert_eq!(as_hub.spec.replicas, Some(3));
    assert_eq!(as_hub.spec.image, "nginx:1.27");
    assert!(as_hub.labels().contains_key("app.kubernetes.io/managed-by"));
    let as_spoke = beta_api.get("plain").await.unwrap();
    assert_eq!(as_spoke.spec.size, 1);
    assert_eq!(as_spoke.name_any(), "plain");

    // Two field managers applying at different versions, then an update: to
    // keep each manager's fields across versions the API server converts
    // *pruned* objects (one manager's fields, no metadata) through the
    // webhook, and refuses an answer without `metadata`.
    let apply = |manager: &str| PatchParams::apply(manager).force();
    let applied = |version: &str, name: &str, spec: serde_json::Value| {
        Patch::Apply(json!({
            "apiVersion": format!("{GROUP}/{version}"),
            "kind": "Gadget",
            "metadata": {"name": name},
            "spec": spec,
        }))
    };
    let shared_v1 = |image: &str| applied("v1", "shared", json!({"image": image}));
    v1_api
        .patch("shared", &apply("team-a"), &shared_v1("nginx:1.27"))
        .await
        .unwrap();
    beta_api
        .patch(
            "shared",
            &apply("team-b"),
            &applied(
                "v1beta1",
                "shared",
                json!({"image": "nginx:1.27", "size": 2}),
            ),
        )
        .await
        .unwrap();
    v1_api
        .patch(
            "shared",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"touched": "yes"}}})),
        )
        .await
        .unwrap();
    v1_api
        .patch("shared", &apply("team-a"), &shared_v1("nginx:1.28"))
        .await
        .unwrap();
    // Created by an apply at the spoke version, defaulted at the hub.
    beta_api
        .patch(
            "applied-beta",
            &apply("team-c"),
            &applied(
                "v1beta1",
                "applied-beta",
                json!({"image": "nginx:1.27", "size": 3}),
            ),
        )
        .await
        .unwrap();
    let shared = v1_api.get("shared").await.unwrap();
    assert_eq!(shared.spec.image, "nginx:1.28");
    assert_eq!(shared.spec.replicas, Some(2), "team-b's size, as replicas");
    let managers: Vec<(String, String)> = shared
        .managed_fields()
        .iter()
        .map(|m| {
            (
                m.manager.clone().unwrap_or_default(),
                m.api_version.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        managers.contains(&("team-b".to_owned(), format!("{GROUP}/v1beta1"))),
        "{managers:?}"
    );

    // Rotate: a new CA and certificate on disk, then the registrations'
    // caBundles. Nothing trusts the old CA any more, so answers prove the
    // running server serves the new certificate.
    let (new_ca_pem, new_ca) = write_certificates(cert_dir.path());
    eventually("the server to serve the new certificate", || {
        handshake(port, new_ca.clone())
    })
    .await;
    apply_registrations(&client, port, &new_ca_pem).await;
    v1_api
        .delete("plain", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the webhooks to be called with the new CA", || async {
        let created = v1_api
            .create(&PostParams::default(), &gadget("rotated", "nginx:1.27"))
            .await
            .map_err(|e| e.to_string())?;
        if created.spec.replicas == Some(1) {
            Ok(())
        } else {
            Err(format!("not defaulted: {created:?}"))
        }
    })
    .await;
    let rotated = eventually("conversion with the new CA", || async {
        beta_api.get("rotated").await.map_err(|e| e.to_string())
    })
    .await;
    assert_eq!(rotated.spec.size, 1);

    stop.send(()).unwrap();
    tokio::time::timeout(WAIT_LIMIT, serving)
        .await
        .expect("the server stops on shutdown")
        .unwrap()
        .unwrap();
    env.stop().await;
}

/// A TLS handshake with the webhook server trusting only `ca`.
async fn handshake(port: u16, ca: CertificateDer<'static>) -> Result<(), String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).map_err(|e| e.to_string())?;
    support::connect_trusting(port, roots).await.map(drop)
}
