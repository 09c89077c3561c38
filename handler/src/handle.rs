//! The chat backend's logic, one call per gateway integration request, free of any HTTP.

use std::fmt;
use std::time::Duration;

use axum::body::Bytes;
use futures_util::future::join_all;
use tracing::{Instrument as _, debug, error, info, info_span, warn};

use crate::deps::Deps;
use crate::notifier::NotifyError;
use crate::protocol::{
    ErrorCode, Frame, MAX_NAME_CHARS, is_valid_name, new_message_id, now_rfc3339,
    parse_send_message, reject_unrouted,
};

/// The backend paths the gateway integrations call (docs/integration-contract.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Connect,
    Disconnect,
    SendMessage,
    Who,
    Default,
}

impl Route {
    pub const ALL: [Route; 5] = [
        Route::Connect,
        Route::Disconnect,
        Route::SendMessage,
        Route::Who,
        Route::Default,
    ];

    /// The backend path of this route.
    pub fn path(self) -> &'static str {
        match self {
            Self::Connect => "/connect",
            Self::Disconnect => "/disconnect",
            Self::SendMessage => "/sendmessage",
            Self::Who => "/who",
            Self::Default => "/default",
        }
    }

    /// The route of a request path, by its last segment: a self-hosted backend behind a path
    /// prefix (`backend.url = "https://example.com/chat"`) needs no rewriting proxy.
    pub fn from_path(path: &str) -> Option<Self> {
        let segment = path.rsplit('/').next()?;
        Self::ALL
            .into_iter()
            .find(|route| route.path().strip_prefix('/') == Some(segment))
    }
}

/// One integration request, as the gateway sends it (headers of the contract, and the body).
#[derive(Clone, Default)]
pub struct Request {
    /// `x-chat-secret`.
    pub secret: Option<Vec<u8>>,
    /// `x-connection-id`.
    pub connection_id: Option<String>,
    /// `x-chat-name` (`$connect` only).
    pub name: Option<String>,
    /// `x-request-id`, for log correlation.
    pub request_id: Option<String>,
    /// The client's frame, unchanged.
    pub body: Bytes,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("connection_id", &self.connection_id)
            .field("name", &self.name)
            .field("request_id", &self.request_id)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The backend's answer; `status()` and `body()` give its HTTP form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// 200: the frame the gateway sends back to the sender.
    Frame(Frame),
    /// 204: `$connect` accepted or `$disconnect` handled.
    NoContent,
    /// 400: a `$connect` to refuse (or a request the gateway mapped wrongly).
    Refused(Frame),
    /// 403: missing or wrong `x-chat-secret`.
    Forbidden,
    /// 500: the backend failed; the gateway answers the sender with its own error frame.
    Internal,
}

impl Reply {
    pub fn status(&self) -> u16 {
        match self {
            Self::Frame(_) => 200,
            Self::NoContent => 204,
            Self::Refused(_) => 400,
            Self::Forbidden => 403,
            Self::Internal => 500,
        }
    }

    /// The JSON body, if the reply has one.
    pub fn body(&self) -> Option<Vec<u8>> {
        match self {
            Self::Frame(frame) | Self::Refused(frame) => Some(frame.to_bytes()),
            Self::NoContent => None,
            Self::Forbidden => Some(br#"{"message":"Forbidden"}"#.to_vec()),
            Self::Internal => Some(br#"{"message":"Internal server error"}"#.to_vec()),
        }
    }

    fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Frame(Frame::error(code, message))
    }
}

/// The answer to a connection that sends messages without having joined.
pub const NOT_JOINED_MESSAGE: &str = "this connection has not joined; reconnect with ?name=…";

/// How long an unjoined connection stays open after its error reply. The reply travels back
/// through the gateway only after this request returns, so closing the connection at once
/// would drop it.
const NOT_JOINED_CLOSE_DELAY: Duration = Duration::from_millis(250);

/// Answers one integration request.
pub async fn handle(deps: &Deps, route: Route, request: Request) -> Reply {
    // The secret is checked before anything else, so an outsider learns nothing, not even
    // whether a connection id or a route exists.
    if !deps.secret.matches(request.secret.as_deref()) {
        warn!(
            route = route.path(),
            "refused a request without the right x-chat-secret"
        );
        return Reply::Forbidden;
    }
    let Some(connection_id) = request.connection_id.as_deref().filter(|id| !id.is_empty()) else {
        warn!(route = route.path(), "request without x-connection-id");
        return Reply::Refused(Frame::error(
            ErrorCode::BadRequest,
            "the x-connection-id header is missing",
        ));
    };
    let span = info_span!(
        "chat",
        route = route.path(),
        connection_id,
        request_id = request.request_id.as_deref().unwrap_or("-"),
    );
    let outcome = dispatch(deps, route, connection_id, &request)
        .instrument(span.clone())
        .await;
    let _entered = span.enter();
    outcome.unwrap_or_else(|err| {
        error!("request failed: {err:#}");
        Reply::Internal
    })
}

async fn dispatch(
    deps: &Deps,
    route: Route,
    connection_id: &str,
    request: &Request,
) -> anyhow::Result<Reply> {
    match route {
        Route::Connect => connect(deps, connection_id, request.name.as_deref()).await,
        Route::Disconnect => {
            let name = deps.registry.remove(connection_id).await?;
            info!(name = name.as_deref().unwrap_or("-"), "disconnected");
            Ok(Reply::NoContent)
        }
        Route::SendMessage | Route::Who | Route::Default => {
            let Some(sender) = deps.registry.name_of(connection_id).await? else {
                return Ok(not_joined(deps, connection_id));
            };
            match route {
                Route::SendMessage => send_message(deps, &sender, &request.body).await,
                Route::Who => Ok(Reply::Frame(Frame::Who {
                    users: deps.registry.names().await?,
                })),
                _ => Ok(Reply::Frame(reject_unrouted(&request.body).into_frame())),
            }
        }
    }
}

async fn connect(deps: &Deps, connection_id: &str, name: Option<&str>) -> anyhow::Result<Reply> {
    let name = name.unwrap_or_default();
    if name.is_empty() {
        return Ok(Reply::Refused(Frame::error(
            ErrorCode::BadRequest,
            "a name is required: connect with ?name=<1-32 of A-Z a-z 0-9 _ ->",
        )));
    }
    if !is_valid_name(name) {
        return Ok(Reply::Refused(Frame::error(
            ErrorCode::BadRequest,
            format!("invalid name: use 1-{MAX_NAME_CHARS} characters from A-Z a-z 0-9 _ -"),
        )));
    }
    deps.registry.put(connection_id, name).await?;
    info!(name, "connected");
    Ok(Reply::NoContent)
}

fn not_joined(deps: &Deps, connection_id: &str) -> Reply {
    warn!("message from a connection that has not joined; closing it");
    let notifier = deps.notifier.clone();
    let connection_id = connection_id.to_owned();
    // Best effort by design: on Lambda the task may only run when the instance is next
    // thawed, by which time the gateway may have closed the connection itself.
    tokio::spawn(
        async move {
            tokio::time::sleep(NOT_JOINED_CLOSE_DELAY).await;
            match notifier.delete(&connection_id).await {
                Ok(()) | Err(NotifyError::Gone) => debug!("closed the unjoined connection"),
                Err(err) => warn!("could not close the unjoined connection: {err}"),
            }
        }
        .in_current_span(),
    );
    Reply::error(ErrorCode::BadRequest, NOT_JOINED_MESSAGE)
}

fn peer_offline(to: &str) -> Reply {
    Reply::error(ErrorCode::PeerOffline, format!("{to} is not online"))
}

async fn send_message(deps: &Deps, from: &str, body: &[u8]) -> anyhow::Result<Reply> {
    let message = match parse_send_message(body) {
        Ok(message) => message,
        Err(rejection) => return Ok(Reply::Frame(rejection.into_frame())),
    };
    let recipients = deps.registry.connections_of(&message.to).await?;
    if recipients.is_empty() {
        return Ok(peer_offline(&message.to));
    }
    let id = new_message_id();
    let frame = Frame::Message {
        id: id.clone(),
        from: from.to_owned(),
        text: message.text,
        at: now_rfc3339(),
    }
    .to_bytes();

    let outcomes = join_all(
        recipients
            .iter()
            .map(|recipient| deps.notifier.post(recipient, &frame)),
    )
    .await;
    let mut delivered = 0_usize;
    let mut failed = 0_usize;
    let mut gone = Vec::new();
    for (recipient, outcome) in recipients.iter().zip(outcomes) {
        match outcome {
            Ok(()) => delivered += 1,
            Err(NotifyError::Gone) => gone.push(recipient.as_str()),
            Err(NotifyError::Other(err)) => {
                failed += 1;
                warn!(recipient = recipient.as_str(), "delivery failed: {err}");
            }
        }
    }
    // A 410 means the connection closed without a $disconnect (which is best effort).
    let removals = join_all(gone.iter().map(|stale| deps.registry.remove(stale))).await;
    for (stale, removal) in gone.iter().zip(removals) {
        match removal {
            Ok(_) => info!(stale, "removed a stale connection"),
            Err(err) => warn!(stale, "could not remove a stale connection: {err:#}"),
        }
    }

    if delivered > 0 {
        debug!(delivered, to = message.to.as_str(), "message delivered");
        Ok(Reply::Frame(Frame::Sent { id, to: message.to }))
    } else if failed == 0 {
        Ok(peer_offline(&message.to))
    } else {
        anyhow::bail!("no connection of the addressee could be reached ({failed} failed)")
    }
}
