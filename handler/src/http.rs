//! The HTTP interface the gateway integrations call (docs/integration-contract.md).

use std::future::Future;

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::deps::Deps;
use crate::handle::{Reply, Request, Route, handle};

/// Request headers of the contract.
pub mod headers {
    pub const SECRET: &str = "x-chat-secret";
    pub const CONNECTION_ID: &str = "x-connection-id";
    pub const ROUTE_KEY: &str = "x-route-key";
    pub const REQUEST_ID: &str = "x-request-id";
    pub const NAME: &str = "x-chat-name";
}

fn header_string(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

fn to_response(reply: &Reply) -> Response {
    let status = StatusCode::from_u16(reply.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match reply.body() {
        Some(body) => json_response(status, body),
        None => status.into_response(),
    }
}

async fn dispatch(
    State(deps): State<Deps>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let secret = headers
        .get(headers::SECRET)
        .map(|value| value.as_bytes().to_vec());
    let Some(route) = Route::from_path(uri.path()) else {
        // Unknown paths are refused like everything else without the secret, so the public
        // function URL reveals nothing.
        let reply = if deps.secret.matches(secret.as_deref()) {
            json_response(
                StatusCode::NOT_FOUND,
                br#"{"message":"Not Found"}"#.to_vec(),
            )
        } else {
            to_response(&Reply::Forbidden)
        };
        return reply;
    };
    if method != Method::POST {
        return if deps.secret.matches(secret.as_deref()) {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                [(axum::http::header::ALLOW, HeaderValue::from_static("POST"))],
            )
                .into_response()
        } else {
            to_response(&Reply::Forbidden)
        };
    }
    let request = Request {
        secret,
        connection_id: header_string(&headers, headers::CONNECTION_ID),
        name: header_string(&headers, headers::NAME),
        request_id: header_string(&headers, headers::REQUEST_ID),
        body,
    };
    to_response(&handle(&deps, route, request).await)
}

/// The backend as an axum router: `POST /connect`, `/disconnect`, `/sendmessage`, `/who` and
/// `/default`. It runs the same under a plain HTTP server and under `lambda_http`.
pub fn router(deps: Deps) -> Router {
    Router::new().fallback(dispatch).with_state(deps)
}

/// Serves [`router`] on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    deps: Deps,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, router(deps))
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving the chat backend")
}
