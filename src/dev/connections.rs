//! The table of open WebSocket connections, shared by the gateway (which adds and removes them)
//! and the @connections management API (which posts to, inspects and closes them).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use axum::extract::ws::Message;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use time::OffsetDateTime;
use tokio::sync::{Notify, mpsc, watch};

/// Frames waiting to be written to one connection. A client that stops reading fills this
/// queue, and further @connections posts get 429, as API Gateway answers
/// `LimitExceededException` when a client's buffer is full.
pub const OUTBOUND_QUEUE: usize = 256;

/// A new id shaped like API Gateway's connection and request ids: 11 random bytes in base64,
/// e.g. `L0SM9cOFvHcCIhw=`. The URL-safe alphabet keeps ids free of `/` and `+`, which would
/// otherwise need escaping in `@connections/{id}` paths; the `=` still does, as on AWS.
pub fn new_id() -> String {
    let bytes: [u8; 11] = rand::random();
    URL_SAFE.encode(bytes)
}

/// One open connection as the management API sees it.
#[derive(Debug)]
pub struct Connection {
    pub id: String,
    pub connected_at: OffsetDateTime,
    pub source_ip: String,
    pub user_agent: String,
    /// What the `$connect` authorizer allowed this connection with: `context.authorizer.*`
    /// for the integrations of all its routes.
    pub authorizer: Option<super::authorizer::AuthorizerContext>,
    last_active: Mutex<OffsetDateTime>,
    outbound: mpsc::Sender<Message>,
    close: Notify,
}

impl Connection {
    pub fn new(
        id: String,
        connected_at: OffsetDateTime,
        source_ip: String,
        user_agent: String,
        authorizer: Option<super::authorizer::AuthorizerContext>,
    ) -> (Arc<Self>, mpsc::Receiver<Message>) {
        let (outbound, receiver) = mpsc::channel(OUTBOUND_QUEUE);
        let connection = Arc::new(Self {
            id,
            connected_at,
            source_ip,
            user_agent,
            authorizer,
            last_active: Mutex::new(connected_at),
            outbound,
            close: Notify::new(),
        });
        (connection, receiver)
    }

    pub fn last_active(&self) -> OffsetDateTime {
        *self
            .last_active
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub fn touch(&self) {
        *self
            .last_active
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = OffsetDateTime::now_utc();
    }

    /// Queues a frame without waiting; fails when the queue is full or the connection is gone.
    pub fn try_send(&self, message: Message) -> Result<(), mpsc::error::TrySendError<Message>> {
        self.outbound.try_send(message)
    }

    /// Queues a frame, waiting for room; `false` when the connection is gone.
    pub async fn send(&self, message: Message) -> bool {
        self.outbound.send(message).await.is_ok()
    }

    /// Asks the connection's task to close it (DeleteConnection).
    pub fn request_close(&self) {
        // notify_one stores a permit when the task is busy writing, so the request is never lost.
        self.close.notify_one();
    }

    pub async fn close_requested(&self) {
        self.close.notified().await;
    }
}

/// Open connections by id.
#[derive(Debug, Default)]
pub struct Connections {
    by_id: RwLock<HashMap<String, Arc<Connection>>>,
}

impl Connections {
    pub fn insert(&self, connection: Arc<Connection>) {
        self.write().insert(connection.id.clone(), connection);
    }

    pub fn remove(&self, id: &str) -> Option<Arc<Connection>> {
        self.write().remove(id)
    }

    pub fn get(&self, id: &str) -> Option<Arc<Connection>> {
        self.read().get(id).cloned()
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    // The lock is held for a map operation only; a poisoned lock (a panic elsewhere while
    // holding it) leaves the map consistent enough to keep serving.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Connection>>> {
        self.by_id.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<Connection>>> {
        self.by_id.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Counts the gateway's background work (connection tasks, `$disconnect` calls) so that
/// shutdown can wait for it before stopping the backend those tasks still call.
#[derive(Debug, Clone)]
pub struct Tasks {
    count: Arc<watch::Sender<usize>>,
}

impl Default for Tasks {
    fn default() -> Self {
        Self {
            count: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl Tasks {
    /// Marks one task as running until the returned guard is dropped.
    pub fn start(&self) -> TaskGuard {
        self.count.send_modify(|count| *count += 1);
        TaskGuard {
            count: Arc::clone(&self.count),
        }
    }

    pub async fn idle(&self) {
        let mut receiver = self.count.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = receiver.wait_for(|count| *count == 0).await;
    }
}

#[derive(Debug)]
pub struct TaskGuard {
    count: Arc<watch::Sender<usize>>,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.count
            .send_modify(|count| *count = count.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_api_gateway_ids() {
        let id = new_id();
        assert_eq!(id.len(), 16, "{id}");
        assert!(id.ends_with('='), "{id}");
        assert!(
            id[..15]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{id}"
        );
        assert_ne!(new_id(), new_id());
    }

    #[tokio::test]
    async fn tasks_report_idle_when_every_guard_is_dropped() {
        let tasks = Tasks::default();
        let first = tasks.start();
        let second = tasks.start();
        drop(first);
        let waiter = tokio::spawn({
            let tasks = tasks.clone();
            async move { tasks.idle().await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        drop(second);
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
