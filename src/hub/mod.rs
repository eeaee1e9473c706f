//! Topics: publish a message once to every socket subscribed to it.
//!
//! A [`Hub`] maps topics to subscribed sockets (a [`WebSocket`](crate::WebSocket)
//! or the [`Sender`](crate::socket::Sender) half of one). [`Hub::publish`] frames
//! the message once per kind of connection (a [`PreparedMessage`]) and appends
//! the shared frame to each subscriber's write queue. It never waits for a
//! subscriber and starts no task: each socket's own driver (the task reading
//! it) is woken, once per burst, and writes everything queued in one write.
//!
//! - **Order.** A publish delivers to every subscriber before it returns, so
//!   the messages of one publisher reach each subscriber in the order they were
//!   published. Publishes from different tasks may interleave differently for
//!   different subscribers.
//! - **Slow subscribers.** A subscriber whose write buffer is above its
//!   high-water mark ([`Config::write_buffer_size`](crate::Config::write_buffer_size))
//!   gets the hub's [`SlowPolicy`]: by default [`SlowPolicy::Skip`], it misses
//!   that message, counted on its [`Subscription`]; with [`SlowPolicy::Close`] it
//!   is closed with 1008 (policy violation) and unsubscribed. Either way a
//!   subscriber holds at most its write buffer (plus one message), and neither
//!   the hub nor the publisher waits for it.
//! - **Lifetime.** A subscription lasts as long as the socket: once the socket
//!   is closed or dropped it is removed (at the next publish to the topic, or
//!   the next subscribe, which sweeps dead entries so that they never outnumber
//!   live ones). [`Hub::unsubscribe`] removes it earlier.
//! - **Reading.** A subscribed socket must be read (its `recv()` polled, as
//!   any server does to see the peer's messages and close): that task is what
//!   writes the queue. A socket nobody polls fills up and meets the policy.
//!
//! With the `redis` feature a hub also fans out across processes: see
//! [`HubBuilder::redis`].
//!
//! ```no_run
//! use websocket_protocol::hub::Hub;
//! use websocket_protocol::server::ServerSocket;
//!
//! async fn guest(hub: Hub, mut socket: ServerSocket) {
//!     hub.subscribe("lobby", &socket);
//!     while let Some(Ok(message)) = socket.recv().await {
//!         hub.publish("lobby", message); // to everyone in the lobby, this guest too
//!     }
//!     // Closed or dropped: the subscription goes with the socket.
//! }
//! ```

#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
pub use self::redis::{RedisConfig, RedisStats};

use crate::protocol::PreparedMessage;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// The reason sent with 1008 to a subscriber closed by [`SlowPolicy::Close`].
pub const SLOW_CLOSE_REASON: &str = "subscriber too slow";

/// What a [`Hub`] does with a subscriber whose write buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlowPolicy {
    /// Skip it for this message (the default): it misses the message, which is
    /// counted on its [`Subscription::skipped`]. Suits chat and live feeds, where
    /// a reader that catches up wants the new messages, not a disconnect.
    #[default]
    Skip,
    /// Close it with 1008 (policy violation) and [`SLOW_CLOSE_REASON`], and
    /// unsubscribe it: for streams where a gap is worse than a reconnect.
    Close,
}

/// Why a subscriber did not take a message.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Full,
    Closed,
}

/// What a subscribed socket is to the hub: something that queues a prepared
/// message without waiting. Implemented by the socket.
pub(crate) trait Deliver: Send + Sync {
    fn try_deliver(&self, message: &PreparedMessage) -> Result<(), Refusal>;
    fn close_slow(&self, reason: &str);
}

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// A socket that can be subscribed to a [`Hub`]'s topics: a
/// [`WebSocket`](crate::WebSocket) or a [`Sender`](crate::socket::Sender), over
/// any `Send + 'static` stream.
pub trait Subscriber: sealed::Sealed {
    /// The hub's reference to the socket: weak, so the hub never keeps a socket
    /// alive.
    fn subscriber_handle(&self) -> SubscriberHandle;
}

/// A weak reference to a subscribed socket, from [`Subscriber::subscriber_handle`].
#[derive(Clone)]
pub struct SubscriberHandle {
    endpoint: Weak<dyn Deliver>,
}

impl SubscriberHandle {
    pub(crate) fn new(endpoint: Weak<dyn Deliver>) -> SubscriberHandle {
        SubscriberHandle { endpoint }
    }

    /// Which socket it is: halves of one socket are the same subscriber.
    fn key(&self) -> usize {
        self.endpoint.as_ptr() as *const () as usize
    }
}

impl fmt::Debug for SubscriberHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriberHandle")
            .field("alive", &(self.endpoint.strong_count() > 0))
            .finish()
    }
}

#[derive(Debug, Default)]
struct Counters {
    delivered: AtomicU64,
    skipped: AtomicU64,
    /// Unsubscribed, closed by the policy, or found closed.
    ended: AtomicBool,
}

struct Slot {
    handle: SubscriberHandle,
    counters: Arc<Counters>,
}

#[derive(Default)]
struct Topic {
    /// Shared with publishes in progress, which iterate a snapshot; changed in
    /// place when no publish holds it.
    slots: Arc<Vec<Slot>>,
    /// Length after the last sweep of dead entries.
    swept: usize,
}

pub(crate) struct Inner {
    topics: Mutex<HashMap<Box<str>, Topic>>,
    policy: SlowPolicy,
    #[cfg(feature = "redis")]
    redis: Option<redis::Backend>,
}

impl Inner {
    fn topics(&self) -> MutexGuard<'_, HashMap<Box<str>, Topic>> {
        self.topics.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A set of topics and their subscribers; cheap to clone (all clones are the
/// same hub). See the [module docs](self).
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

/// Builds a [`Hub`].
#[derive(Debug, Default)]
pub struct HubBuilder {
    policy: SlowPolicy,
    #[cfg(feature = "redis")]
    redis: Option<RedisConfig>,
}

impl HubBuilder {
    /// What happens to a subscriber whose write buffer is full (default
    /// [`SlowPolicy::Skip`]).
    pub fn slow_policy(mut self, policy: SlowPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Fans out through Redis too: every publish also goes to the channel
    /// `<prefix>:<topic>`, and what other processes publish to the topics this
    /// hub has subscribers for is delivered here. See [`RedisConfig`].
    #[cfg(feature = "redis")]
    pub fn redis(mut self, config: RedisConfig) -> Self {
        self.redis = Some(config);
        self
    }

    /// The hub. With Redis, this spawns the task that talks to it, so it must be
    /// called inside a tokio runtime.
    pub fn build(self) -> Hub {
        Hub {
            inner: Arc::new_cyclic(|_weak| Inner {
                topics: Mutex::new(HashMap::new()),
                policy: self.policy,
                #[cfg(feature = "redis")]
                redis: self
                    .redis
                    .map(|config| redis::Backend::start(config, _weak.clone())),
            }),
        }
    }
}

/// What one [`Hub::publish`] did locally.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Published {
    /// Subscribers the message was queued for.
    pub delivered: usize,
    /// Subscribers skipped because their write buffer was full.
    pub skipped: usize,
    /// Subscribers closed by [`SlowPolicy::Close`].
    pub closed: usize,
}

/// One socket's subscription to one topic: its counters, and a way to end it.
/// Dropping it does not unsubscribe (the subscription lasts as long as the
/// socket); [`Subscription::unsubscribe`] does.
pub struct Subscription {
    hub: Weak<Inner>,
    topic: Box<str>,
    key: usize,
    counters: Arc<Counters>,
}

impl Subscription {
    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Messages queued for this subscriber.
    pub fn delivered(&self) -> u64 {
        self.counters.delivered.load(Ordering::Relaxed)
    }

    /// Messages this subscriber missed because its write buffer was full
    /// ([`SlowPolicy::Skip`]).
    pub fn skipped(&self) -> u64 {
        self.counters.skipped.load(Ordering::Relaxed)
    }

    /// Whether the subscription is over: unsubscribed, or its socket closed
    /// (as far as the hub has seen: it notices at the next publish).
    pub fn is_ended(&self) -> bool {
        self.counters.ended.load(Ordering::Relaxed)
    }

    /// Ends the subscription.
    pub fn unsubscribe(self) {
        if let Some(inner) = self.hub.upgrade() {
            Hub { inner }.remove(&self.topic, |slot| slot.handle.key() == self.key);
        }
        self.counters.ended.store(true, Ordering::Relaxed);
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("topic", &self.topic)
            .field("delivered", &self.delivered())
            .field("skipped", &self.skipped())
            .finish()
    }
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

impl Hub {
    /// A hub in this process only, skipping slow subscribers.
    pub fn new() -> Hub {
        Hub::builder().build()
    }

    /// A builder, for the slow-subscriber policy and Redis.
    pub fn builder() -> HubBuilder {
        HubBuilder::default()
    }

    /// Subscribes `socket` to `topic`. Subscribing again gives the existing
    /// subscription's counters.
    pub fn subscribe(&self, topic: &str, socket: &impl Subscriber) -> Subscription {
        let handle = socket.subscriber_handle();
        let key = handle.key();
        let mut topics = self.inner.topics();
        let first = !topics.contains_key(topic);
        let entry = topics.entry(topic.into()).or_default();
        let existing = entry.slots.iter().find(|s| s.handle.key() == key);
        let counters = match existing {
            Some(slot) => slot.counters.clone(),
            None => {
                let counters = Arc::new(Counters::default());
                let slots = Arc::make_mut(&mut entry.slots);
                // Amortised sweep: dead entries never outnumber live ones.
                if slots.len() >= 2 * entry.swept.max(8) {
                    slots.retain(|s| !s.is_dead());
                    entry.swept = slots.len();
                }
                slots.push(Slot {
                    handle,
                    counters: counters.clone(),
                });
                counters
            }
        };
        drop(topics);
        if first {
            self.topics_changed();
        }
        Subscription {
            hub: Arc::downgrade(&self.inner),
            topic: topic.into(),
            key,
            counters,
        }
    }

    /// Unsubscribes `socket` from `topic`; whether it was subscribed.
    pub fn unsubscribe(&self, topic: &str, socket: &impl Subscriber) -> bool {
        let key = socket.subscriber_handle().key();
        self.remove(topic, |slot| slot.handle.key() == key) > 0
    }

    /// Unsubscribes `socket` from every topic.
    pub fn unsubscribe_all(&self, socket: &impl Subscriber) {
        let key = socket.subscriber_handle().key();
        let names: Vec<Box<str>> = self.inner.topics().keys().cloned().collect();
        for topic in names {
            self.remove(&topic, |slot| slot.handle.key() == key);
        }
    }

    /// Live subscribers of `topic` (sockets closed or dropped are removed now).
    pub fn subscribers(&self, topic: &str) -> usize {
        self.remove(topic, Slot::is_dead);
        self.inner.topics().get(topic).map_or(0, |t| t.slots.len())
    }

    /// The topics with at least one subscriber.
    pub fn topics(&self) -> Vec<String> {
        self.inner.topics().keys().map(|k| k.to_string()).collect()
    }

    /// Publishes `message` to every subscriber of `topic` (and, with Redis, to
    /// the other processes). Never waits: see the [module docs](self).
    pub fn publish(&self, topic: &str, message: impl Into<PreparedMessage>) -> Published {
        let message = message.into();
        let published = self.deliver(topic, &message);
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.inner.redis {
            redis.publish(topic, message.message());
        }
        published
    }

    /// Counters of the Redis backend, if the hub has one.
    #[cfg(feature = "redis")]
    pub fn redis_stats(&self) -> Option<RedisStats> {
        self.inner.redis.as_ref().map(|r| r.stats())
    }

    /// Delivers to this process's subscribers only.
    pub(crate) fn deliver(&self, topic: &str, message: &PreparedMessage) -> Published {
        let Some(slots) = self.inner.topics().get(topic).map(|t| t.slots.clone()) else {
            return Published::default();
        };
        let mut published = Published::default();
        let mut dead = false;
        for slot in slots.iter() {
            let Some(endpoint) = slot.handle.endpoint.upgrade() else {
                dead = true;
                continue;
            };
            match endpoint.try_deliver(message) {
                Ok(()) => {
                    published.delivered += 1;
                    slot.counters.delivered.fetch_add(1, Ordering::Relaxed);
                }
                Err(Refusal::Full) => match self.inner.policy {
                    SlowPolicy::Skip => {
                        published.skipped += 1;
                        slot.counters.skipped.fetch_add(1, Ordering::Relaxed);
                    }
                    SlowPolicy::Close => {
                        published.closed += 1;
                        endpoint.close_slow(SLOW_CLOSE_REASON);
                        slot.counters.ended.store(true, Ordering::Relaxed);
                        dead = true;
                    }
                },
                Err(Refusal::Closed) => {
                    slot.counters.ended.store(true, Ordering::Relaxed);
                    dead = true;
                }
            }
        }
        drop(slots);
        if dead {
            self.remove(topic, Slot::is_dead);
        }
        published
    }

    /// Removes the slots of `topic` that `which` picks, and the topic once
    /// empty; how many were removed.
    fn remove(&self, topic: &str, which: impl Fn(&Slot) -> bool) -> usize {
        let mut topics = self.inner.topics();
        let Some(entry) = topics.get_mut(topic) else {
            return 0;
        };
        if !entry.slots.iter().any(&which) {
            return 0;
        }
        let slots = Arc::make_mut(&mut entry.slots);
        let before = slots.len();
        slots.retain(|s| {
            let gone = which(s);
            if gone {
                s.counters.ended.store(true, Ordering::Relaxed);
            }
            !gone
        });
        let removed = before - slots.len();
        entry.swept = slots.len();
        let empty = slots.is_empty();
        if empty {
            topics.remove(topic);
        }
        drop(topics);
        if empty {
            self.topics_changed();
        }
        removed
    }

    /// A topic got its first subscriber or lost its last: the Redis backend
    /// follows.
    fn topics_changed(&self) {
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.inner.redis {
            redis.topics_changed();
        }
    }
}

impl Slot {
    fn is_dead(&self) -> bool {
        self.counters.ended.load(Ordering::Relaxed) || self.handle.endpoint.strong_count() == 0
    }
}

// `Arc::make_mut` clones the list when a publish holds a snapshot.
impl Clone for Slot {
    fn clone(&self) -> Self {
        Slot {
            handle: self.handle.clone(),
            counters: self.counters.clone(),
        }
    }
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("topics", &self.inner.topics().len())
            .field("policy", &self.inner.policy)
            .finish()
    }
}

impl Hub {
    #[cfg(feature = "redis")]
    pub(crate) fn from_inner(inner: Arc<Inner>) -> Hub {
        Hub { inner }
    }
}
