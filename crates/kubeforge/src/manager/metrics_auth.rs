//! Who may read /metrics: the API server decides, as with controller-runtime's
//! `filters.WithAuthenticationAndAuthorization`. A request's bearer token is
//! checked with a TokenReview, then the user it belongs to with a
//! SubjectAccessReview for `get` on the non-resource URL `/metrics`. The
//! manager's own ServiceAccount needs `create` on both review kinds
//! (config/rbac/metrics_auth_role.yaml), and the scraper needs the
//! metrics-reader ClusterRole.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec, UserInfo};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::Client;
use kube::api::{Api, PostParams};

/// What the middleware answers, short of passing the request on.
#[derive(Debug, PartialEq, Eq)]
enum Denial {
    /// No bearer token, or one the API server does not accept.
    Unauthenticated,
    /// A known user without `get` on the path.
    Forbidden { user: String },
    /// A review could not be made (API server unreachable, or the manager
    /// lacks the metrics-auth role).
    ReviewFailed(String),
}

impl IntoResponse for Denial {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            Denial::Unauthenticated => (StatusCode::UNAUTHORIZED, "Unauthorized".to_owned()),
            Denial::Forbidden { user } => (
                StatusCode::FORBIDDEN,
                format!(
                    "Forbidden: user {user:?} may not get {}",
                    super::http::METRICS_PATH
                ),
            ),
            Denial::ReviewFailed(reason) => {
                tracing::warn!(%reason, "metrics request not authorized: the review failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Authorization check failed".to_owned(),
                )
            }
        };
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response()
    }
}

/// axum middleware: passes the request on only when the API server says the
/// caller may `get` its path.
pub(crate) async fn authorize(
    State(client): State<Client>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = bearer_token(&request) else {
        return Denial::Unauthenticated.into_response();
    };
    let path = request.uri().path().to_owned();
    match review(&client, token, &path).await {
        Ok(()) => next.run(request).await,
        Err(denial) => denial.into_response(),
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(request: &Request) -> Option<String> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

async fn review(client: &Client, token: String, path: &str) -> Result<(), Denial> {
    let user = authenticate(client, token).await?;
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: user.username.clone(),
            uid: user.uid.clone(),
            groups: user.groups.clone(),
            extra: user.extra.clone(),
            non_resource_attributes: Some(NonResourceAttributes {
                path: Some(path.to_owned()),
                verb: Some("get".into()),
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = create(client, &review).await?;
    if answer.status.is_some_and(|status| status.allowed) {
        Ok(())
    } else {
        Err(Denial::Forbidden {
            user: user.username.unwrap_or_default(),
        })
    }
}

async fn authenticate(client: &Client, token: String) -> Result<UserInfo, Denial> {
    let review = TokenReview {
        spec: TokenReviewSpec {
            token,
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = create(client, &review).await?;
    match answer.status {
        Some(status) if status.authenticated == Some(true) => {
            status.user.ok_or(Denial::Unauthenticated)
        }
        _ => Err(Denial::Unauthenticated),
    }
}

/// Creates a review (never stored: the answer is in its status).
async fn create<K>(client: &Client, review: &K) -> Result<K, Denial>
where
    K: kube::Resource<DynamicType = (), Scope = kube::core::ClusterResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned,
{
    Api::<K>::all(client.clone())
        .create(&PostParams::default(), review)
        .await
        .map_err(|e| Denial::ReviewFailed(format!("{}: {e}", K::kind(&()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(authorization: Option<&str>) -> Request {
        let mut builder = Request::builder().uri("/metrics");
        if let Some(value) = authorization {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(
            bearer_token(&request(Some("Bearer abc"))).as_deref(),
            Some("abc")
        );
        assert_eq!(
            bearer_token(&request(Some("bearer  abc "))).as_deref(),
            Some("abc")
        );
        assert_eq!(bearer_token(&request(Some("Basic abc"))), None);
        assert_eq!(bearer_token(&request(Some("Bearer "))), None);
        assert_eq!(bearer_token(&request(Some("Bearer"))), None);
        assert_eq!(bearer_token(&request(None)), None);
    }

    #[test]
    fn denials_map_to_statuses() {
        let status = |denial: Denial| denial.into_response().status();
        assert_eq!(status(Denial::Unauthenticated), StatusCode::UNAUTHORIZED);
        assert_eq!(
            status(Denial::Forbidden { user: "u".into() }),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status(Denial::ReviewFailed("down".into())),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
