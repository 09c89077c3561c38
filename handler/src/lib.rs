//! The chat backend of chatctl: answers the API Gateway WebSocket integrations over HTTP
//! (docs/integration-contract.md) and implements the chat protocol (one-to-one messages, `who`).
//!
//! [`Deps`] is built once at start; [`handle`] answers one request without any HTTP (what the
//! tests call); [`router`] and [`serve`] put it behind HTTP, under `lambda_http` on Lambda or a
//! plain server (`bootstrap --listen`, `chatctl dev`). [`auth`] is the `$connect` authorizer
//! that verifies ID tokens, run by the same binary as a second Lambda function.

pub mod auth;
pub mod aws;
pub mod deps;
pub mod dynamo;
pub mod handle;
pub mod http;
pub mod notifier;
pub mod protocol;
pub mod registry;

pub use aws::https_client;
pub use deps::{Deps, ENV_CALLBACK_URL, ENV_SECRET, ENV_TABLE};
pub use dynamo::{DynamoRegistry, schema};
pub use handle::{NOT_JOINED_MESSAGE, Reply, Request, Route, handle};
pub use http::{router, serve};
pub use notifier::{CallbackUrl, ConnectionsApi, Notifier, NotifyError};
pub use protocol::{ErrorCode, Frame};
pub use registry::{MemoryRegistry, Registry};
