//! When to try a failing remote domain (or a link to it) again: not before a wait that starts at
//! one second and doubles with every further failure, up to a cap; a success forgets it. Whole
//! seconds: a wait lasts at least its length.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use openpeer_protocol::uri::DomainName;

/// The failing domains of one kind of attempt; see the module documentation.
#[derive(Debug)]
pub struct Backoff {
    max: u64,
    /// Domain → (not tried again until after this second, the wait that led there).
    waiting: Mutex<HashMap<DomainName, (u64, u64)>>,
}

impl Backoff {
    /// Waits doubling from 1 s up to `max` seconds.
    pub fn new(max: u64) -> Backoff {
        Backoff {
            max: max.max(1),
            waiting: Mutex::new(HashMap::new()),
        }
    }

    fn waiting(&self) -> MutexGuard<'_, HashMap<DomainName, (u64, u64)>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `Err(until)` while `domain` must not be tried at `now`.
    pub fn check(&self, domain: &DomainName, now: u64) -> Result<(), u64> {
        match self.waiting().get(domain) {
            Some((until, _)) if now <= *until => Err(*until),
            _ => Ok(()),
        }
    }

    /// Records a failure at `now` (when the attempt gave up); the wait until the next try.
    pub fn failed(&self, domain: &DomainName, now: u64) -> u64 {
        let mut waiting = self.waiting();
        let wait = waiting
            .get(domain)
            .map_or(1, |(_, wait)| (wait * 2).min(self.max));
        waiting.insert(domain.clone(), (now + wait, wait));
        wait
    }

    /// Records a success: the next failure waits one second again.
    pub fn succeeded(&self, domain: &DomainName) {
        self.waiting().remove(domain);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_a_success_resets_them() {
        let beta = DomainName::parse("beta.test").unwrap();
        let backoff = Backoff::new(4);
        assert_eq!(backoff.check(&beta, 100), Ok(()));
        assert_eq!(backoff.failed(&beta, 100), 1);
        assert_eq!(backoff.check(&beta, 101), Err(101));
        assert_eq!(backoff.check(&beta, 102), Ok(()));
        assert_eq!(backoff.failed(&beta, 102), 2);
        assert_eq!(backoff.failed(&beta, 105), 4);
        assert_eq!(backoff.failed(&beta, 110), 4);
        assert_eq!(backoff.check(&beta, 114), Err(114));
        backoff.succeeded(&beta);
        assert_eq!(backoff.check(&beta, 111), Ok(()));
        assert_eq!(backoff.failed(&beta, 111), 1);
    }
}
