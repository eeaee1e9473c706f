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
    wakers: Mutex<Wakers>,
}

/// The wakers of a set: the first in place, as most sockets have one task (and
/// an idle one keeps its waker here), so that it costs no allocation; any
/// others in a list.
#[derive(Debug, Default)]
struct Wakers {
    first: Option<Waker>,
    others: Vec<Waker>,
}

impl Wakers {
    fn contains(&self, waker: &Waker) -> bool {
        self.iter().any(|w| w.will_wake(waker))
    }

    fn iter(&self) -> impl Iterator<Item = &Waker> {
        self.first.iter().chain(&self.others)
    }

    fn push(&mut self, waker: Waker) {
        match self.first {
            None => self.first = Some(waker),
            Some(_) => self.others.push(waker),
        }
    }

    /// Takes `waker` out, if it is here.
    fn remove(&mut self, waker: &Waker) -> Option<Waker> {
        if self.first.as_ref().is_some_and(|w| w.will_wake(waker)) {
            return self.first.take();
        }
        let i = self.others.iter().position(|w| w.will_wake(waker))?;
        Some(self.others.swap_remove(i))
    }

    /// Takes every waker out; the list keeps its room when it is empty.
    fn take(&mut self) -> Wakers {
        Wakers {
            first: self.first.take(),
            others: match self.others.is_empty() {
                true => Vec::new(),
                false => std::mem::take(&mut self.others),
            },
        }
    }

    fn wake(self) {
        self.first
            .into_iter()
            .chain(self.others)
            .for_each(Waker::wake);
    }
}

impl WakerSet {
    fn lock(&self) -> std::sync::MutexGuard<'_, Wakers> {
        self.wakers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `waker` unless it is already there.
    pub(crate) fn register(&self, waker: &Waker) {
        let mut wakers = self.lock();
        if !wakers.contains(waker) {
            wakers.push(waker.clone());
        }
    }

    /// Wakes every registered task except `me`, which is polling right now and
    /// will see the change itself.
    pub(crate) fn wake_others(&self, me: &Waker) {
        let woken = {
            let mut wakers = self.lock();
            if wakers.iter().all(|w| w.will_wake(me)) {
                return;
            }
            let mut all = wakers.take();
            if let Some(me) = all.remove(me) {
                wakers.push(me);
            }
            all
        };
        woken.wake();
    }

    /// Wakes every registered task.
    pub(crate) fn wake_all(&self) {
        let woken = self.lock().take();
        woken.wake();
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
