//! The finder's only per-call state (architecture §4): a short-lived routing entry per forwarded
//! `peer-location-find`, so the callees' notifies reach the requester, and the relay channels
//! mapped by `channel-map` (spec §7.5), whose frames are copied between two connections.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use openpeer_protocol::error::ResultCode;

use super::registry::ConnectionId;
use crate::error::Error;

/// One end of a relay channel: a connection and the channel number on it.
pub type ChannelEnd = (ConnectionId, u32);

#[derive(Debug)]
struct FindRoute {
    requester: ConnectionId,
    callees: Vec<ConnectionId>,
    expires: u64,
}

#[derive(Debug, Default)]
struct State {
    /// Forwarded finds by request `$id`.
    finds: HashMap<String, FindRoute>,
    /// Each mapped channel end → the other end.
    channels: HashMap<ChannelEnd, ChannelEnd>,
}

/// Routing entries of forwarded finds and relay channels.
#[derive(Debug, Default)]
pub struct Routes {
    state: Mutex<State>,
}

impl Routes {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere mid-update of plain data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Routes notifies for find `id` from `callees` to `requester` until `expires`; a live
    /// route with the same id is a conflict.
    pub fn add_find(
        &self,
        id: &str,
        requester: ConnectionId,
        callees: Vec<ConnectionId>,
        now: u64,
        expires: u64,
    ) -> Result<(), Error> {
        let mut state = self.lock();
        if state.finds.get(id).is_some_and(|r| r.expires > now) {
            return Err(Error::refused(
                ResultCode::Conflict,
                "a find with this $id is in progress",
            ));
        }
        let route = FindRoute {
            requester,
            callees,
            expires,
        };
        state.finds.insert(id.to_owned(), route);
        Ok(())
    }

    /// The requester a notify for find `id` from `callee` goes to, while the route lives.
    pub fn find_requester(&self, id: &str, callee: ConnectionId, now: u64) -> Option<ConnectionId> {
        let state = self.lock();
        let route = state.finds.get(id)?;
        (route.expires > now && route.callees.contains(&callee)).then_some(route.requester)
    }

    /// Joins two channel ends; refuses an end already in use, or a channel onto itself.
    pub fn map_channel(&self, a: ChannelEnd, b: ChannelEnd) -> Result<(), Error> {
        let mut state = self.lock();
        if a == b || state.channels.contains_key(&a) || state.channels.contains_key(&b) {
            return Err(Error::refused(
                ResultCode::Conflict,
                "relay channel already in use",
            ));
        }
        state.channels.insert(a, b);
        state.channels.insert(b, a);
        Ok(())
    }

    /// The other end of a mapped channel.
    pub fn channel_peer(&self, end: ChannelEnd) -> Option<ChannelEnd> {
        self.lock().channels.get(&end).copied()
    }

    /// Unmaps a channel, returning its other end.
    pub fn close_channel(&self, end: ChannelEnd) -> Option<ChannelEnd> {
        let mut state = self.lock();
        let other = state.channels.remove(&end)?;
        state.channels.remove(&other);
        Some(other)
    }

    /// Unmaps a closed connection's channels, returning their other ends so they can be told
    /// the channel closed. Its finds lapse by themselves within seconds (a notify for a gone
    /// requester finds no connection), so a disconnect costs nothing per live find.
    pub fn disconnect(&self, connection: ConnectionId) -> Vec<ChannelEnd> {
        let mut state = self.lock();
        let ends: Vec<ChannelEnd> = state
            .channels
            .keys()
            .filter(|(c, _)| *c == connection)
            .copied()
            .collect();
        ends.iter()
            .filter_map(|end| {
                let other = state.channels.remove(end)?;
                state.channels.remove(&other);
                Some(other)
            })
            .collect()
    }

    /// Drops find routes that lapsed before `now`.
    pub fn purge_expired(&self, now: u64) {
        self.lock().finds.retain(|_, r| r.expires > now);
    }

    /// Live find routes and mapped channel ends, for metrics and tests.
    pub fn counts(&self) -> (usize, usize) {
        let state = self.lock();
        (state.finds.len(), state.channels.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_routes_serve_only_their_callees_until_they_lapse() {
        let routes = Routes::default();
        routes.add_find("f1", 1, vec![2, 3], 100, 130).unwrap();
        assert!(routes.add_find("f1", 4, vec![2], 110, 140).is_err());
        assert_eq!(routes.find_requester("f1", 2, 120), Some(1));
        assert_eq!(routes.find_requester("f1", 4, 120), None);
        assert_eq!(routes.find_requester("f1", 3, 130), None);
        // A lapsed id can be used again.
        routes.add_find("f1", 4, vec![2], 130, 160).unwrap();
        assert_eq!(routes.find_requester("f1", 2, 131), Some(4));
        routes.purge_expired(160);
        assert_eq!(routes.counts(), (0, 0));
    }

    #[test]
    fn channels_join_two_ends_and_close_together() {
        let routes = Routes::default();
        routes.map_channel((1, 7), (2, 7)).unwrap();
        assert!(routes.map_channel((1, 7), (3, 7)).is_err());
        assert!(routes.map_channel((3, 7), (2, 7)).is_err());
        assert!(routes.map_channel((3, 5), (3, 5)).is_err());
        assert_eq!(routes.channel_peer((2, 7)), Some((1, 7)));
        routes.map_channel((1, 8), (3, 8)).unwrap();
        let mut closed = routes.disconnect(1);
        closed.sort_unstable();
        assert_eq!(closed, vec![(2, 7), (3, 8)]);
        assert_eq!(routes.counts(), (0, 0));
        routes.map_channel((4, 1), (5, 1)).unwrap();
        assert_eq!(routes.close_channel((5, 1)), Some((4, 1)));
        assert_eq!(routes.channel_peer((4, 1)), None);
    }
}
