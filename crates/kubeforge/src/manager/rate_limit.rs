//! The client-side rate limit: a token bucket per API resource.
//!
//! client-go gives every REST client its own token bucket, and
//! controller-runtime builds one REST client per kind, so a Go operator
//! started with `--kube-api-qps=50` may send 50 requests a second for each
//! kind it touches: its Deployments never wait behind its Events. kube has
//! one client for every kind. With one bucket in front of it, a kubeforge
//! manager with the same flags gets a fraction of a Go operator's budget,
//! and measured that way it converged 1,000 MyApps seven times slower
//! (docs/benchmarks.md). This layer gives each API resource (group, version
//! and resource, read from the request's path) its own bucket inside the one
//! client, which is the bound a Go operator has.
//!
//! The buckets are client-go's (golang.org/x/time/rate): `burst` tokens,
//! refilled at `qps` a second, and a request that finds none reserves the
//! next one and waits for it. The wait happens in the request's future, not
//! in `poll_ready`, so a request for one resource never holds up another's;
//! kube's request buffer in front of this layer keeps taking requests.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

/// Rate-limits requests per API resource; see the module documentation.
#[derive(Clone)]
pub(crate) struct RateLimitLayer {
    buckets: Arc<Buckets>,
}

impl RateLimitLayer {
    /// `qps` requests a second on average for each resource, after an
    /// initial `burst` (at least one).
    pub(crate) fn new(qps: u32, burst: u32) -> Self {
        RateLimitLayer {
            buckets: Arc::new(Buckets {
                qps: f64::from(qps.max(1)),
                burst: f64::from(burst.max(1)),
                by_resource: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl<S> tower::Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit {
            inner,
            buckets: Arc::clone(&self.buckets),
        }
    }
}

/// Every resource's bucket, shared by all clones of the service.
struct Buckets {
    qps: f64,
    burst: f64,
    /// A handful of entries: one per resource the manager talks to.
    by_resource: Mutex<HashMap<String, Bucket>>,
}

impl Buckets {
    /// Takes a token from `resource`'s bucket at `now`; how long the request
    /// must wait for it.
    fn reserve(&self, resource: &str, now: Instant) -> Duration {
        // A panic while holding the lock cannot leave a bucket half-updated
        // (every update is one assignment), so a poisoned lock is still good.
        let mut by_resource = self
            .by_resource
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let bucket = match by_resource.get_mut(resource) {
            Some(bucket) => bucket,
            None => by_resource
                .entry(resource.to_owned())
                .or_insert(Bucket::full(self.burst, now)),
        };
        bucket.reserve(now, self.qps, self.burst)
    }
}

/// One resource's tokens, as `x/time/rate.Limiter` keeps them: a count that
/// goes negative while requests are waiting for tokens not yet refilled.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn full(burst: f64, now: Instant) -> Self {
        Bucket {
            tokens: burst,
            updated: now,
        }
    }

    /// Refills up to `burst` for the time since the last reservation, takes
    /// one token, and says how long until that token exists.
    fn reserve(&mut self, now: Instant, qps: f64, burst: f64) -> Duration {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * qps).min(burst) - 1.0;
        self.updated = now;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / qps)
        }
    }
}

/// The API resource a request path addresses, the unit client-go and
/// controller-runtime give a bucket to: `apis/<group>/<version>/<resource>`
/// or `api/v1/<resource>`. Namespaces and names are dropped (every
/// namespace's Deployments share one bucket); subresources count as their
/// resource (`/status` writes share the kind's bucket). Paths outside the
/// resource API (`/version`, `/openapi/v3`) share the empty key.
fn resource_key(path: &str) -> String {
    let mut segments = path.trim_start_matches('/').split('/');
    let prefix_len = match segments.next() {
        Some("api") => 1,
        Some("apis") => 2,
        _ => return String::new(),
    };
    let group_version: Vec<&str> = segments.by_ref().take(prefix_len).collect();
    let rest: Vec<&str> = segments.collect();
    // `namespaces/<ns>/<resource>/...` is a namespaced resource;
    // `namespaces` and `namespaces/<name>` are Namespaces themselves.
    let resource = match rest.as_slice() {
        ["namespaces", _, resource, ..] => resource,
        [resource, ..] => resource,
        [] => "",
    };
    let root = if prefix_len == 1 { "api" } else { "apis" };
    format!("{root}/{}/{resource}", group_version.join("/"))
}

/// The service [`RateLimitLayer`] wraps around the client's stack.
#[derive(Clone)]
pub(crate) struct RateLimit<S> {
    inner: S,
    buckets: Arc<Buckets>,
}

impl<S, ReqBody> tower::Service<http::Request<ReqBody>> for RateLimit<S>
where
    S: tower::Service<http::Request<ReqBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let wait = self
            .buckets
            .reserve(&resource_key(request.uri().path()), Instant::now());
        // kube's client stack does its work when the future is polled (the
        // connection is taken from the pool then), so calling now and
        // polling after the wait sends the request after the wait.
        let response = self.inner.call(request);
        Box::pin(async move {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            response.await
        })
    }
}

#[cfg(test)]
mod tests {
    use tower::{Layer as _, ServiceExt as _};

    use super::*;

    #[test]
    fn requests_are_keyed_by_resource() {
        let cases = [
            ("/api/v1/namespaces/ns/pods", "api/v1/pods"),
            ("/api/v1/namespaces/ns/pods/p/status", "api/v1/pods"),
            ("/api/v1/pods", "api/v1/pods"),
            ("/api/v1/namespaces", "api/v1/namespaces"),
            ("/api/v1/namespaces/ns", "api/v1/namespaces"),
            (
                "/apis/apps/v1/namespaces/ns/deployments/d",
                "apis/apps/v1/deployments",
            ),
            ("/apis/apps/v1/deployments", "apis/apps/v1/deployments"),
            ("/apis/example.com/v1/myapps", "apis/example.com/v1/myapps"),
            (
                "/apis/example.com/v1/namespaces/ns/myapps/a/status",
                "apis/example.com/v1/myapps",
            ),
            ("/version", ""),
            ("/openapi/v3", ""),
        ];
        for (path, key) in cases {
            assert_eq!(resource_key(path), key, "{path}");
        }
    }

    #[test]
    fn a_bucket_lets_a_burst_through_then_refills_at_qps() {
        let now = Instant::now();
        let (qps, burst) = (10.0, 3.0);
        let mut bucket = Bucket::full(burst, now);
        let waits: Vec<Duration> = (0..5).map(|_| bucket.reserve(now, qps, burst)).collect();
        let ms = |n| Duration::from_millis(n);
        assert_eq!(
            waits[..3],
            [Duration::ZERO; 3],
            "the burst waits for nothing"
        );
        assert!(waits[3].abs_diff(ms(100)) < ms(1), "{waits:?}");
        assert!(waits[4].abs_diff(ms(200)) < ms(1), "{waits:?}");
        // A quiet second refills the bucket, but never beyond the burst.
        let later = now + Duration::from_secs(10);
        let waits: Vec<Duration> = (0..4).map(|_| bucket.reserve(later, qps, burst)).collect();
        assert_eq!(waits[..3], [Duration::ZERO; 3]);
        assert!(waits[3].abs_diff(ms(100)) < ms(1), "{waits:?}");
    }

    /// Through the layer, with tokio's clock paused: one resource's backlog
    /// delays its own requests and nobody else's.
    #[tokio::test(start_paused = true)]
    async fn one_resource_waits_without_holding_up_another() {
        let layer = RateLimitLayer::new(10, 2);
        let service = layer.layer(tower::service_fn(|request: http::Request<()>| async move {
            Ok::<_, std::convert::Infallible>(request.uri().path().to_owned())
        }));
        let send = |path: &'static str| {
            let service = service.clone();
            async move {
                let began = Instant::now();
                let request = http::Request::get(path).body(()).unwrap();
                service.oneshot(request).await.unwrap();
                began.elapsed()
            }
        };
        let pods = "/api/v1/namespaces/a/pods";
        let deployments = "/apis/apps/v1/namespaces/a/deployments";
        let (p1, p2, p3, p4, d1) = tokio::join!(
            send(pods),
            send(pods),
            send(pods),
            send(pods),
            send(deployments)
        );
        let ms = |n| Duration::from_millis(n);
        assert_eq!((p1, p2), (Duration::ZERO, Duration::ZERO), "the burst");
        assert!(
            p3.abs_diff(ms(100)) < ms(2),
            "third pods request waited {p3:?}"
        );
        assert!(
            p4.abs_diff(ms(200)) < ms(2),
            "fourth pods request waited {p4:?}"
        );
        assert_eq!(d1, Duration::ZERO, "deployments have their own bucket");
    }
}
