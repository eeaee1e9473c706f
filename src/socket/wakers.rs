//! Fan-out wakers: one transport, several tasks waiting on it.
//!
//! A transport keeps one waker per direction (tokio's `TcpStream` remembers the
//! last task that polled it), but a socket's reader, its sender and any number of
//! ping futures may all be waiting for the same bytes. So the socket never hands
//! a caller's waker to the transport: every waiter registers in a [`WakerSet`]
//! first, and the transport gets the set's own waker, which wakes them all.
//! Registering *before* polling the transport is what makes a wakeup impossible
//! to lose.

use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};

/// Tasks waiting on one direction of the transport (or on state another task
/// changes, such as a message read on their behalf).
#[derive(Debug, Default)]
pub(crate) struct WakerSet {
    // Its own lock, never the socket's: a transport may call `wake` from inside
    // `poll_read`, while the socket's lock is held.
    wakers: Mutex<Vec<Waker>>,
}

impl WakerSet {
    /// Adds `waker` unless it is already there.
    pub(crate) fn register(&self, waker: &Waker) {
        let mut wakers = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            // Room for one: most sockets have one task, and an idle one keeps
            // its waker here (a `Vec` would otherwise start with four).
            if wakers.capacity() == 0 {
                wakers.reserve_exact(1);
            }
            wakers.push(waker.clone());
        }
    }

    /// Wakes every registered task except `me`, which is polling right now and
    /// will see the change itself.
    pub(crate) fn wake_others(&self, me: &Waker) {
        let woken = {
            let mut wakers = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
            if wakers.is_empty() || (wakers.len() == 1 && wakers[0].will_wake(me)) {
                return;
            }
            let mut all = std::mem::take(&mut *wakers);
            if let Some(i) = all.iter().position(|w| w.will_wake(me)) {
                wakers.push(all.swap_remove(i));
            }
            all
        };
        woken.into_iter().for_each(Waker::wake);
    }

    /// Wakes every registered task.
    pub(crate) fn wake_all(&self) {
        let mut wakers = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
        match wakers.len() {
            0 => {}
            // The common case (one task): the vector keeps its allocation, which
            // the task's next `register` fills again.
            1 => {
                let waker = wakers.pop().expect("one");
                drop(wakers);
                waker.wake();
            }
            _ => {
                let woken = std::mem::take(&mut *wakers);
                drop(wakers);
                woken.into_iter().for_each(Waker::wake);
            }
        }
    }
}

impl Wake for WakerSet {
    fn wake(self: Arc<Self>) {
        self.wake_all();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_all();
    }
}
