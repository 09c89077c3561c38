//! The local WebSocket gateway: `$connect` during the handshake, route selection and
//! integration calls per message, limits, timeouts and `$disconnect` after the close.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite;

use super::connections::{Connection, Connections, Tasks, new_id};
use super::integration::{Integrations, Outcome};
use super::mapping::{EventType, RequestContext, Route, select_route};
use super::throttle::TokenBucket;
use crate::chat_api::{self, CONNECT_ROUTE, DEFAULT_ROUTE, DISCONNECT_ROUTE, Scheme};

/// API Gateway's frame limit (32 KB) and message limit (128 KB); beyond either the connection
/// is closed with 1009 (Message Too Big).
pub const MAX_FRAME_BYTES: usize = 32 * 1024;
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_NORMAL: u16 = 1000;
const CLOSE_PROTOCOL: u16 = 1002;
const CLOSE_INVALID_DATA: u16 = 1007;

/// How long to wait for the client's answer to our close frame before dropping the socket.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(1);

/// Small buffers per connection: chat frames are small, and tungstenite's defaults (128 KiB)
/// would dominate memory with thousands of idle connections. They are chunk sizes, not limits
/// (measured with bench/dev: 1 KiB each holds 10 000 connections in ~12 KiB of RSS apiece).
const READ_BUFFER: usize = 1024;
const WRITE_BUFFER: usize = 1024;

/// Everything the gateway needs, shared by every connection.
#[derive(Debug)]
pub struct Gateway {
    pub stage: String,
    pub api_id: String,
    pub domain_name: String,
    pub routes: BTreeMap<String, Route>,
    /// Written literally in the integration URIs, before the host stage variable.
    pub backend_scheme: Scheme,
    pub stage_variables: BTreeMap<String, String>,
    pub integrations: Integrations,
    pub connections: Connections,
    pub throttle: TokenBucket,
    pub idle_timeout: Duration,
    pub max_connection: Duration,
    pub tasks: Tasks,
    pub shutdown: watch::Receiver<bool>,
    /// The `$connect` authorizer, when the `$connect` route has one.
    pub authorizer: Option<super::authorizer::LocalAuthorizer>,
    pub access_log: super::access_log::AccessLog,
}

/// An error frame in API Gateway's shape.
fn gateway_error(message: &str, connection_id: &str, request_id: &str) -> Message {
    Message::text(
        json!({"message": message, "connectionId": connection_id, "requestId": request_id})
            .to_string(),
    )
}

pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `GET /{stage}`: the WebSocket handshake, with `$connect` deciding whether it succeeds.
pub async fn handshake(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Ok(upgrade) = upgrade else {
        return json_response(
            StatusCode::UPGRADE_REQUIRED,
            &json!({"message": "this is a WebSocket endpoint: connect with ws://…?name=NAME"}),
        );
    };
    if *gateway.shutdown.borrow() {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"message": "Service Unavailable"}),
        );
    }
    if !gateway.throttle.try_acquire() {
        tracing::info!("$connect throttled: 429");
        return json_response(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({"message": "Too Many Requests"}),
        );
    }

    let connection_id = new_id();
    let request_id = new_id();
    let connected_at = OffsetDateTime::now_utc();
    let source_ip = peer.ip().to_string();
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    // A query string that does not decode maps to nothing, like a missing one.
    let query = query.map(|Query(pairs)| pairs).unwrap_or_default();

    let mut context = RequestContext {
        connection_id: &connection_id,
        route_key: CONNECT_ROUTE,
        request_id: &request_id,
        event_type: EventType::Connect,
        connected_at,
        request_time: connected_at,
        stage: &gateway.stage,
        api_id: &gateway.api_id,
        domain_name: &gateway.domain_name,
        message_id: None,
        source_ip: &source_ip,
        user_agent: &user_agent,
        stage_variables: &gateway.stage_variables,
        query: &query,
        headers: Some(&headers),
        body: None,
        authorizer: None,
    };
    // The authorizer runs before the integration, and a refusal ends the handshake.
    let authorized = match super::authorizer::authorize(&gateway, &context, &headers).await {
        Ok(authorized) => authorized,
        Err(refused) => return refused.into_response(),
    };
    context.authorizer = authorized.as_ref();
    // The $connect integration is optional on API Gateway; without the route, connecting
    // always succeeds.
    if let Some(route) = gateway.routes.get(CONNECT_ROUTE) {
        match gateway.invoke(route, &context, Bytes::new()).await {
            Outcome::Response { status, .. } if status.is_success() => {}
            Outcome::Response { status, body } => {
                tracing::info!(connection_id, %status, "$connect refused by the integration");
                let content_type = if serde_json::from_slice::<Value>(&body).is_ok() {
                    "application/json"
                } else {
                    "text/plain; charset=utf-8"
                };
                return (
                    status,
                    [(header::CONTENT_TYPE, content_type)],
                    Body::from(body),
                )
                    .into_response();
            }
            Outcome::Failed(reason) => {
                tracing::warn!(connection_id, "$connect integration failed: {reason}");
                return json_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &json!({"message": "Internal server error"}),
                );
            }
        }
    }

    // Registered before the upgrade completes, so that a message posted to the new connection
    // right after $connect succeeded is queued rather than answered with 410.
    let (connection, outbound) = Connection::new(
        connection_id.clone(),
        connected_at,
        source_ip.clone(),
        user_agent.clone(),
        authorized,
    );
    gateway.connections.insert(Arc::clone(&connection));
    tracing::info!(connection_id, "connected");
    let pending = Pending {
        gateway: Arc::clone(&gateway),
        connection: Some(connection),
        guard: Some(gateway.tasks.start()),
    };
    upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_frame_size(MAX_FRAME_BYTES)
        .max_message_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| pending.run(socket, outbound))
}

/// A connection whose `$connect` succeeded. If the HTTP upgrade never completes (the client
/// went away), dropping this forgets the connection and still runs `$disconnect`.
struct Pending {
    gateway: Arc<Gateway>,
    connection: Option<Arc<Connection>>,
    guard: Option<super::connections::TaskGuard>,
}

impl Pending {
    async fn run(mut self, socket: WebSocket, outbound: mpsc::Receiver<Message>) {
        let (Some(connection), Some(guard)) = (self.connection.take(), self.guard.take()) else {
            return;
        };
        let gateway = Arc::clone(&self.gateway);
        serve_connection(&gateway, socket, &connection, outbound).await;
        gateway.finish(&connection, guard);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let (Some(connection), Some(guard)) = (self.connection.take(), self.guard.take()) {
            tracing::debug!(connection_id = connection.id, "upgrade failed");
            self.gateway.finish(&connection, guard);
        }
    }
}

impl Gateway {
    /// Evaluates the mappings and calls the route's integration.
    async fn invoke(&self, route: &Route, context: &RequestContext<'_>, body: Bytes) -> Outcome {
        let template = route.spec.integration_uri(self.backend_scheme);
        let uri = match chat_api::resolve_uri(&template, &self.stage_variables) {
            Ok(uri) => uri,
            Err(reason) => return Outcome::Failed(reason),
        };
        let mapped = route.evaluate(context);
        let (outcome, latency) = self.integrations.call(&uri, mapped, body).await;
        self.access_log.write(&super::access_log::Entry {
            request_id: context.request_id,
            connection_id: context.connection_id,
            route_key: context.route_key,
            event_type: context.event_type,
            source_ip: context.source_ip,
            request_time: context.request_time,
            integration_latency_ms: Some(latency.as_millis()),
            error: matches!(outcome, Outcome::Failed(_)).then_some("Internal server error"),
        });
        match &outcome {
            Outcome::Response { status, .. } => tracing::debug!(
                connection_id = context.connection_id,
                route = context.route_key,
                request_id = context.request_id,
                status = status.as_u16(),
                latency_ms = latency.as_millis(),
                "integration answered"
            ),
            Outcome::Failed(reason) => tracing::warn!(
                connection_id = context.connection_id,
                route = context.route_key,
                request_id = context.request_id,
                latency_ms = latency.as_millis(),
                "integration failed: {reason}"
            ),
        }
        outcome
    }

    /// Forgets a closed connection and runs `$disconnect` in the background (best effort: API
    /// Gateway does not guarantee its delivery either, and nobody waits for it).
    fn finish(
        self: &Arc<Self>,
        connection: &Arc<Connection>,
        guard: super::connections::TaskGuard,
    ) {
        self.connections.remove(&connection.id);
        tracing::info!(connection_id = connection.id, "disconnected");
        let Some(route) = self.routes.get(DISCONNECT_ROUTE).cloned() else {
            return;
        };
        let gateway = Arc::clone(self);
        let connection = Arc::clone(connection);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let _guard = guard;
            let request_id = new_id();
            let context = RequestContext {
                connection_id: &connection.id,
                route_key: DISCONNECT_ROUTE,
                request_id: &request_id,
                event_type: EventType::Disconnect,
                connected_at: connection.connected_at,
                request_time: OffsetDateTime::now_utc(),
                stage: &gateway.stage,
                api_id: &gateway.api_id,
                domain_name: &gateway.domain_name,
                message_id: None,
                source_ip: &connection.source_ip,
                user_agent: &connection.user_agent,
                stage_variables: &gateway.stage_variables,
                query: &[],
                headers: None,
                body: None,
                authorizer: connection.authorizer.as_ref(),
            };
            gateway.invoke(&route, &context, Bytes::new()).await;
        });
    }

    /// The access line of a message the gateway answered itself, with `error`.
    fn log_refusal(&self, connection: &Connection, request_id: &str, error: &str) {
        self.access_log.write(&super::access_log::Entry {
            request_id,
            connection_id: &connection.id,
            route_key: "-",
            event_type: EventType::Message,
            source_ip: &connection.source_ip,
            request_time: OffsetDateTime::now_utc(),
            integration_latency_ms: None,
            error: Some(error),
        });
    }

    /// Routes one message and calls its integration; the reply (two-way routes) or an error
    /// frame is queued for the sender.
    async fn handle_message(&self, connection: &Connection, body: Bytes, message_id: String) {
        let request_id = new_id();
        let route = select_route(&self.routes, &body).or_else(|| self.routes.get(DEFAULT_ROUTE));
        let Some(route) = route else {
            tracing::info!(
                connection_id = connection.id,
                request_id,
                "no route matched and there is no $default route: Forbidden"
            );
            self.log_refusal(connection, &request_id, "Forbidden");
            connection
                .send(gateway_error("Forbidden", &connection.id, &request_id))
                .await;
            return;
        };
        tracing::debug!(
            connection_id = connection.id,
            route = route.spec.route_key,
            request_id,
            "message"
        );
        let parsed: Option<Value> = serde_json::from_slice(&body).ok();
        let context = RequestContext {
            connection_id: &connection.id,
            route_key: &route.spec.route_key,
            request_id: &request_id,
            event_type: EventType::Message,
            connected_at: connection.connected_at,
            request_time: OffsetDateTime::now_utc(),
            stage: &self.stage,
            api_id: &self.api_id,
            domain_name: &self.domain_name,
            message_id: Some(&message_id),
            source_ip: &connection.source_ip,
            user_agent: &connection.user_agent,
            stage_variables: &self.stage_variables,
            query: &[],
            headers: None,
            body: parsed.as_ref(),
            authorizer: connection.authorizer.as_ref(),
        };
        match self.invoke(route, &context, body).await {
            Outcome::Response { body, .. } => {
                // Without a route response the integration's answer goes nowhere. An empty body
                // produces no frame.
                if route.spec.two_way && !body.is_empty() {
                    connection.send(frame_from(body)).await;
                }
            }
            Outcome::Failed(_) => {
                connection
                    .send(gateway_error(
                        "Internal server error",
                        &connection.id,
                        &request_id,
                    ))
                    .await;
            }
        }
    }
}

/// A payload as a text frame when it is UTF-8 (every JSON reply is), binary otherwise.
pub fn frame_from(body: Bytes) -> Message {
    match String::from_utf8(body.to_vec()) {
        Ok(text) => Message::text(text),
        Err(_) => Message::Binary(body),
    }
}

enum Ending {
    /// The client closed or the socket failed: nothing more to send.
    Gone,
    /// We close with this code and reason.
    Close(u16, &'static str),
    /// We close after a read error; the stream cannot be read any further.
    CloseUnreadable(u16, &'static str),
}

/// The life of one connection: reads frames, writes queued frames, enforces the limits.
async fn serve_connection(
    gateway: &Arc<Gateway>,
    mut socket: WebSocket,
    connection: &Arc<Connection>,
    mut outbound: mpsc::Receiver<Message>,
) {
    // Messages are handled in order by one worker per connection, so replies and the frames
    // they cause reach peers in the order the client sent them, while this loop keeps
    // writing, reading and timing.
    let (work_tx, mut work_rx) = mpsc::unbounded_channel::<Bytes>();
    let worker = {
        let gateway = Arc::clone(gateway);
        let connection = Arc::clone(connection);
        tokio::spawn(async move {
            while let Some(body) = work_rx.recv().await {
                gateway.handle_message(&connection, body, new_id()).await;
            }
        })
    };

    let hard_deadline = Instant::now() + gateway.max_connection;
    let mut idle_deadline = Instant::now() + gateway.idle_timeout;
    let stop = super::stopped(gateway.shutdown.clone());
    tokio::pin!(stop);

    let ending = loop {
        tokio::select! {
            incoming = socket.recv() => {
                let data = match incoming {
                    None | Some(Ok(Message::Close(_))) => break Ending::Gone,
                    Some(Ok(Message::Text(text))) => Bytes::from(text),
                    Some(Ok(Message::Binary(data))) => data,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                        idle_deadline = Instant::now() + gateway.idle_timeout;
                        connection.touch();
                        continue;
                    }
                    Some(Err(err)) => break read_error(err),
                };
                idle_deadline = Instant::now() + gateway.idle_timeout;
                connection.touch();
                if !gateway.throttle.try_acquire() {
                    tracing::info!(connection_id = connection.id, "message throttled");
                    let request_id = new_id();
                    gateway.log_refusal(connection, &request_id, "Too Many Requests");
                    let frame = gateway_error("Too Many Requests", &connection.id, &request_id);
                    if socket.send(frame).await.is_err() {
                        break Ending::Gone;
                    }
                    continue;
                }
                if work_tx.send(data).is_err() {
                    break Ending::Gone;
                }
            }
            Some(message) = outbound.recv() => {
                if socket.send(message).await.is_err() {
                    break Ending::Gone;
                }
                // Traffic in either direction keeps a connection alive.
                idle_deadline = Instant::now() + gateway.idle_timeout;
            }
            () = connection.close_requested() => break Ending::Close(CLOSE_NORMAL, ""),
            () = sleep_until(idle_deadline) => {
                tracing::info!(connection_id = connection.id, "idle timeout");
                break Ending::Close(CLOSE_GOING_AWAY, "Going away");
            }
            () = sleep_until(hard_deadline) => {
                tracing::info!(connection_id = connection.id, "maximum connection duration reached");
                break Ending::Close(CLOSE_GOING_AWAY, "Going away");
            }
            // Also taken when the server is dropped without a shutdown: nothing is left to serve.
            () = &mut stop => {
                break Ending::Close(CLOSE_GOING_AWAY, "Going away");
            }
        }
    };

    // No frame is written once the connection leaves the table; later posts answer 410.
    gateway.connections.remove(&connection.id);
    match ending {
        Ending::Gone => {}
        Ending::Close(code, reason) => close(&mut socket, code, reason, true).await,
        Ending::CloseUnreadable(code, reason) => close(&mut socket, code, reason, false).await,
    }
    // The worker may be waiting for room in the outbound queue: closing it fails those sends.
    drop(outbound);
    drop(work_tx);
    // Messages already accepted still reach the backend, as they would on API Gateway.
    let _ = worker.await;
}

/// Maps a read failure to the close code API Gateway (or RFC 6455) prescribes.
fn read_error(err: axum::Error) -> Ending {
    let inner = err.into_inner();
    match inner.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(_)) => {
            Ending::CloseUnreadable(CLOSE_TOO_BIG, "Message too big")
        }
        Some(tungstenite::Error::Utf8(_)) => {
            Ending::CloseUnreadable(CLOSE_INVALID_DATA, "Invalid UTF-8")
        }
        Some(tungstenite::Error::Protocol(_)) => {
            Ending::CloseUnreadable(CLOSE_PROTOCOL, "Protocol error")
        }
        _ => Ending::Gone,
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str, drain: bool) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if socket.send(Message::Close(Some(frame))).await.is_err() || !drain {
        return;
    }
    // Wait briefly for the client's close frame so the close handshake completes cleanly.
    let _ = tokio::time::timeout(CLOSE_HANDSHAKE, async {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}
