//! The location registry: the live connections of this node with their outboxes, the locations
//! registered on them, plus a database row per location (contact, location id, node id, expiry)
//! so another node of the domain can route to it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use async_std::channel::Sender;
use openpeer_protocol::error::ResultCode;
use openpeer_protocol::json::Object;
use openpeer_protocol::signature::PublicKey;
use zeroize::Zeroizing;

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

/// Something the finder sends down a connection, in order with its answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outbound {
    /// One JSON document on channel 0.
    Text(String),
    /// A relay frame: 4-byte big-endian channel + payload.
    Frame(Vec<u8>),
}

/// The sending half of a connection's outbox.
pub type Outbox = Sender<Outbound>;

/// A live registration.
#[derive(Clone, Debug)]
pub struct Registration {
    /// The peer URI.
    pub contact: String,
    /// The location `$id`.
    pub location_id: String,
    /// The location `details`, echoed to finders of this peer.
    pub details: Object,
    /// The connection it arrived on.
    pub connection: ConnectionId,
    /// Unix time it lapses without a keep-alive.
    pub expires: u64,
    /// The peer file's key: it signs this peer's finds.
    pub key: PublicKey,
    /// Section B's `findSecret`, when the peer is findable.
    pub find_secret: Option<String>,
    /// The relay access token issued in `session-create`.
    pub relay_token: String,
    /// Its secret, which only this finder and the peer know.
    pub relay_secret: Zeroizing<String>,
}

/// One live connection.
#[derive(Debug)]
struct Link {
    outbox: Outbox,
    /// (contact, location id) of the registrations made on it.
    locations: Vec<(String, String)>,
    /// The second of the last find, and how many finds it has seen.
    finds: (u64, u32),
}

#[derive(Debug, Default)]
struct State {
    links: HashMap<ConnectionId, Link>,
    /// Registrations by contact: a contact has a handful of locations at most.
    contacts: HashMap<String, Vec<Registration>>,
    /// Relay access token → (contact, location id).
    relay_tokens: HashMap<String, (String, String)>,
}

impl State {
    /// Takes a registration out of every index.
    fn take(&mut self, contact: &str, location_id: &str) -> Option<Registration> {
        let list = self.contacts.get_mut(contact)?;
        let at = list.iter().position(|r| r.location_id == location_id)?;
        let gone = list.swap_remove(at);
        if list.is_empty() {
            self.contacts.remove(contact);
        }
        self.relay_tokens.remove(&gone.relay_token);
        if let Some(link) = self.links.get_mut(&gone.connection) {
            link.locations
                .retain(|(c, l)| !(c == contact && l == location_id));
        }
        Some(gone)
    }

    fn take_where(&mut self, keep: impl Fn(&Registration) -> bool) -> Vec<Registration> {
        let doomed: Vec<(String, String)> = self
            .contacts
            .values()
            .flatten()
            .filter(|r| !keep(r))
            .map(|r| (r.contact.clone(), r.location_id.clone()))
            .collect();
        doomed.iter().filter_map(|(c, l)| self.take(c, l)).collect()
    }

    /// Takes the registrations made on `connection`: those whose location id is in `only`, or
    /// all. Works from the connection's own list, so it costs the same however many peers the
    /// node holds.
    fn take_of(&mut self, connection: ConnectionId, only: Option<&[String]>) -> Vec<Registration> {
        let doomed: Vec<(String, String)> = self
            .links
            .get(&connection)
            .map(|l| l.locations.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, l)| only.is_none_or(|ids| ids.contains(l)))
            .collect();
        doomed.iter().filter_map(|(c, l)| self.take(c, l)).collect()
    }
}

/// The live connections and registrations of this node.
#[derive(Debug, Default)]
pub struct Registry {
    state: Mutex<State>,
    next_connection: AtomicU64,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere mid-update of plain data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a connection whose messages go to `outbox`.
    pub fn connect(&self, outbox: Outbox) -> ConnectionId {
        let id = self.next_connection.fetch_add(1, Ordering::Relaxed);
        let link = Link {
            outbox,
            locations: Vec::new(),
            finds: (0, 0),
        };
        self.lock().links.insert(id, link);
        id
    }

    /// Forgets a closed connection, returning the registrations it held.
    pub fn disconnect(&self, connection: ConnectionId) -> Vec<Registration> {
        let mut state = self.lock();
        let gone = state.take_of(connection, None);
        state.links.remove(&connection);
        gone
    }

    /// Queues a message for another connection without waiting: false when that connection
    /// is gone or its outbox is full, so one slow peer cannot stall the connection relaying to it.
    pub fn deliver(&self, connection: ConnectionId, message: Outbound) -> bool {
        self.lock()
            .links
            .get(&connection)
            .is_some_and(|l| l.outbox.try_send(message).is_ok())
    }

    /// Registers a location, replacing one with the same contact and id; refuses a contact with
    /// `max_per_contact` live locations already, or a connection that is gone.
    pub fn register(
        &self,
        registration: Registration,
        max_per_contact: usize,
    ) -> Result<(), Error> {
        let mut state = self.lock();
        if !state.links.contains_key(&registration.connection) {
            return Err(Error::refused(ResultCode::Gone, "connection closed"));
        }
        state.take(&registration.contact, &registration.location_id);
        let live = state
            .contacts
            .get(&registration.contact)
            .map_or(0, Vec::len);
        if live >= max_per_contact {
            return Err(Error::refused(
                ResultCode::Conflict,
                "too many sessions for this contact",
            ));
        }
        let key = (
            registration.contact.clone(),
            registration.location_id.clone(),
        );
        state
            .relay_tokens
            .insert(registration.relay_token.clone(), key.clone());
        if let Some(link) = state.links.get_mut(&registration.connection) {
            link.locations.push(key);
        }
        state
            .contacts
            .entry(registration.contact.clone())
            .or_default()
            .push(registration);
        Ok(())
    }

    /// Extends every registration of `connection` to `expires`; `None` when it has none.
    pub fn keep_alive(&self, connection: ConnectionId, expires: u64) -> Option<Vec<Registration>> {
        let mut state = self.lock();
        let locations = state.links.get(&connection)?.locations.clone();
        let mut kept = Vec::with_capacity(locations.len());
        for (contact, location_id) in &locations {
            let found = state
                .contacts
                .get_mut(contact)
                .and_then(|list| list.iter_mut().find(|r| &r.location_id == location_id));
            if let Some(r) = found {
                r.expires = expires;
                kept.push(r.clone());
            }
        }
        (!kept.is_empty()).then_some(kept)
    }

    /// Removes registrations of `connection`: those whose location id is in `only`, or all.
    pub fn remove(&self, connection: ConnectionId, only: Option<&[String]>) -> Vec<Registration> {
        let mut state = self.lock();
        state.take_of(connection, only)
    }

    /// Removes registrations of the peers registered on `connection`, on whichever connection
    /// of this node they are: those whose location id is in `ids`, or all when it is empty.
    pub fn remove_of_peers_on(
        &self,
        connection: ConnectionId,
        ids: &[String],
    ) -> Vec<Registration> {
        let mut state = self.lock();
        let Some(link) = state.links.get(&connection) else {
            return Vec::new();
        };
        let peers: Vec<String> = link.locations.iter().map(|(c, _)| c.clone()).collect();
        let doomed: Vec<(String, String)> = peers
            .iter()
            .filter_map(|c| state.contacts.get(c))
            .flatten()
            .filter(|r| ids.is_empty() || ids.contains(&r.location_id))
            .map(|r| (r.contact.clone(), r.location_id.clone()))
            .collect();
        doomed
            .iter()
            .filter_map(|(c, l)| state.take(c, l))
            .collect()
    }

    /// Removes and returns every registration that lapsed before `now`.
    pub fn purge_expired(&self, now: u64) -> Vec<Registration> {
        self.lock().take_where(|r| r.expires > now)
    }

    /// Open connections of this node.
    pub fn connections(&self) -> usize {
        self.lock().links.len()
    }

    /// Live registrations of this node.
    pub fn len(&self) -> usize {
        self.lock().contacts.values().map(Vec::len).sum()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.lock().contacts.is_empty()
    }

    /// The live registrations of `contact`.
    pub fn locations_of(&self, contact: &str) -> Vec<Registration> {
        self.lock()
            .contacts
            .get(contact)
            .cloned()
            .unwrap_or_default()
    }

    /// The registration of `contact` made on `connection`: who is asking, when a peer finds.
    pub fn registered_on(&self, connection: ConnectionId, contact: &str) -> Option<Registration> {
        self.lock()
            .contacts
            .get(contact)?
            .iter()
            .find(|r| r.connection == connection)
            .cloned()
    }

    /// The registration that was issued relay access token `token`.
    pub fn relay_of(&self, token: &str) -> Option<Registration> {
        let state = self.lock();
        let (contact, location) = state.relay_tokens.get(token)?;
        state
            .contacts
            .get(contact)?
            .iter()
            .find(|r| &r.location_id == location)
            .cloned()
    }

    /// Counts a find on `connection` at second `now`; false once it made `max_per_second`
    /// finds in that second.
    pub fn allow_find(&self, connection: ConnectionId, now: u64, max_per_second: u32) -> bool {
        let mut state = self.lock();
        let Some(link) = state.links.get_mut(&connection) else {
            return false;
        };
        if link.finds.0 != now {
            link.finds = (now, 0);
        }
        link.finds.1 += 1;
        link.finds.1 <= max_per_second
    }
}

#[cfg(test)]
mod tests {
    use openpeer_protocol::signature::{SignatureSuite, SigningKey};
    use rand_core::OsRng;

    use super::*;

    fn registration(
        contact: &str,
        location: &str,
        connection: ConnectionId,
        key: &PublicKey,
    ) -> Registration {
        Registration {
            contact: contact.into(),
            location_id: location.into(),
            details: Object::new(),
            connection,
            expires: 100,
            key: key.clone(),
            find_secret: None,
            relay_token: format!("{contact}-{location}"),
            relay_secret: Zeroizing::new("secret".into()),
        }
    }

    #[test]
    fn registers_limits_keeps_alive_and_removes() {
        let key = SigningKey::generate(SignatureSuite::Ed25519, &mut OsRng)
            .unwrap()
            .public_key()
            .clone();
        let registry = Registry::default();
        let (outbox, _inbox) = async_std::channel::bounded(1);
        let [c1, c2, c3] = [(); 3].map(|()| registry.connect(outbox.clone()));
        registry
            .register(registration("a", "l1", c1, &key), 2)
            .unwrap();
        registry
            .register(registration("a", "l2", c2, &key), 2)
            .unwrap();
        assert!(
            registry
                .register(registration("a", "l3", c3, &key), 2)
                .is_err()
        );
        // The same location again replaces, it does not count twice.
        registry
            .register(registration("a", "l1", c3, &key), 2)
            .unwrap();
        assert_eq!(registry.len(), 2);
        assert!(registry.keep_alive(c1, 500).is_none());
        assert_eq!(registry.keep_alive(c3, 500).unwrap()[0].expires, 500);
        assert_eq!(registry.relay_of("a-l1").unwrap().connection, c3);
        assert!(registry.registered_on(c3, "a").is_some());
        assert!(registry.registered_on(c1, "a").is_none());
        assert_eq!(registry.purge_expired(200).len(), 1);
        assert!(registry.relay_of("a-l2").is_none());
        assert_eq!(registry.locations_of("a").len(), 1);
        assert_eq!(registry.remove(c3, Some(&["other".into()])).len(), 0);
        assert_eq!(registry.remove(c3, None).len(), 1);
        assert!(registry.is_empty());
        // A peer's empty list removes its locations on every connection, not other peers'.
        registry
            .register(registration("a", "l1", c1, &key), 3)
            .unwrap();
        registry
            .register(registration("a", "l2", c2, &key), 3)
            .unwrap();
        registry
            .register(registration("z", "l1", c2, &key), 3)
            .unwrap();
        assert_eq!(registry.remove_of_peers_on(c3, &[]).len(), 0);
        assert_eq!(registry.remove_of_peers_on(c1, &["l9".into()]).len(), 0);
        assert_eq!(registry.remove_of_peers_on(c1, &[]).len(), 2);
        assert_eq!(registry.len(), 1);
        assert_eq!(registry.remove(c2, None).len(), 1);
        // A closed connection cannot register.
        registry
            .register(registration("b", "l1", c2, &key), 2)
            .unwrap();
        assert_eq!(registry.disconnect(c2).len(), 1);
        assert!(
            registry
                .register(registration("b", "l1", c2, &key), 2)
                .is_err()
        );
        assert!(!registry.deliver(c2, Outbound::Text("gone".into())));
    }

    #[test]
    fn finds_are_counted_per_second() {
        let registry = Registry::default();
        let (outbox, _inbox) = async_std::channel::bounded(1);
        let c = registry.connect(outbox);
        assert!(registry.allow_find(c, 10, 2));
        assert!(registry.allow_find(c, 10, 2));
        assert!(!registry.allow_find(c, 10, 2));
        assert!(registry.allow_find(c, 11, 2));
        assert!(!registry.allow_find(99, 11, 2));
    }
}
