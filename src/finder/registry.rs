//! The location registry: live registrations in memory, each tied to its connection, plus a
//! database row per location (contact, location id, node id, expiry) so another node of the
//! domain can route to it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use openpeer_protocol::error::ResultCode;

use crate::error::Error;
use crate::store::StoreError;

/// A location as stored for the other nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocationRow {
    /// The peer URI.
    pub contact: String,
    /// The location `$id`.
    pub location_id: String,
    /// The node holding the connection.
    pub node_id: String,
    /// Unix time the registration lapses without a keep-alive.
    pub expires: u64,
}

/// Storage of the location registry.
#[async_trait::async_trait]
pub trait LocationRepo: Send + Sync {
    /// Records or refreshes a location.
    async fn upsert_location(&self, row: &LocationRow) -> Result<(), StoreError>;
    /// Forgets a location.
    async fn delete_location(&self, contact: &str, location_id: &str) -> Result<(), StoreError>;
    /// Forgets every location of a node (at its start: its connections did not survive).
    async fn delete_node_locations(&self, node_id: &str) -> Result<u64, StoreError>;
}

/// Identifies one finder connection.
pub type ConnectionId = u64;

/// A live registration.
#[derive(Clone, Debug)]
pub struct Registration {
    /// The peer URI.
    pub contact: String,
    /// The location `$id`.
    pub location_id: String,
    /// The connection it arrived on.
    pub connection: ConnectionId,
    /// Unix time it lapses without a keep-alive.
    pub expires: u64,
    /// Section B's `findSecret`, when the peer is findable.
    pub find_secret: Option<String>,
}

/// The live registrations of this node.
#[derive(Debug, Default)]
pub struct Registry {
    registrations: Mutex<HashMap<ConnectionId, Vec<Registration>>>,
    next_connection: AtomicU64,
}

impl Registry {
    /// A new connection id.
    pub fn connect(&self) -> ConnectionId {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConnectionId, Vec<Registration>>> {
        // A poisoned lock only means a panic elsewhere mid-update of plain data.
        self.registrations.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a location, replacing one with the same contact and id; refuses a contact with
    /// `max_per_contact` live locations already.
    pub fn register(
        &self,
        registration: Registration,
        max_per_contact: usize,
    ) -> Result<(), Error> {
        let mut all = self.lock();
        let same = |r: &Registration| {
            r.contact == registration.contact && r.location_id == registration.location_id
        };
        for list in all.values_mut() {
            list.retain(|r| !same(r));
        }
        let live = all
            .values()
            .flatten()
            .filter(|r| r.contact == registration.contact)
            .count();
        if live >= max_per_contact {
            return Err(Error::refused(
                ResultCode::Conflict,
                "too many sessions for this contact",
            ));
        }
        all.entry(registration.connection)
            .or_default()
            .push(registration);
        Ok(())
    }

    /// Extends every registration of `connection` to `expires`; `None` when it has none.
    pub fn keep_alive(&self, connection: ConnectionId, expires: u64) -> Option<Vec<Registration>> {
        let mut all = self.lock();
        let list = all.get_mut(&connection).filter(|l| !l.is_empty())?;
        for r in list.iter_mut() {
            r.expires = expires;
        }
        Some(list.clone())
    }

    /// Removes registrations of `connection`: those whose location id is in `only`, or all.
    pub fn remove(&self, connection: ConnectionId, only: Option<&[String]>) -> Vec<Registration> {
        let mut all = self.lock();
        let Some(list) = all.get_mut(&connection) else {
            return Vec::new();
        };
        let (removed, kept): (Vec<_>, Vec<_>) = list
            .drain(..)
            .partition(|r| only.is_none_or(|ids| ids.contains(&r.location_id)));
        *list = kept;
        if list.is_empty() {
            all.remove(&connection);
        }
        removed
    }

    /// Removes and returns every registration that lapsed before `now`.
    pub fn purge_expired(&self, now: u64) -> Vec<Registration> {
        let mut all = self.lock();
        let mut expired = Vec::new();
        for list in all.values_mut() {
            let (gone, kept): (Vec<_>, Vec<_>) = list.drain(..).partition(|r| r.expires <= now);
            expired.extend(gone);
            *list = kept;
        }
        all.retain(|_, l| !l.is_empty());
        expired
    }

    /// Live registrations of this node.
    pub fn len(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The live registrations of `contact`.
    pub fn locations_of(&self, contact: &str) -> Vec<Registration> {
        self.lock()
            .values()
            .flatten()
            .filter(|r| r.contact == contact)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(contact: &str, location: &str, connection: ConnectionId) -> Registration {
        Registration {
            contact: contact.into(),
            location_id: location.into(),
            connection,
            expires: 100,
            find_secret: None,
        }
    }

    #[test]
    fn registers_limits_keeps_alive_and_removes() {
        let registry = Registry::default();
        registry.register(registration("a", "l1", 1), 2).unwrap();
        registry.register(registration("a", "l2", 2), 2).unwrap();
        assert!(registry.register(registration("a", "l3", 3), 2).is_err());
        // The same location again replaces, it does not count twice.
        registry.register(registration("a", "l1", 3), 2).unwrap();
        assert_eq!(registry.len(), 2);
        assert!(registry.keep_alive(1, 500).is_none());
        assert_eq!(registry.keep_alive(3, 500).unwrap()[0].expires, 500);
        assert_eq!(registry.purge_expired(200).len(), 1);
        assert_eq!(registry.locations_of("a").len(), 1);
        assert_eq!(registry.remove(3, Some(&["other".into()])).len(), 0);
        assert_eq!(registry.remove(3, None).len(), 1);
        assert!(registry.is_empty());
    }
}
