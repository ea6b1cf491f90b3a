//! The probe (/healthz, /readyz) and metrics (/metrics) HTTP servers.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use super::ManagerError;

/// Lifecycle phase as seen by the readiness probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Phase {
    Starting = 0,
    Running = 1,
    ShuttingDown = 2,
}

/// A condition readiness also waits for (e.g. the webhook server having a
/// certificate).
type ReadyCheck = Box<dyn Fn() -> bool + Send + Sync>;

/// Shared between the manager loop and the probe handlers.
pub(crate) struct Health {
    phase: AtomicU8,
    checks: Vec<ReadyCheck>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("phase", &self.phase)
            .field("checks", &self.checks.len())
            .finish()
    }
}

impl Health {
    pub(crate) fn new() -> Self {
        Health {
            phase: AtomicU8::new(Phase::Starting as u8),
            checks: Vec::new(),
        }
    }

    /// Reports ready only while `check` holds too.
    pub(crate) fn require(mut self, check: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        self.checks.push(Box::new(check));
        self
    }

    pub(crate) fn set(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::SeqCst);
    }

    fn is_ready(&self) -> bool {
        self.phase.load(Ordering::SeqCst) == Phase::Running as u8
            && self.checks.iter().all(|check| check())
    }
}

/// Turns a bind-address flag into something `TcpListener::bind` accepts,
/// or `None` when the endpoint is disabled ("0", as in controller-runtime).
/// Go-style ":8080" is accepted because Kubebuilder manifests use it.
pub(crate) fn normalize_bind_address(address: &str) -> Option<String> {
    let address = address.trim();
    if address.is_empty() || address == "0" {
        None
    } else if let Some(port) = address.strip_prefix(':') {
        Some(format!("0.0.0.0:{port}"))
    } else {
        Some(address.to_owned())
    }
}

pub(crate) async fn bind(
    what: &'static str,
    address: &str,
) -> Result<Option<(TcpListener, SocketAddr)>, ManagerError> {
    let Some(normalized) = normalize_bind_address(address) else {
        return Ok(None);
    };
    let bind_error = |source| ManagerError::Bind {
        what,
        address: address.to_owned(),
        source,
    };
    let listener = TcpListener::bind(&normalized).await.map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    Ok(Some((listener, local)))
}

pub(crate) fn probe_router(health: Arc<Health>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(health)
}

async fn readyz(State(health): State<Arc<Health>>) -> (StatusCode, &'static str) {
    if health.is_ready() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

/// Where the Prometheus registry is served.
pub(crate) const METRICS_PATH: &str = "/metrics";

/// The metrics routes; with `authorizer`, every request must first pass the
/// API server's TokenReview and SubjectAccessReview (see `metrics_auth`).
pub(crate) fn metrics_router(registry: Arc<Registry>, authorizer: Option<kube::Client>) -> Router {
    let router = Router::new()
        .route(METRICS_PATH, get(metrics))
        .with_state(registry);
    match authorizer {
        Some(client) => router.layer(axum::middleware::from_fn_with_state(
            client,
            super::metrics_auth::authorize,
        )),
        None => router,
    }
}

async fn metrics(State(registry): State<Arc<Registry>>) -> impl IntoResponse {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        ),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "failed to encode metrics".to_owned(),
        ),
    }
}

/// Spawns a server that stops accepting when `stop` resolves and finishes
/// in-flight requests (scrapes and probes are short).
pub(crate) fn spawn_server<L>(
    what: &'static str,
    listener: L,
    router: Router,
    stop: impl Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(%error, server = what, "HTTP server failed");
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_addresses() {
        assert_eq!(normalize_bind_address("0"), None);
        assert_eq!(normalize_bind_address(""), None);
        assert_eq!(
            normalize_bind_address(":8080").as_deref(),
            Some("0.0.0.0:8080")
        );
        assert_eq!(
            normalize_bind_address("127.0.0.1:0").as_deref(),
            Some("127.0.0.1:0")
        );
    }

    #[tokio::test]
    async fn bind_error_names_the_address() {
        let (_held, addr) = bind("metrics", "127.0.0.1:0").await.unwrap().unwrap();
        let error = bind("metrics", &addr.to_string()).await.unwrap_err();
        let message = error.to_string();
        assert!(message.contains(&addr.to_string()), "{message}");
        assert!(message.contains("metrics"), "{message}");
    }

    #[test]
    fn readiness_waits_for_every_check() {
        let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let health = {
            let flag = flag.clone();
            Health::new().require(move || flag.load(Ordering::SeqCst))
        };
        health.set(Phase::Running);
        assert!(!health.is_ready(), "a check does not hold yet");
        flag.store(true, Ordering::SeqCst);
        assert!(health.is_ready());
        health.set(Phase::ShuttingDown);
        assert!(!health.is_ready());
    }

    #[tokio::test]
    async fn disabled_endpoint_binds_nothing() {
        assert!(bind("probe", "0").await.unwrap().is_none());
    }
}
