//! The connection registry: which WebSocket connection belongs to which user name.

use std::collections::{BTreeMap, HashMap};
use std::sync::{PoisonError, RwLock};

use async_trait::async_trait;
use time::OffsetDateTime;

/// Where connections are registered. One implementation keeps them in memory (`chatctl dev`,
/// a single self-hosted server); the other in DynamoDB (Lambda, where instances share nothing).
#[async_trait]
pub trait Registry: Send + Sync {
    /// Registers `connection_id` under `name`, replacing any earlier registration of that id.
    async fn put(&self, connection_id: &str, name: &str) -> anyhow::Result<()>;
    /// Forgets `connection_id`; returns the name it was registered under, if any.
    async fn remove(&self, connection_id: &str) -> anyhow::Result<Option<String>>;
    /// The name `connection_id` joined with, if it is registered.
    async fn name_of(&self, connection_id: &str) -> anyhow::Result<Option<String>>;
    /// Every connection registered under `name` (one per browser tab, for instance).
    async fn connections_of(&self, name: &str) -> anyhow::Result<Vec<String>>;
    /// Every registered name, sorted and distinct.
    async fn names(&self) -> anyhow::Result<Vec<String>>;
}

#[derive(Debug)]
struct Entry {
    name: String,
    connected_at: OffsetDateTime,
}

#[derive(Debug, Default)]
struct Tables {
    by_id: HashMap<String, Entry>,
    /// name → its connection ids. A BTreeMap so `names()` is already sorted; an entry is
    /// dropped with its last connection, so every key here is online.
    by_name: BTreeMap<String, Vec<String>>,
}

impl Tables {
    fn unlink(&mut self, connection_id: &str, name: &str) {
        if let Some(ids) = self.by_name.get_mut(name) {
            ids.retain(|id| id != connection_id);
            if ids.is_empty() {
                self.by_name.remove(name);
            }
        }
    }
}

/// An in-process registry. Lookups are O(log n) and the lock is never held across an await.
#[derive(Debug, Default)]
pub struct MemoryRegistry {
    tables: RwLock<Tables>,
}

impl MemoryRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of registered connections.
    pub fn len(&self) -> usize {
        self.read().by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When `connection_id` joined, if it is registered.
    pub fn connected_at(&self, connection_id: &str) -> Option<OffsetDateTime> {
        self.read()
            .by_id
            .get(connection_id)
            .map(|entry| entry.connected_at)
    }

    // A panic while holding the lock cannot leave the maps half-updated in a way that matters
    // more than losing the whole registry would, so a poisoned lock is simply used as is.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Tables> {
        self.tables.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Tables> {
        self.tables.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Registry for MemoryRegistry {
    async fn put(&self, connection_id: &str, name: &str) -> anyhow::Result<()> {
        let mut tables = self.write();
        let entry = Entry {
            name: name.to_owned(),
            connected_at: OffsetDateTime::now_utc(),
        };
        if let Some(old) = tables.by_id.insert(connection_id.to_owned(), entry) {
            tables.unlink(connection_id, &old.name);
        }
        tables
            .by_name
            .entry(name.to_owned())
            .or_default()
            .push(connection_id.to_owned());
        Ok(())
    }

    async fn remove(&self, connection_id: &str) -> anyhow::Result<Option<String>> {
        let mut tables = self.write();
        let Some(old) = tables.by_id.remove(connection_id) else {
            return Ok(None);
        };
        tables.unlink(connection_id, &old.name);
        Ok(Some(old.name))
    }

    async fn name_of(&self, connection_id: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .read()
            .by_id
            .get(connection_id)
            .map(|entry| entry.name.clone()))
    }

    async fn connections_of(&self, name: &str) -> anyhow::Result<Vec<String>> {
        Ok(self.read().by_name.get(name).cloned().unwrap_or_default())
    }

    async fn names(&self) -> anyhow::Result<Vec<String>> {
        Ok(self.read().by_name.keys().cloned().collect())
    }
}
