// Copyright the project authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

//! The operator's /metrics as Prometheus scrapes it in a cluster: over
//! HTTPS, with a ServiceAccount token that config/rbac/metrics_reader_role.yaml
//! authorizes, from a manager holding config/rbac/role.yaml and
//! config/rbac/metrics_auth_role.yaml. The series carry controller-runtime's
//! names, so dashboards and alerts written for Kubebuilder operators (and the
//! ones `kubeforge edit --plugins grafana` scaffolds) read this operator.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use common::{Cluster, RunningManager, app_where, condition, eventually, manager_args};
use kubeforge::k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use kubeforge::k8s_openapi::api::core::v1::ServiceAccount;
use kubeforge::kube::Api;
use kubeforge::kube::api::PostParams;
use kubeforge::manager::{Manager, ManagerArgs, WatchNamespaces};
use myapp_manager::controller::my_app::PROGRESSING;
use rustls::pki_types::{CertificateDer, ServerName};

/// What Prometheus runs as in this test, holding the metrics-reader role.
const SCRAPER_NAMESPACE: &str = "monitoring";
const SCRAPER: &str = "prometheus";

/// Writes a serving certificate for 127.0.0.1 as `tls.crt`/`tls.key` into
/// `dir` (the layout of a mounted TLS Secret, as cert-manager provides it)
/// and returns it, for the scraper to trust.
fn write_certificate(dir: &Path) -> anyhow::Result<CertificateDer<'static>> {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])?;
    std::fs::write(dir.join("tls.crt"), cert.pem())?;
    std::fs::write(dir.join("tls.key"), signing_key.serialize_pem())?;
    Ok(cert.der().clone())
}

/// A short-lived token of the ServiceAccount `namespace/name`, as a pod's
/// projected token.
async fn token(cluster: &Cluster, namespace: &str, name: &str) -> anyhow::Result<String> {
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(600),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    Api::<ServiceAccount>::namespaced(cluster.admin.clone(), namespace)
        .create_token_request(name, &PostParams::default(), &request)
        .await?
        .status
        .and_then(|status| status.token)
        .ok_or_else(|| anyhow::anyhow!("the TokenRequest returned no token"))
}

/// GET /metrics over TLS trusting only `ca`, with `token`: the status code
/// and body. A plain blocking HTTP/1.1 exchange with rustls' own stream:
/// not worth an HTTP client dependency.
async fn scrape(
    addr: SocketAddr,
    ca: &CertificateDer<'static>,
    token: &str,
) -> anyhow::Result<(u16, String)> {
    use std::io::{Read as _, Write as _};

    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    let response = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let connection = rustls::ClientConnection::new(
            Arc::new(config),
            ServerName::IpAddress(addr.ip().into()),
        )?;
        let mut tls = rustls::StreamOwned::new(connection, std::net::TcpStream::connect(addr)?);
        tls.write_all(request.as_bytes())?;
        let mut response = Vec::new();
        // The server may close without a TLS close_notify; what arrived counts.
        let _ = tls.read_to_end(&mut response);
        Ok(String::from_utf8_lossy(&response).into_owned())
    })
    .await??;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("not an HTTP response: {response:?}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// The value of the first sample whose line starts with `series`.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn prometheus_scrapes_controller_runtime_series_over_https() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let root = common::project_root();
    // The operator's ServiceAccount (role.yaml, from Cluster::start) also
    // gets the role that lets it ask the API server who is scraping.
    let operator = cluster
        .env
        .service_account_config(
            "myapp-system",
            "controller-manager",
            &root.join("config/rbac/metrics_auth_role.yaml"),
        )
        .await?;
    // Prometheus holds the metrics-reader role, as config/prometheus expects.
    cluster
        .env
        .service_account_client(
            SCRAPER_NAMESPACE,
            SCRAPER,
            &root.join("config/rbac/metrics_reader_role.yaml"),
        )
        .await?;

    let certs = tempfile::tempdir()?;
    let ca = write_certificate(certs.path())?;
    let args = ManagerArgs {
        metrics_bind_address: "127.0.0.1:0".into(),
        metrics_cert_path: Some(certs.path().to_owned()),
        watch_namespace: WatchNamespaces::new([cluster.namespace.as_str()])
            .map_err(anyhow::Error::msg)?,
        ..manager_args()
    };
    assert!(
        args.metrics_secure,
        "HTTPS with authorization is the default"
    );
    // Built from a configuration, not a ready client, so its requests are
    // counted in rest_client_requests_total as in a deployed manager.
    let mut manager = Manager::with_config(args, "myapp.example.com", operator)?;
    manager.bind().await?;
    let addr = manager
        .metrics_addr()
        .ok_or_else(|| anyhow::anyhow!("metrics are enabled"))?;
    let running = RunningManager::spawn(manager);

    cluster
        .create_app(
            "scraped",
            serde_json::json!({ "replicas": 1, "image": "nginx:1.27" }),
        )
        .await?;
    app_where(&cluster, "scraped", "the MyApp to be reconciled", |app| {
        condition(app, PROGRESSING).is_some()
    })
    .await?;

    let prometheus = token(&cluster, SCRAPER_NAMESPACE, SCRAPER).await?;
    let reconciled = r#"controller_runtime_reconcile_total{controller="my_app",result="success"}"#;
    // The reader's binding reaches the API server's authorizer shortly after
    // it is written (403 until then), and the reconcile above is counted
    // once it returns.
    let body = eventually("an authorized scrape counting the reconcile", || async {
        let (status, body) = scrape(addr, &ca, &prometheus).await?;
        Ok((status == 200 && sample(&body, reconciled).is_some_and(|n| n >= 1.0)).then_some(body))
    })
    .await?;
    assert!(
        body.ends_with("# EOF\n"),
        "an OpenMetrics exposition: {body}"
    );
    for series in [
        r#"controller_runtime_reconcile_errors_total{controller="my_app"} "#,
        r#"controller_runtime_reconcile_time_seconds_bucket{le="0.005",controller="my_app"} "#,
        r#"controller_runtime_reconcile_time_seconds_count{controller="my_app"} "#,
        r#"controller_runtime_max_concurrent_reconciles{controller="my_app"} "#,
        r#"controller_runtime_active_workers{controller="my_app"} "#,
        r#"rest_client_requests_total{code="200",method="GET",host="127.0.0.1:"#,
        r#"rest_client_requests_total{code="201",method="POST",host="127.0.0.1:"#,
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "tokio_runtime_alive_tasks ",
    ] {
        assert!(
            body.lines().any(|line| line.starts_with(series)),
            "{series} missing from:\n{body}"
        );
    }
    assert_eq!(
        sample(
            &body,
            r#"controller_runtime_max_concurrent_reconciles{controller="my_app"}"#
        ),
        Some(f64::from(manager_args().limits.max_concurrent_reconciles))
    );

    // Anyone else's token is refused: the operator's metrics are not public.
    let operator_token = token(&cluster, "myapp-system", "controller-manager").await?;
    let (status, _) = scrape(addr, &ca, &operator_token).await?;
    assert_eq!(
        status, 403,
        "the operator's own account may not read /metrics"
    );

    running.stop().await
}
