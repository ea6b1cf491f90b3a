//! How hard a manager may push: reconciles in flight per controller, and
//! requests per second to the API server.
//!
//! kube-runtime's `Controller` runs every queued reconcile at once unless
//! told otherwise, and kube's client sends every request at once. When a
//! manager starts (or a burst of objects arrives), that is one reconcile and
//! one request per object: thousands of requests in flight, each with its
//! own connection and buffers in the manager, and a load the API server has
//! to shed. Go operators are bounded on both sides (controller-runtime's
//! `MaxConcurrentReconciles`, client-go's QPS and burst); these are the same
//! bounds for kubeforge managers, as flags.

use kube::Client;
use kube::client::ClientBuilder;
use tower::util::option_layer;

use super::ManagerError;
use super::rate_limit::RateLimitLayer;
use super::request_metrics::{RequestFamily, RequestMetricsLayer};

/// Reconciles each controller runs at once unless told otherwise.
///
/// Kubebuilder's default is 1; a few more keep one slow reconcile from
/// holding up every other object while still bounding the requests and
/// memory a burst of objects costs.
pub const DEFAULT_MAX_CONCURRENT_RECONCILES: u16 = 4;

/// Average requests per second to the API server: kube-scheduler's default
/// client QPS (controller-runtime used 20 before it left the limit to the
/// API server's priority and fairness).
pub const DEFAULT_KUBE_API_QPS: u32 = 50;

/// Requests that may go out at once after a quiet spell (kube-scheduler's
/// default burst).
pub const DEFAULT_KUBE_API_BURST: u32 = 100;

/// The flags that bound a manager's load; flattened into
/// [`ManagerArgs`](super::ManagerArgs).
///
/// Every flag can also be set through the environment variable named in its
/// help, e.g. in a Deployment's `env:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::Args)]
pub struct LimitArgs {
    /// Reconciles each controller runs at once (as Kubebuilder's
    /// MaxConcurrentReconciles); 0 means no limit. A controller never
    /// reconciles the same object twice at once, whatever the value.
    #[arg(
        long,
        env = "MAX_CONCURRENT_RECONCILES",
        default_value_t = DEFAULT_MAX_CONCURRENT_RECONCILES
    )]
    pub max_concurrent_reconciles: u16,

    /// Average requests per second the manager sends to the API server for
    /// each kind of object (each API resource has its own budget, as each of
    /// a Go operator's per-kind clients has; watches count when they start);
    /// 0 means no client-side limit, leaving it to the API server's priority
    /// and fairness.
    #[arg(long, env = "KUBE_API_QPS", default_value_t = DEFAULT_KUBE_API_QPS)]
    pub kube_api_qps: u32,

    /// Requests the manager may send at once for each kind of object before
    /// --kube-api-qps applies.
    #[arg(long, env = "KUBE_API_BURST", default_value_t = DEFAULT_KUBE_API_BURST)]
    pub kube_api_burst: u32,
}

impl Default for LimitArgs {
    fn default() -> Self {
        LimitArgs {
            max_concurrent_reconciles: DEFAULT_MAX_CONCURRENT_RECONCILES,
            kube_api_qps: DEFAULT_KUBE_API_QPS,
            kube_api_burst: DEFAULT_KUBE_API_BURST,
        }
    }
}

impl LimitArgs {
    /// kube-runtime's controller configuration with these bounds, for
    /// `Controller::with_config` (0 is kube-runtime's "unbounded" too).
    pub fn controller_config(&self) -> kube::runtime::controller::Config {
        kube::runtime::controller::Config::default().concurrency(self.max_concurrent_reconciles)
    }

    /// The client's rate limit: a token bucket of `burst` per API resource,
    /// refilled at `qps`. `None` when there is no limit.
    fn rate_limit(&self) -> Option<RateLimitLayer> {
        (self.kube_api_qps > 0).then(|| RateLimitLayer::new(self.kube_api_qps, self.kube_api_burst))
    }

    /// A client from `config` whose requests obey --kube-api-qps and
    /// --kube-api-burst, per API resource. A limited request waits (without a
    /// connection) until its resource's bucket has a token.
    pub fn client(&self, config: kube::Config) -> Result<Client, ManagerError> {
        self.counted_client(config, None)
    }

    /// [`LimitArgs::client`], counting every request in `requests`
    /// (`rest_client_requests_total`) when given.
    pub(super) fn counted_client(
        &self,
        config: kube::Config,
        requests: Option<RequestFamily>,
    ) -> Result<Client, ManagerError> {
        let host = config.cluster_url.authority().map(ToString::to_string);
        let builder = ClientBuilder::try_from(config).map_err(ManagerError::Client)?;
        // Counted when answered: a request waiting for the rate limit is
        // not yet a request to the API server.
        let counting = option_layer(
            requests.map(|family| RequestMetricsLayer::new(family, host.as_deref().unwrap_or(""))),
        );
        let limiting = option_layer(self.rate_limit());
        Ok(builder.with_layer(&limiting).with_layer(&counting).build())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        limits: LimitArgs,
    }

    #[test]
    fn flag_defaults_match_default() {
        let cli = Cli::try_parse_from(["manager"]).unwrap();
        assert_eq!(cli.limits, LimitArgs::default());
    }

    #[test]
    fn flags_set_the_limits() {
        let cli = Cli::try_parse_from([
            "manager",
            "--max-concurrent-reconciles=8",
            "--kube-api-qps=10",
            "--kube-api-burst=20",
        ])
        .unwrap();
        assert_eq!(cli.limits.max_concurrent_reconciles, 8);
        assert_eq!(
            (cli.limits.kube_api_qps, cli.limits.kube_api_burst),
            (10, 20)
        );
        assert!(cli.limits.rate_limit().is_some());
    }

    #[test]
    fn zero_qps_means_no_limit() {
        let limits = LimitArgs {
            kube_api_qps: 0,
            ..LimitArgs::default()
        };
        assert!(limits.rate_limit().is_none());
    }

    /// The limit holds on a real client: at 5 a second after a burst of 2,
    /// six requests for one resource wait at least 4 × 200 ms.
    #[tokio::test]
    async fn client_requests_wait_for_the_rate_limit() {
        use std::time::{Duration, Instant};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                    let mut buf = vec![0u8; 4096];
                    loop {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {
                                let body = r#"{"major":"1","minor":"37","gitVersion":"v1.37.0","gitCommit":"","gitTreeState":"","buildDate":"","goVersion":"","compiler":"","platform":""}"#;
                                let response = format!(
                                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                                    body.len()
                                );
                                if stream.write_all(response.as_bytes()).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        let config = kube::Config::new(format!("http://{addr}").parse().unwrap());
        let limits = LimitArgs {
            max_concurrent_reconciles: 1,
            kube_api_qps: 5,
            kube_api_burst: 2,
        };
        let client = limits.client(config).unwrap();
        let began = Instant::now();
        for _ in 0..6 {
            client.apiserver_version().await.unwrap();
        }
        let elapsed = began.elapsed();
        server.abort();
        assert!(
            elapsed >= Duration::from_millis(750),
            "six requests at 5 a second after a burst of 2 took only {elapsed:?}"
        );
    }
}
