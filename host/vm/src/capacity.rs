//! The instance pool's capacity, split so that the node's own work never waits
//! for clients.
//!
//! Every call needs instances from one pool: block apply, the install check's
//! trial instantiation, and clients' queries and explanations. If clients could
//! fill the pool, block apply would wait on them, and a trial instantiation that
//! gave up would look like a property of the code on that node alone. So client
//! calls each take a [`ClientSlot`] first, worth one whole call tree, and there
//! are only as many as leave [`RESERVED_TREES`] trees free for the node's work;
//! when none is free a client waits a little and then gets [`Busy`] (a 503 for
//! it, never a receipt). The pool's other totals (core instances, memories,
//! tables) are sized so that component instances are what runs out first.

use crate::limits::MAX_CALL_DEPTH;
use parking_lot::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Component instances one call tree may hold at once: the top-level call and
/// every level of nested calls.
pub const TREE_INSTANCES: u32 = MAX_CALL_DEPTH + 1;

/// Call trees kept for the node's own work: block apply (one transaction, or a
/// lifecycle commit's `migrate`, at a time) and the install check's trial
/// instantiation on the compiler thread.
pub const RESERVED_TREES: u32 = 2;

/// The fewest instances a VM may be configured with: the reserve and one
/// client tree.
pub const MIN_INSTANCES: u32 = (RESERVED_TREES + 1) * TREE_INSTANCES;

/// Every client slot was taken for the whole wait.
#[derive(Debug, thiserror::Error)]
#[error("every contract instance this node lends to clients is in use; retry in a moment")]
pub struct Busy;

/// The client calls that may run at once.
pub(crate) struct ClientSlots {
    free: Mutex<u32>,
    freed: Condvar,
}

impl ClientSlots {
    /// Slots for a pool of `max_instances` component instances.
    pub(crate) fn new(max_instances: u32) -> Self {
        let trees = (max_instances / TREE_INSTANCES).saturating_sub(RESERVED_TREES);
        ClientSlots { free: Mutex::new(trees), freed: Condvar::new() }
    }

    /// Take a slot, waiting at most `wait` for one.
    pub(crate) fn take(&self, wait: Duration) -> Result<ClientSlot<'_>, Busy> {
        let deadline = Instant::now() + wait;
        let mut free = self.free.lock();
        while *free == 0 {
            if self.freed.wait_until(&mut free, deadline).timed_out() && *free == 0 {
                return Err(Busy);
            }
        }
        *free -= 1;
        Ok(ClientSlot { slots: self })
    }
}

/// A client call's claim on one call tree of the pool, given back on drop.
pub struct ClientSlot<'a> {
    slots: &'a ClientSlots,
}

impl Drop for ClientSlot<'_> {
    fn drop(&mut self) {
        *self.slots.free.lock() += 1;
        self.slots.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_never_take_the_reserve_and_get_busy_instead_of_waiting_forever() {
        let slots = ClientSlots::new(MIN_INSTANCES + TREE_INSTANCES); // two client trees
        let a = slots.take(Duration::ZERO).unwrap();
        let b = slots.take(Duration::ZERO).unwrap();
        assert!(slots.take(Duration::from_millis(20)).is_err(), "the reserve is not lent");
        drop(a);
        let c = slots.take(Duration::ZERO).expect("a slot given back is taken again");
        drop((b, c));
        // A waiting client gets the slot another gives back.
        let held = slots.take(Duration::ZERO).unwrap();
        let _other = slots.take(Duration::ZERO).unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| slots.take(Duration::from_secs(10)).map(|_| ()));
            std::thread::sleep(Duration::from_millis(50));
            drop(held);
            assert!(waiter.join().unwrap().is_ok());
        });
        assert_eq!(
            ClientSlots::new(MIN_INSTANCES - 1).take(Duration::ZERO).err().map(|e| e.to_string()),
            Some(Busy.to_string())
        );
    }
}
