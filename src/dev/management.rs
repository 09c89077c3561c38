//! The @connections management API at `/{stage}/@connections/{id}`: what the backend calls to
//! reach clients (PostToConnection, GetConnection, DeleteConnection).
//!
//! Requests are accepted without checking their SigV4 signature: the server listens on
//! loopback only, and an AWS SDK client pointed at it (with any credentials) signs as usual.
//! Errors carry the `x-amzn-ErrorType` header and a `{"message": …}` body, so SDK clients
//! classify them (`GoneException`, `PayloadTooLargeException`, `LimitExceededException`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::mpsc::error::TrySendError;

use super::gateway::{Gateway, MAX_MESSAGE_BYTES, frame_from};
use super::mapping::rfc3339;

fn aws_error(status: StatusCode, error_type: &'static str, message: &str) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::HeaderName::from_static("x-amzn-errortype"),
                HeaderValue::from_static(error_type),
            ),
        ],
        json!({ "message": message }).to_string(),
    )
        .into_response()
}

fn gone() -> Response {
    aws_error(
        StatusCode::GONE,
        "GoneException",
        "The connection with the provided id no longer exists",
    )
}

/// PostToConnection: the body becomes one frame for the connection.
pub async fn post(
    State(gateway): State<Arc<Gateway>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if body.len() > MAX_MESSAGE_BYTES {
        return aws_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeException",
            "Payload too large: the limit is 128 KB",
        );
    }
    let Some(connection) = gateway.connections.get(&id) else {
        tracing::debug!(connection_id = id, "@connections POST: gone");
        return gone();
    };
    match connection.try_send(frame_from(body)) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(TrySendError::Full(_)) => aws_error(
            StatusCode::TOO_MANY_REQUESTS,
            "LimitExceededException",
            "The client is not reading fast enough: its buffer is full",
        ),
        Err(TrySendError::Closed(_)) => gone(),
    }
}

/// GetConnection, in the JSON shape of the AWS API.
pub async fn get(State(gateway): State<Arc<Gateway>>, Path(id): Path<String>) -> Response {
    let Some(connection) = gateway.connections.get(&id) else {
        return gone();
    };
    let body = json!({
        "connectedAt": rfc3339(connection.connected_at),
        "lastActiveAt": rfc3339(connection.last_active()),
        "identity": {
            "sourceIp": connection.source_ip,
            "userAgent": connection.user_agent,
        },
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// DeleteConnection: closes the connection (the client sees close code 1000).
pub async fn delete(State(gateway): State<Arc<Gateway>>, Path(id): Path<String>) -> Response {
    // Out of the table at once: a post right after the delete already gets 410.
    let Some(connection) = gateway.connections.remove(&id) else {
        return gone();
    };
    tracing::debug!(connection_id = id, "@connections DELETE");
    connection.request_close();
    StatusCode::NO_CONTENT.into_response()
}
