//! Change hints: "the feed of user U reached position `seq`", fanned out to the `GET /events`
//! streams of that user.
//!
//! Hints carry no data and may be lost, duplicated or coalesced: a client that gets one runs a
//! delta sync (`GET /sync`) from its own cursor. So the bus is best effort: a slow stream that
//! falls behind gets one hint with the newest known position instead of every missed one.
//!
//! [`HintBus::publish`] is the one way in. The handlers call it after each committed change,
//! once per user it concerns: the writer of an own vault; for a share (its objects, access
//! list, grants, rotation, recipients' states, deletion) every user of the share's audience
//! before and after the change (so removed recipients learn it too), and the members a group
//! roster change adds or removes when the group is a share recipient. Changes that take no new
//! feed position (access lists, grants, states) are announced with the newest position known
//! here; clients sync from their own cursor on any hint, so the position is informative only.
//!
//! Backends: with SQLite the handlers are the only source, each user gets one hint per change.
//! With PostgreSQL the store also queues a `NOTIFY` for the same users in the writing
//! transaction, and `run` relays every notification (from any instance) to this bus, so on the
//! instance that made a change its users get it twice: harmless, since hints may be duplicated
//! (and a user's hints cannot be deduplicated by position: a change without a new position
//! reuses the latest one). The local publish keeps hints flowing while the `LISTEN` connection
//! is down.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use tokio::sync::{broadcast, watch};
use uuid::Uuid;

/// How many hints the bus buffers for the slowest subscriber before it lags.
pub const HINT_CAPACITY: usize = 1024;

/// One hint: the feed of `user_id` changed at position `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    pub user_id: Uuid,
    pub seq: i64,
}

/// The process-wide hint bus. Cheap to clone (a handle).
#[derive(Clone)]
pub struct HintBus {
    inner: Arc<Inner>,
}

struct Inner {
    tx: broadcast::Sender<Hint>,
    /// The highest position published so far (feed positions are global across users).
    latest: AtomicI64,
    /// Set once when the server shuts down, so that open streams end.
    closed: watch::Sender<bool>,
}

impl std::fmt::Debug for HintBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HintBus")
            .field("latest", &self.latest())
            .field("subscribers", &self.inner.tx.receiver_count())
            .finish()
    }
}

impl Default for HintBus {
    fn default() -> Self {
        Self::new(HINT_CAPACITY)
    }
}

impl HintBus {
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        let (closed, _) = watch::channel(false);
        HintBus {
            inner: Arc::new(Inner {
                tx,
                latest: AtomicI64::new(0),
                closed,
            }),
        }
    }

    /// Announces that the feed of `user_id` reached `seq`. Never blocks and never fails (with
    /// no subscriber the hint is simply dropped).
    pub fn publish(&self, user_id: Uuid, seq: i64) {
        self.inner.latest.fetch_max(seq, Ordering::Relaxed);
        let _ = self.inner.tx.send(Hint { user_id, seq });
    }

    /// The highest position published so far (0 before the first hint). A lower bound of the
    /// feed position: every write up to it has committed.
    pub fn latest(&self) -> i64 {
        self.inner.latest.load(Ordering::Relaxed)
    }

    /// Hints for one user from now on.
    pub fn subscribe(&self, user_id: Uuid) -> UserHints {
        UserHints {
            user_id,
            rx: self.inner.tx.subscribe(),
            closed: self.inner.closed.subscribe(),
            bus: self.clone(),
        }
    }

    /// Ends every subscription (server shutdown); later subscriptions end at once.
    pub fn close(&self) {
        self.inner.closed.send_replace(true);
    }

    /// How many subscriptions are open.
    pub fn subscribers(&self) -> usize {
        self.inner.tx.receiver_count()
    }
}

/// The hints of one user, as [`UserHints::next`] returns them.
pub struct UserHints {
    user_id: Uuid,
    rx: broadcast::Receiver<Hint>,
    closed: watch::Receiver<bool>,
    bus: HintBus,
}

impl UserHints {
    /// The next position of this user's feed; `None` once the bus is closed. After a lag (the
    /// subscriber was too slow and hints were dropped) it returns the newest position published
    /// on the bus, which is at least that of every missed hint.
    pub async fn next(&mut self) -> Option<i64> {
        loop {
            if *self.closed.borrow() {
                return None;
            }
            tokio::select! {
                biased;
                changed = self.closed.changed() => {
                    if changed.is_err() || *self.closed.borrow() {
                        return None;
                    }
                }
                received = self.rx.recv() => match received {
                    Ok(hint) if hint.user_id == self.user_id => return Some(hint.seq),
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Skip what is left of the backlog: one hint covers it all.
                        self.rx = self.rx.resubscribe();
                        return Some(self.bus.latest());
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn hints_reach_only_their_user() {
        let bus = HintBus::new(16);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut ha = bus.subscribe(a);
        let mut hb = bus.subscribe(b);
        bus.publish(b, 7);
        bus.publish(a, 8);
        assert_eq!(ha.next().await, Some(8));
        assert_eq!(hb.next().await, Some(7));
        let nothing = tokio::time::timeout(Duration::from_millis(50), hb.next()).await;
        assert!(nothing.is_err(), "no hint of another user");
        assert_eq!(bus.latest(), 8);
    }

    #[tokio::test]
    async fn a_lagged_subscriber_gets_one_hint_with_the_latest_position() {
        let bus = HintBus::new(4);
        let a = Uuid::new_v4();
        let mut ha = bus.subscribe(a);
        for seq in 1..=20 {
            bus.publish(a, seq);
        }
        assert_eq!(ha.next().await, Some(20));
        let nothing = tokio::time::timeout(Duration::from_millis(50), ha.next()).await;
        assert!(nothing.is_err(), "the backlog was skipped");
        bus.publish(a, 21);
        assert_eq!(ha.next().await, Some(21));
    }

    #[tokio::test]
    async fn close_ends_subscriptions() {
        let bus = HintBus::new(4);
        let mut h = bus.subscribe(Uuid::new_v4());
        let waiting = tokio::spawn(async move { h.next().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        bus.close();
        assert_eq!(waiting.await.unwrap(), None);
        assert_eq!(bus.subscribe(Uuid::new_v4()).next().await, None);
    }
}
