//! The Redis backend: fan-out across processes.
//!
//! Every publish is delivered locally first, then handed to this backend's task
//! through a bounded queue (never waited on) and published to
//! `<prefix>:<topic>`. The task keeps one subscription connection subscribed to
//! the channels of the topics that have local subscribers, and delivers what
//! other processes publish there to the local subscribers. Each payload starts
//! with a header naming the publishing hub and the message kind, so a hub skips
//! its own publishes, which it has delivered already: `wsp1`, the hub's random
//! 16-byte id, `t` (text) or `b` (binary), then the message. A process in
//! another language publishes to the room by sending the same; payloads without
//! the header, or text that is not UTF-8, are ignored and counted.
//!
//! A lost connection never touches local delivery. The task reconnects with
//! exponential backoff, subscribes again, and counts (and logs, with the `log`
//! crate) what fell into the gap: publishes dropped while disconnected, and the
//! reconnections. Messages other processes published meanwhile are lost, as
//! Redis pub/sub does not keep them.

use super::{Hub, Inner};
use crate::protocol::{Message, PreparedMessage, Utf8Bytes};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::StreamExt;
use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

/// The first bytes of every payload this backend publishes (format version 1).
const MAGIC: &[u8; 4] = b"wsp1";
const HEADER: usize = 4 + 16 + 1;

/// Settings of a hub's Redis backend.
///
/// ```no_run
/// use websocket_protocol::hub::{Hub, RedisConfig};
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let hub = Hub::builder()
///     .redis(RedisConfig::new("redis://127.0.0.1:6379")?.prefix("chat"))
///     .build();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisConfig {
    client: redis::Client,
    prefix: String,
    queue: usize,
    min_backoff: Duration,
    max_backoff: Duration,
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("prefix", &self.prefix)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

impl RedisConfig {
    /// A backend for the Redis at `url`: `redis://[user:password@]host[:port][/db]`,
    /// or `rediss://` with the `redis-tls` feature. Fails on a URL the `redis`
    /// crate does not accept; connecting happens later, in the background.
    pub fn new(url: &str) -> Result<RedisConfig, redis::RedisError> {
        Ok(RedisConfig {
            client: redis::Client::open(url)?,
            prefix: "ws".to_owned(),
            queue: 1024,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        })
    }

    /// The channel prefix (default `ws`): topic `t` is channel `<prefix>:t`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Publishes waiting for Redis (default 1024). A publish that finds the
    /// queue full is dropped for the other processes (local delivery is not
    /// affected) and counted in [`RedisStats::dropped`].
    pub fn publish_queue(mut self, messages: usize) -> Self {
        self.queue = messages.max(1);
        self
    }

    /// The wait before reconnecting doubles from `min` up to `max` (default
    /// 100 ms to 5 s), and starts again from `min` once connected.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.min_backoff = min;
        self.max_backoff = max.max(min);
        self
    }

    fn channel(&self, topic: &str) -> String {
        format!("{}:{topic}", self.prefix)
    }
}

/// Counters of a hub's Redis backend, from [`Hub::redis_stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisStats {
    /// Connected (both the publishing and the subscribing connection).
    pub connected: bool,
    /// Connections lost and made again.
    pub reconnects: u64,
    /// Messages published to Redis.
    pub published: u64,
    /// Messages from other processes delivered here.
    pub received: u64,
    /// Publishes that never reached Redis: the queue was full, or the
    /// connection was down (the gap).
    pub dropped: u64,
    /// Payloads on our channels that were not ours to read (no header, or
    /// invalid UTF-8 in a text message), ignored.
    pub invalid: u64,
}

#[derive(Default)]
struct Counters {
    connected: AtomicBool,
    reconnects: AtomicU64,
    published: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
    invalid: AtomicU64,
}

struct Outgoing {
    channel: String,
    payload: Bytes,
}

/// The hub's side: the queue to the task, and what it reports.
pub(crate) struct Backend {
    origin: [u8; 16],
    config: RedisConfig,
    queue: mpsc::Sender<Outgoing>,
    counters: Arc<Counters>,
    topics_changed: Arc<Notify>,
}

impl Backend {
    /// Spawns the task (on the current tokio runtime).
    pub(crate) fn start(config: RedisConfig, hub: Weak<Inner>) -> Backend {
        let (queue, rx) = mpsc::channel(config.queue);
        let backend = Backend {
            origin: rand::random(),
            config,
            queue,
            counters: Arc::default(),
            topics_changed: Arc::default(),
        };
        let task = Task {
            origin: backend.origin,
            config: backend.config.clone(),
            hub,
            rx,
            counters: backend.counters.clone(),
            topics_changed: backend.topics_changed.clone(),
        };
        tokio::spawn(task.run());
        backend
    }

    /// Queues a publish for the other processes, without waiting.
    pub(crate) fn publish(&self, topic: &str, message: &Message) {
        let (kind, data) = match message {
            Message::Text(t) => (b't', t.as_bytes()),
            Message::Binary(b) => (b'b', b),
        };
        let mut payload = BytesMut::with_capacity(HEADER + data.len());
        payload.put_slice(MAGIC);
        payload.put_slice(&self.origin);
        payload.put_u8(kind);
        payload.put_slice(data);
        let out = Outgoing {
            channel: self.config.channel(topic),
            payload: payload.freeze(),
        };
        if self.queue.try_send(out).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn topics_changed(&self) {
        self.topics_changed.notify_one();
    }

    pub(crate) fn stats(&self) -> RedisStats {
        let c = &self.counters;
        RedisStats {
            connected: c.connected.load(Ordering::Relaxed),
            reconnects: c.reconnects.load(Ordering::Relaxed),
            published: c.published.load(Ordering::Relaxed),
            received: c.received.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            invalid: c.invalid.load(Ordering::Relaxed),
        }
    }
}

/// The task's side.
struct Task {
    origin: [u8; 16],
    config: RedisConfig,
    hub: Weak<Inner>,
    rx: mpsc::Receiver<Outgoing>,
    counters: Arc<Counters>,
    topics_changed: Arc<Notify>,
}

/// Why a session ended.
enum End {
    /// The hub is gone: stop.
    HubGone,
    Lost(redis::RedisError),
}

impl From<redis::RedisError> for End {
    fn from(e: redis::RedisError) -> End {
        End::Lost(e)
    }
}

impl Task {
    async fn run(mut self) {
        let mut backoff = self.config.min_backoff;
        let mut sessions = 0u64;
        loop {
            let dropped_before = self.counters.dropped.load(Ordering::Relaxed);
            match self.session(sessions).await {
                End::HubGone => return,
                End::Lost(e) => {
                    if self.counters.connected.swap(false, Ordering::Relaxed) {
                        backoff = self.config.min_backoff;
                        log::warn!("redis: connection lost ({e}); reconnecting");
                    } else {
                        log::warn!("redis: cannot connect ({e}); retrying in {backoff:?}");
                    }
                }
            }
            sessions += 1;
            // The gap: publishes made while disconnected are dropped, not kept to
            // be sent late.
            let sleep = tokio::time::sleep(backoff);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    out = self.rx.recv() => match out {
                        Some(_) => { self.counters.dropped.fetch_add(1, Ordering::Relaxed); }
                        None => return,
                    },
                }
            }
            let lost = self.counters.dropped.load(Ordering::Relaxed) - dropped_before;
            if lost > 0 {
                log::warn!("redis: {lost} publishes dropped while disconnected");
            }
            backoff = (backoff * 2).min(self.config.max_backoff);
        }
    }

    /// One connection's life: connect, subscribe, then publish and deliver until
    /// it fails.
    async fn session(&mut self, sessions: u64) -> End {
        let client = self.config.client.clone();
        let mut publisher = match client.get_multiplexed_async_connection().await {
            Ok(c) => c,
            Err(e) => return End::Lost(e),
        };
        let (mut sink, mut stream) = match client.get_async_pubsub().await {
            Ok(p) => p.split(),
            Err(e) => return End::Lost(e),
        };
        let mut subscribed: HashSet<String> = HashSet::new();
        if let Err(end) = self.sync(&mut sink, &mut subscribed).await {
            return end;
        }
        self.counters.connected.store(true, Ordering::Relaxed);
        if sessions > 0 {
            self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
            log::info!(
                "redis: reconnected, {} channels subscribed again",
                subscribed.len()
            );
        }
        let prefix = format!("{}:", self.config.prefix);
        loop {
            tokio::select! {
                _ = self.topics_changed.notified() => {
                    if let Err(end) = self.sync(&mut sink, &mut subscribed).await {
                        return end;
                    }
                }
                message = stream.next() => {
                    let Some(message) = message else {
                        return End::Lost(redis::RedisError::from(std::io::Error::from(
                            std::io::ErrorKind::ConnectionReset,
                        )));
                    };
                    let Some(topic) = message.get_channel_name().strip_prefix(&prefix) else {
                        continue;
                    };
                    if !self.deliver(topic, message.get_payload_bytes()) {
                        return End::HubGone;
                    }
                }
                out = self.rx.recv() => {
                    let Some(out) = out else { return End::HubGone };
                    if let Err(e) = self.publish(&mut publisher, out).await {
                        return End::Lost(e);
                    }
                }
            }
        }
    }

    /// Subscribes to the channels of the topics with local subscribers, and
    /// unsubscribes from the others.
    async fn sync(
        &self,
        sink: &mut redis::aio::PubSubSink,
        subscribed: &mut HashSet<String>,
    ) -> Result<(), End> {
        let Some(inner) = self.hub.upgrade() else {
            return Err(End::HubGone);
        };
        let wanted: HashSet<String> = Hub::from_inner(inner)
            .topics()
            .iter()
            .map(|t| self.config.channel(t))
            .collect();
        let add: Vec<&String> = wanted.difference(subscribed).collect();
        if !add.is_empty() {
            sink.subscribe(&add).await?;
        }
        let remove: Vec<&String> = subscribed.difference(&wanted).collect();
        if !remove.is_empty() {
            sink.unsubscribe(&remove).await?;
        }
        *subscribed = wanted;
        Ok(())
    }

    /// Publishes what is queued, in one pipeline.
    async fn publish(
        &mut self,
        conn: &mut redis::aio::MultiplexedConnection,
        first: Outgoing,
    ) -> redis::RedisResult<()> {
        let mut pipe = redis::pipe();
        let mut n = 0;
        let mut next = Some(first);
        while let Some(out) = next {
            pipe.cmd("PUBLISH")
                .arg(out.channel)
                .arg(&out.payload[..])
                .ignore();
            n += 1;
            next = if n < 256 {
                self.rx.try_recv().ok()
            } else {
                None
            };
        }
        let result = pipe.query_async::<()>(conn).await;
        match &result {
            Ok(()) => self.counters.published.fetch_add(n, Ordering::Relaxed),
            Err(_) => self.counters.dropped.fetch_add(n, Ordering::Relaxed),
        };
        result
    }

    /// Delivers another process's publish locally; `false` once the hub is gone.
    fn deliver(&self, topic: &str, payload: &[u8]) -> bool {
        let Some(inner) = self.hub.upgrade() else {
            return false;
        };
        let Some(message) = self.decode(payload) else {
            self.counters.invalid.fetch_add(1, Ordering::Relaxed);
            return true;
        };
        let Some(message) = message else {
            return true; // Our own, delivered at publish time.
        };
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        Hub::from_inner(inner).deliver(topic, &PreparedMessage::new(message));
        true
    }

    /// `None`: not a payload of ours; `Some(None)`: our own publish.
    fn decode(&self, payload: &[u8]) -> Option<Option<Message>> {
        if payload.len() < HEADER || &payload[..4] != MAGIC {
            return None;
        }
        if payload[4..20] == self.origin {
            return Some(None);
        }
        let data = Bytes::copy_from_slice(&payload[HEADER..]);
        match payload[20] {
            b't' => Utf8Bytes::try_from(data)
                .ok()
                .map(|t| Some(Message::Text(t))),
            b'b' => Some(Some(Message::Binary(data))),
            _ => None,
        }
    }
}
