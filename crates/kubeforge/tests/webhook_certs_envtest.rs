//! Self-managed webhook certificates against a real API server
//! (kubeforge-envtest): webhook configurations and a conversion CRD are
//! installed with no caBundle at all, so every call the API server makes
//! fails until the rotator has written its CA into them. Two webhook
//! servers stand for two replicas sharing one Secret.
//!
//! Waits poll for the observable result with a generous upper bound only so
//! a regression fails rather than hangs.

#![cfg(feature = "runtime")]

use std::net::IpAddr;
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhook, MutatingWebhookConfiguration, ValidatingWebhook,
    ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceConversion, CustomResourceDefinition, WebhookConversion,
};
use kube::api::{Patch, PatchParams, PostParams};
use kube::core::crd::merge_crds;
use kube::{Api, Client, CustomResourceExt};
use kubeforge::webhook::certs::{CA_CERT_KEY, Injection, TLS_CERT_KEY, Target};
use kubeforge::webhook::{
    AdmissionContext, Conversion, Defaulter, Denial, SelfManagedCerts, ServingCertificate,
    Validator, Warnings, WebhookConfig, WebhookServer, mutate_path, validate_path,
};
use kubeforge_envtest::Environment;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

mod support;
use support::gadget::{
    CRD_NAME, WAIT_LIMIT, client_config, eventually, gadget, rules, v1, v1beta1,
};
/// What kustomize's namePrefix would be in a project called "certs-test".
const PREFIX: &str = "certs-test-";

struct GadgetDefaulter;

impl Defaulter<v1::Gadget> for GadgetDefaulter {
    async fn set_defaults(
        &self,
        _ctx: &AdmissionContext,
        obj: &mut v1::Gadget,
    ) -> Result<(), Denial> {
        obj.spec.replicas.get_or_insert(1);
        Ok(())
    }
}

struct GadgetValidator;

impl Validator<v1::Gadget> for GadgetValidator {
    async fn validate_create(
        &self,
        _ctx: &AdmissionContext,
        obj: &v1::Gadget,
    ) -> Result<Warnings, Denial> {
        if obj.spec.image.is_empty() {
            return Err(Denial::field("spec.image", "must name a container image"));
        }
        Ok(vec![])
    }

    async fn validate_update(
        &self,
        ctx: &AdmissionContext,
        _old: &v1::Gadget,
        new: &v1::Gadget,
    ) -> Result<Warnings, Denial> {
        self.validate_create(ctx, new).await
    }
}

fn mutating_name() -> String {
    format!("{PREFIX}mutating-webhook-configuration")
}

fn validating_name() -> String {
    format!("{PREFIX}validating-webhook-configuration")
}

/// The CRD (conversion at `conversion_port`), the mutating configuration
/// (at `mutating_port`) and the validating one (at `validating_port`), all
/// without caBundle.
async fn install(client: &Client, conversion_port: u16, mutating_port: u16, validating_port: u16) {
    let params = PatchParams::apply("certs-envtest").force();
    let mut crd = merge_crds(vec![v1::Gadget::crd(), v1beta1::Gadget::crd()], "v1").unwrap();
    crd.spec.conversion = Some(CustomResourceConversion {
        strategy: "Webhook".into(),
        webhook: Some(WebhookConversion {
            client_config: Some(apiextensions::WebhookClientConfig {
                url: Some(format!("https://127.0.0.1:{conversion_port}/convert")),
                ca_bundle: None,
                service: None,
            }),
            conversion_review_versions: vec!["v1".into()],
        }),
    });
    Api::<CustomResourceDefinition>::all(client.clone())
        .patch(CRD_NAME, &params, &Patch::Apply(&crd))
        .await
        .unwrap();
    let mut mutating = MutatingWebhookConfiguration {
        webhooks: Some(vec![MutatingWebhook {
            name: "mgadget-v1.kb.io".into(),
            client_config: client_config(mutating_port, &mutate_path::<v1::Gadget>(), None),
            rules: rules(),
            side_effects: "None".into(),
            admission_review_versions: vec!["v1".into()],
            failure_policy: Some("Fail".into()),
            ..MutatingWebhook::default()
        }]),
        ..MutatingWebhookConfiguration::default()
    };
    mutating.metadata.name = Some(mutating_name());
    Api::<MutatingWebhookConfiguration>::all(client.clone())
        .patch(&mutating_name(), &params, &Patch::Apply(&mutating))
        .await
        .unwrap();
    let mut validating = ValidatingWebhookConfiguration {
        webhooks: Some(vec![ValidatingWebhook {
            name: "vgadget-v1.kb.io".into(),
            client_config: client_config(validating_port, &validate_path::<v1::Gadget>(), None),
            rules: rules(),
            side_effects: "None".into(),
            admission_review_versions: vec!["v1".into()],
            failure_policy: Some("Fail".into()),
            ..ValidatingWebhook::default()
        }]),
        ..ValidatingWebhookConfiguration::default()
    };
    validating.metadata.name = Some(validating_name());
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .patch(&validating_name(), &params, &Patch::Apply(&validating))
        .await
        .unwrap();
}

/// The certificates both "replicas" share, for 127.0.0.1, every target
/// named, checked often so the test need not wait an hour.
fn certs(namespace: &str, secret: &str) -> SelfManagedCerts {
    SelfManagedCerts::new(namespace, secret)
        .service(&format!("{PREFIX}webhook-service"), namespace)
        .ip_addresses(["127.0.0.1".parse::<IpAddr>().unwrap()])
        .mutating_configuration(mutating_name())
        .validating_configuration(validating_name())
        .conversion_crd(CRD_NAME)
        .check_interval(Duration::from_millis(200))
}

/// The certificate a server on 127.0.0.1:`port` presents to a client that
/// trusts only the CAs in `bundle_pem`.
async fn served_cert(port: u16, bundle_pem: &str) -> Result<Vec<u8>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(bundle_pem.as_bytes()) {
        roots
            .add(ca.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let tls = support::connect_trusting(port, roots).await?;
    let certs = tls.get_ref().1.peer_certificates().unwrap_or_default();
    certs
        .first()
        .map(|c| c.to_vec())
        .ok_or_else(|| "no certificate".to_owned())
}

fn first_der(pem: &str) -> Vec<u8> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

/// Every caBundle of the three targets, as text ("" where there is none).
async fn ca_bundles(client: &Client) -> Vec<String> {
    let text = |b: Option<&k8s_openapi::ByteString>| {
        b.map(|b| String::from_utf8_lossy(&b.0).into_owned())
            .unwrap_or_default()
    };
    let mutating = Api::<MutatingWebhookConfiguration>::all(client.clone())
        .get(&mutating_name())
        .await
        .unwrap();
    let validating = Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .get(&validating_name())
        .await
        .unwrap();
    let crd = Api::<CustomResourceDefinition>::all(client.clone())
        .get(CRD_NAME)
        .await
        .unwrap();
    let mut bundles: Vec<String> = mutating
        .webhooks
        .iter()
        .flatten()
        .map(|w| text(w.client_config.ca_bundle.as_ref()))
        .collect();
    bundles.extend(
        validating
            .webhooks
            .iter()
            .flatten()
            .map(|w| text(w.client_config.ca_bundle.as_ref())),
    );
    bundles.push(text(
        crd.spec
            .conversion
            .as_ref()
            .and_then(|c| c.webhook.as_ref())
            .and_then(|w| w.client_config.as_ref())
            .and_then(|c| c.ca_bundle.as_ref()),
    ));
    bundles
}

/// The API server calls all three webhooks successfully: a denial with the
/// validator's message, a defaulted create, a read through the conversion.
/// Each proves the API server trusted the server's certificate.
async fn webhooks_answer(client: &Client, name: &str) -> Result<(), String> {
    let api = Api::<v1::Gadget>::namespaced(client.clone(), "default");
    match api
        .create(&PostParams::default(), &gadget("no-image", ""))
        .await
    {
        Err(kube::Error::Api(status))
            if status
                .message
                .contains("spec.image: must name a container image") => {}
        other => return Err(format!("expected the validator's denial, got {other:?}")),
    }
    let created = match api.get_opt(name).await.map_err(|e| e.to_string())? {
        Some(existing) => existing,
        None => api
            .create(&PostParams::default(), &gadget(name, "nginx:1.27"))
            .await
            .map_err(|e| e.to_string())?,
    };
    if created.spec.replicas != Some(1) {
        return Err(format!("not defaulted: {created:?}"));
    }
    let beta = Api::<v1beta1::Gadget>::namespaced(client.clone(), "default")
        .get(name)
        .await
        .map_err(|e| e.to_string())?;
    if beta.spec.size != 1 {
        return Err(format!("not converted: {beta:?}"));
    }
    Ok(())
}

/// A webhook server as one replica runs it, with self-managed certificates.
async fn replica(
    server: WebhookServer,
    certs: SelfManagedCerts,
    client: &Client,
) -> (
    u16,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), kubeforge::webhook::WebhookError>>,
) {
    let bound = server
        .self_managed_certs(certs, client.clone())
        .bind()
        .await
        .unwrap();
    let port = bound.local_addr().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(bound.serve(async {
        let _ = stopped.await;
    }));
    (port, stop, task)
}

fn config() -> WebhookConfig {
    WebhookConfig::new()
        .host("127.0.0.1".parse().unwrap())
        .port(0)
}

#[tokio::test]
async fn replicas_share_one_certificate_the_api_server_trusts_through_its_rotation() {
    let env = Environment::start().await.unwrap();
    let client = env.client();
    let certs = certs("default", "webhook-server-cert");

    // Two rotators at once against a Secret that does not exist: one
    // creates it, the other gets AlreadyExists and uses the winner's.
    let (first, second) = tokio::join!(certs.reconcile(&client), certs.reconcile(&client));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first, second, "both replicas hold the same certificate");
    let secret = Api::<Secret>::namespaced(client.clone(), "default")
        .get("webhook-server-cert")
        .await
        .unwrap();
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
    let stored =
        |key: &str| String::from_utf8(secret.data.as_ref().unwrap()[key].0.clone()).unwrap();
    assert_eq!(stored(TLS_CERT_KEY), first.cert_pem());
    assert_eq!(stored(CA_CERT_KEY), first.ca_bundle_pem());

    // Replica A: validation and conversion; replica B: defaulting.
    let a = WebhookServer::new(config())
        .validator::<v1::Gadget, _>(GadgetValidator)
        .conversion(Conversion::<v1::Gadget>::new().spoke::<v1beta1::Gadget>());
    let b = WebhookServer::new(config()).defaulter::<v1::Gadget, _>(GadgetDefaulter);
    assert_eq!(a.conversion_crds(), [CRD_NAME]);
    let (port_a, stop_a, task_a) = replica(a, certs.clone(), &client).await;
    let (port_b, stop_b, task_b) = replica(b, certs.clone(), &client).await;
    install(&client, port_a, port_b, port_a).await;

    // Both replicas serve the Secret's certificate, and the API server
    // reaches both through the injected caBundle.
    for port in [port_a, port_b] {
        let served = eventually("a replica to serve the certificate", || {
            served_cert(port, first.ca_bundle_pem())
        })
        .await;
        assert_eq!(served, first_der(first.cert_pem()));
    }
    eventually("the webhooks to be trusted", || {
        webhooks_answer(&client, "first")
    })
    .await;
    assert_eq!(
        ca_bundles(&client).await,
        vec![first.ca_bundle_pem().to_owned(); 3]
    );

    // A `kubectl apply` without caBundle (here: blanked by hand) is repaired.
    let blank = Patch::Json::<()>(
        serde_json::from_value(serde_json::json!([
            {"op": "add", "path": "/webhooks/0/clientConfig/caBundle", "value": ""}
        ]))
        .unwrap(),
    );
    let params = PatchParams::default();
    Api::<MutatingWebhookConfiguration>::all(client.clone())
        .patch(&mutating_name(), &params, &blank)
        .await
        .unwrap();
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .patch(&validating_name(), &params, &blank)
        .await
        .unwrap();
    Api::<CustomResourceDefinition>::all(client.clone())
        .patch(
            CRD_NAME,
            &params,
            &Patch::Json::<()>(
                serde_json::from_value(serde_json::json!([
                    {"op": "remove", "path": "/spec/conversion/webhook/clientConfig/caBundle"}
                ]))
                .unwrap(),
            ),
        )
        .await
        .unwrap();
    eventually("the caBundles to be re-injected", || async {
        let bundles = ca_bundles(&client).await;
        if bundles.iter().all(|b| b == first.ca_bundle_pem()) {
            Ok(())
        } else {
            Err(format!(
                "{} of 3 repaired",
                bundles
                    .iter()
                    .filter(|b| *b == first.ca_bundle_pem())
                    .count()
            ))
        }
    })
    .await;

    // A forced rotation: new CA and certificate, the old CA kept in the
    // bundle. Both replicas pick it up without a restart, and the API
    // server keeps calling them.
    let rotated: ServingCertificate = certs.rotate(&client).await.unwrap();
    assert_ne!(rotated.cert_pem(), first.cert_pem());
    let bundle: Vec<_> = CertificateDer::pem_slice_iter(rotated.ca_bundle_pem().as_bytes())
        .map(|c| c.unwrap().to_vec())
        .collect();
    assert_eq!(bundle.len(), 2, "new CA, then the old one");
    assert_eq!(bundle[1], first_der(first.ca_bundle_pem()));
    // Trusting only the new CA: a handshake succeeds once a replica serves
    // the new certificate.
    let end = "-----END CERTIFICATE-----\n";
    let new_ca_pem = match rotated.ca_bundle_pem().split_once(end) {
        Some((first_block, _)) => format!("{first_block}{end}"),
        None => panic!("no PEM block in {}", rotated.ca_bundle_pem()),
    };
    for port in [port_a, port_b] {
        let served = eventually("a replica to serve the rotated certificate", || {
            served_cert(port, &new_ca_pem)
        })
        .await;
        assert_eq!(served, first_der(rotated.cert_pem()));
    }
    eventually("the caBundles to hold the new bundle", || async {
        let bundles = ca_bundles(&client).await;
        if bundles.iter().all(|b| b == rotated.ca_bundle_pem()) {
            Ok(())
        } else {
            Err("not yet".to_owned())
        }
    })
    .await;
    eventually("the webhooks to answer after the rotation", || {
        webhooks_answer(&client, "second")
    })
    .await;

    for (stop, task) in [(stop_a, task_a), (stop_b, task_b)] {
        stop.send(()).unwrap();
        tokio::time::timeout(WAIT_LIMIT, task)
            .await
            .expect("the server stops on shutdown")
            .unwrap()
            .unwrap();
    }
    env.stop().await;
}

/// The scaffold's RBAC for self-managed certificates
/// (templates/webhook/config/selfmanaged-certs/role.yaml) as a project named
/// "certs-test" with a conversion webhook for Gadget renders it.
fn scaffold_role_yaml() -> String {
    let template = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../templates/webhook/config/selfmanaged-certs/role.yaml");
    let template = std::fs::read_to_string(&template).unwrap();
    // The fragment templates/webhook.yaml inserts for a conversion webhook.
    let crd_rule = format!(
        "- apiGroups:\n  - apiextensions.k8s.io\n  resources:\n  - customresourcedefinitions\n  resourceNames:\n  - {CRD_NAME}\n  verbs:\n  - get\n  - patch\n# +kubeforge:scaffold:webhooks"
    );
    template
        .replace("{{ project_name }}", "certs-test")
        .replace("# +kubeforge:scaffold:webhooks", &crd_rule)
}

#[tokio::test]
async fn the_scoped_rbac_is_enough_and_nothing_less_works() {
    let env = Environment::start().await.unwrap();
    let admin = env.client();
    install(&admin, 1, 1, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let role_yaml = dir.path().join("role.yaml");
    std::fs::write(&role_yaml, scaffold_role_yaml()).unwrap();
    let client = env
        .service_account_client("certs-system", "controller-manager", &role_yaml)
        .await
        .unwrap();
    let certs = certs("certs-system", "webhook-server-cert");

    // Create, then renew (update by name), then inject: all allowed.
    let created = certs.reconcile(&client).await.unwrap();
    let rotated = certs.rotate(&client).await.unwrap();
    assert_ne!(created, rotated);
    let results = certs
        .inject_ca_bundle(&client, rotated.ca_bundle_pem())
        .await;
    for (target, result) in &results {
        assert!(
            matches!(result, Ok(Injection::Patched)),
            "{target}: {result:?}"
        );
    }
    assert_eq!(
        ca_bundles(&admin).await,
        vec![rotated.ca_bundle_pem().to_owned(); 3]
    );
    let again = certs
        .inject_ca_bundle(&client, rotated.ca_bundle_pem())
        .await;
    assert!(
        again
            .iter()
            .all(|(_, r)| matches!(r, Ok(Injection::Unchanged)))
    );

    // The scoping holds: another Secret's name, another configuration.
    let other = certs_for_other_names("certs-system");
    let error = other.reconcile(&client).await.unwrap_err().to_string();
    assert!(
        error.starts_with("cannot read Secret certs-system/not-ours: ")
            && error.contains("forbidden"),
        "{error}"
    );
    let foreign = other
        .inject_ca_bundle(&client, rotated.ca_bundle_pem())
        .await;
    let (target, result) = &foreign[0];
    assert_eq!(*target, Target::Mutating("someone-elses".into()));
    let message = result.as_ref().unwrap_err().to_string();
    assert!(
        message.starts_with("cannot read MutatingWebhookConfiguration someone-elses: ")
            && message.contains("forbidden"),
        "{message}"
    );

    // Without the RBAC the failure says what was refused.
    let mut config = env.config();
    config.auth_info.impersonate = Some("system:serviceaccount:certs-system:nobody".into());
    let nobody = Client::try_from(config).unwrap();
    let error = certs.reconcile(&nobody).await.unwrap_err().to_string();
    assert!(
        error.starts_with("cannot read Secret certs-system/webhook-server-cert: ")
            && error.contains("forbidden"),
        "{error}"
    );
    env.stop().await;
}

/// Certificates whose Secret and configuration the scoped RBAC does not name.
fn certs_for_other_names(namespace: &str) -> SelfManagedCerts {
    SelfManagedCerts::new(namespace, "not-ours")
        .dns_names(["localhost"])
        .mutating_configuration("someone-elses")
}
