//! `rest_client_requests_total{code,method,host}`: every request the
//! manager's client sends to the API server, counted by a tower layer in
//! the client's stack, as client-go counts them for Go operators.
//!
//! The series answers "is the operator hammering the API server, and is it
//! being refused?" (429s and 5xx by method), which reconcile metrics cannot:
//! one reconcile may make many requests, and watches make requests of their
//! own.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// Labels of `rest_client_requests_total`, as client-go names them.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    /// The HTTP status code, or `<error>` when no response came back
    /// (client-go's value for the same case).
    code: String,
    method: String,
    /// The API server's `host:port`.
    host: String,
}

pub(crate) type RequestFamily = Family<RequestLabels, Counter>;

/// Counts each request the wrapped service answers (or fails) in
/// `rest_client_requests_total`.
#[derive(Clone)]
pub(crate) struct RequestMetricsLayer {
    requests: RequestFamily,
    host: Arc<str>,
}

impl RequestMetricsLayer {
    /// Counts into `requests`, labelling every request with `host` (the
    /// cluster URL's authority: the client talks to one API server).
    pub(crate) fn new(requests: RequestFamily, host: &str) -> Self {
        RequestMetricsLayer {
            requests,
            host: Arc::from(host),
        }
    }
}

impl<S> tower::Layer<S> for RequestMetricsLayer {
    type Service = RequestMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestMetrics {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`RequestMetricsLayer`] wraps around the client's stack.
#[derive(Clone)]
pub(crate) struct RequestMetrics<S> {
    inner: S,
    layer: RequestMetricsLayer,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for RequestMetrics<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let method = request.method().as_str().to_owned();
        let response = self.inner.call(request);
        let layer = self.layer.clone();
        Box::pin(async move {
            let result = response.await;
            let code = match &result {
                Ok(response) => response.status().as_u16().to_string(),
                Err(_) => "<error>".to_owned(),
            };
            layer
                .requests
                .get_or_create(&RequestLabels {
                    code,
                    method,
                    host: layer.host.to_string(),
                })
                .inc();
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::{Layer as _, ServiceExt as _};

    use super::*;

    fn count(family: &RequestFamily, code: &str, method: &str) -> u64 {
        family
            .get_or_create(&RequestLabels {
                code: code.into(),
                method: method.into(),
                host: "10.0.0.1:6443".into(),
            })
            .get()
    }

    #[tokio::test]
    async fn counts_responses_and_failures_by_code_and_method() {
        let family = RequestFamily::default();
        let layer = RequestMetricsLayer::new(family.clone(), "10.0.0.1:6443");
        let answering = layer.layer(tower::service_fn(|request: http::Request<()>| async move {
            let status = if request.uri().path() == "/missing" {
                404
            } else {
                200
            };
            Ok::<_, Infallible>(http::Response::builder().status(status).body(()).unwrap())
        }));
        for (method, path) in [("GET", "/api"), ("GET", "/api"), ("PATCH", "/missing")] {
            let request = http::Request::builder()
                .method(method)
                .uri(path)
                .body(())
                .unwrap();
            answering.clone().oneshot(request).await.unwrap();
        }
        let failing = layer.layer(tower::service_fn(|_: http::Request<()>| async {
            Err::<http::Response<()>, _>("connection refused")
        }));
        let _ = failing.oneshot(http::Request::new(())).await;

        assert_eq!(count(&family, "200", "GET"), 2);
        assert_eq!(count(&family, "404", "PATCH"), 1);
        assert_eq!(count(&family, "<error>", "GET"), 1);
        assert_eq!(count(&family, "200", "PATCH"), 0);
    }
}
