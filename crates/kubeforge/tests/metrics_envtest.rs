//! Secure /metrics against a real API server: HTTPS, and the API server
//! deciding who may scrape (TokenReview + SubjectAccessReview), with the
//! manager and the scraper each holding exactly the ClusterRole that
//! `kubeforge init` scaffolds for them (metrics-auth-role, metrics-reader).

#![cfg(feature = "runtime")]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use kubeforge::manager::{Manager, ManagerArgs, ManagerError, TlsError};
use kubeforge_envtest::Environment;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::oneshot;

mod support;

/// Upper bound for RBAC bindings to take effect, so a regression fails
/// rather than hangs; nothing asserts how fast anything happens.
const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// A scaffolded RBAC file, rendered as `kubeforge init` would for "test".
fn scaffolded_role(name: &str, dir: &Path) -> PathBuf {
    let template = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../templates/init/config/rbac")
        .join(name);
    let text = std::fs::read_to_string(&template).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text.replace("{{ project_name }}", "test")).unwrap();
    path
}

/// A certificate for 127.0.0.1 as `tls.crt`/`tls.key` in `dir`, the layout of
/// a mounted Kubernetes TLS Secret.
fn write_certificate(dir: &Path) -> CertificateDer<'static> {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    std::fs::write(dir.join("tls.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), signing_key.serialize_pem()).unwrap();
    cert.der().clone()
}

/// The default (secure) metrics settings, on a free port, with the
/// certificate from `cert_dir`.
fn secure_args(cert_dir: &Path) -> ManagerArgs {
    ManagerArgs {
        metrics_bind_address: "127.0.0.1:0".into(),
        metrics_cert_path: Some(cert_dir.to_owned()),
        health_probe_bind_address: "0".into(),
        log_level: Some("off".into()),
        ..ManagerArgs::default()
    }
}

async fn token(env: &Environment, namespace: &str, name: &str) -> String {
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(600),
            ..Default::default()
        }),
        ..Default::default()
    };
    Api::<ServiceAccount>::namespaced(env.client(), namespace)
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .and_then(|status| status.token)
        .unwrap()
}

/// GET /metrics over TLS, trusting only `ca`; the status code and body.
async fn get(addr: SocketAddr, ca: &CertificateDer<'static>, token: Option<&str>) -> (u16, String) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let server_name = ServerName::IpAddress(addr.ip().into());
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(server_name, tcp)
        .await
        .unwrap();
    support::get_over(tls, &addr.to_string(), "/metrics", token).await
}

#[tokio::test]
async fn only_authorized_service_accounts_can_scrape_over_https() {
    let env = Environment::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = write_certificate(dir.path());

    // The manager runs as its ServiceAccount with only the scaffolded
    // metrics-auth-role: enough to ask the API server about callers.
    let manager_client = env
        .service_account_client(
            "system",
            "controller-manager",
            &scaffolded_role("metrics_auth_role.yaml", dir.path()),
        )
        .await
        .unwrap();
    // Prometheus holds the scaffolded metrics-reader role; a bystander nothing.
    env.service_account_client(
        "monitoring",
        "prometheus",
        &scaffolded_role("metrics_reader_role.yaml", dir.path()),
    )
    .await
    .unwrap();
    let bystander = ServiceAccount {
        metadata: kube::api::ObjectMeta {
            name: Some("bystander".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<ServiceAccount>::namespaced(env.client(), "monitoring")
        .create(&PostParams::default(), &bystander)
        .await
        .unwrap();

    let args = secure_args(dir.path());
    assert!(
        args.metrics_secure,
        "HTTPS with authorization is the default"
    );
    let mut manager = Manager::with_client(args, "metrics.example.com", manager_client).unwrap();
    manager.bind().await.unwrap();
    let addr = manager.metrics_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let run = tokio::spawn(manager.run_until(async {
        let _ = stopped.await;
    }));

    let prometheus = token(&env, "monitoring", "prometheus").await;
    // The metrics-reader binding reaches the authorizer's cache shortly after
    // it is written; until then the answer is 403.
    let deadline = Instant::now() + WAIT_LIMIT;
    let (status, body) = loop {
        let (status, body) = get(addr, &ca, Some(&prometheus)).await;
        if status != 403 || Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("# EOF"), "an OpenMetrics exposition: {body}");

    let bystander = token(&env, "monitoring", "bystander").await;
    let (status, body) = get(addr, &ca, Some(&bystander)).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("system:serviceaccount:monitoring:bystander"),
        "{body}"
    );
    assert_eq!(get(addr, &ca, None).await.0, 401);
    assert_eq!(get(addr, &ca, Some("not-a-token")).await.0, 401);

    // Plain HTTP gets no metrics from a TLS port.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    let _ = plain.read_to_end(&mut response).await;
    assert!(!String::from_utf8_lossy(&response).contains(" 200 "));

    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
    env.stop().await;
}

#[tokio::test]
async fn a_missing_certificate_is_reported_before_serving() {
    let env = Environment::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let args = secure_args(dir.path());
    let mut manager = Manager::with_client(args, "metrics.example.com", env.client()).unwrap();
    let error = manager.bind().await.unwrap_err();
    let ManagerError::MetricsTls(TlsError::File { what, path, .. }) = &error else {
        panic!("unexpected error: {error:?}");
    };
    assert_eq!(
        (*what, path.as_path()),
        ("certificate", dir.path().join("tls.crt").as_path())
    );
    env.stop().await;
}
