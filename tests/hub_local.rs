//! The hub in one process, over real TCP sockets with tokio-tungstenite clients:
//! many subscribers, per-publisher order, unsubscribe on close and on drop, the
//! slow-subscriber policies, and a burst of publishes leaving in one write.

mod socket_support;

use socket_support::*;
use std::collections::HashMap;
use tokio::task::JoinHandle;
use websocket_protocol::hub::{Hub, SlowPolicy, SLOW_CLOSE_REASON};
use websocket_protocol::protocol::PreparedMessage;
use websocket_protocol::{CloseCode, Config};

/// Our server socket subscribed to `topic`, driven by a task that reads it (as
/// any server does), and the client at the other end.
async fn guest(hub: &Hub, topic: &str, config: Config) -> (JoinHandle<Ours>, Tung) {
    let (mut ours, tung) = pair(Side::Server, config).await;
    hub.subscribe(topic, &ours);
    let reader = tokio::spawn(async move {
        while let Some(Ok(_)) = ours.recv().await {}
        ours
    });
    (reader, tung)
}

async fn next_text(tung: &mut Tung) -> String {
    loop {
        match within(10, tung.next()).await.unwrap().unwrap() {
            TMessage::Text(t) => return t.to_string(),
            TMessage::Ping(_) | TMessage::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscriber_gets_every_message_in_each_publishers_order() {
    const GUESTS: usize = 40;
    const PUBLISHERS: usize = 4;
    const EACH: usize = 250;
    let hub = Hub::new();
    let mut guests = Vec::new();
    for _ in 0..GUESTS {
        guests.push(guest(&hub, "room", Config::default()).await);
    }
    assert_eq!(hub.subscribers("room"), GUESTS);
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let hub = hub.clone();
            tokio::spawn(async move {
                let mut delivered = 0;
                for n in 0..EACH {
                    delivered += hub.publish("room", format!("{p}:{n}")).delivered;
                    if n % 50 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                delivered
            })
        })
        .collect();
    let mut delivered = 0;
    for p in publishers {
        delivered += p.await.unwrap();
    }
    assert_eq!(delivered, GUESTS * PUBLISHERS * EACH, "nobody was skipped");
    for (_, tung) in &mut guests {
        let mut next: HashMap<usize, usize> = HashMap::new();
        for _ in 0..PUBLISHERS * EACH {
            let line = next_text(tung).await;
            let (p, n) = line.split_once(':').unwrap();
            let (p, n): (usize, usize) = (p.parse().unwrap(), n.parse().unwrap());
            let expected = next.entry(p).or_default();
            assert_eq!(n, *expected, "publisher {p}'s order");
            *expected += 1;
        }
        assert!(next.values().all(|&n| n == EACH));
    }
}

#[tokio::test]
async fn a_publish_to_a_topic_nobody_follows_goes_nowhere() {
    let hub = Hub::new();
    let (_g, _t) = guest(&hub, "a", Config::default()).await;
    assert_eq!(hub.publish("b", "x").delivered, 0);
    assert_eq!(hub.topics(), vec!["a".to_owned()]);
}

#[tokio::test]
async fn closed_and_dropped_sockets_leave_their_topics() {
    let hub = Hub::new();
    let (stays, mut stays_peer) = guest(&hub, "room", Config::default()).await;
    // Dropped by the application.
    let (dropped, _dropped_peer) = pair(Side::Server, Config::default()).await;
    let dropped_sub = hub.subscribe("room", &dropped);
    // Closed by its peer.
    let (closed, mut closed_peer) = guest(&hub, "room", Config::default()).await;
    // Subscribed through its sending half.
    let (half, mut half_peer) = pair(Side::Server, Config::default()).await;
    let (tx, mut rx) = half.split();
    let half_sub = hub.subscribe("room", &tx);
    let half_reader = tokio::spawn(async move { while let Some(Ok(_)) = rx.recv().await {} });
    // Subscribing twice is one subscription.
    hub.subscribe("other", &tx);
    hub.subscribe("other", &tx);
    assert_eq!(hub.subscribers("other"), 1);
    assert_eq!(hub.subscribers("room"), 4);

    drop(dropped);
    assert_eq!(hub.subscribers("room"), 3);
    assert!(dropped_sub.is_ended());

    closed_peer.close(None).await.unwrap();
    while within(10, closed_peer.next()).await.is_some() {}
    let closed = within(10, closed).await.unwrap();
    assert!(closed.close_frame().is_some());
    assert_eq!(hub.publish("room", "after close").delivered, 2);
    assert_eq!(hub.subscribers("room"), 2);
    assert_eq!(next_text(&mut stays_peer).await, "after close");
    assert_eq!(next_text(&mut half_peer).await, "after close");

    assert!(hub.unsubscribe("room", &tx));
    assert!(!hub.unsubscribe("room", &tx));
    assert!(half_sub.is_ended());
    assert_eq!(hub.publish("room", "just one").delivered, 1);
    hub.unsubscribe_all(&tx);
    assert_eq!(hub.topics(), vec!["room".to_owned()]);
    assert_eq!(next_text(&mut stays_peer).await, "just one");
    drop((tx, half_reader, stays));
}

/// A subscriber whose peer reads nothing, with a small write buffer, next to a
/// healthy one: publishes until the slow one's buffer (and TCP's) is full.
struct SlowRoom {
    hub: Hub,
    slow_peer: Tung,
    sub: websocket_protocol::hub::Subscription,
    published: usize,
    _healthy: (JoinHandle<Ours>, Tung),
}

async fn slow_room(policy: SlowPolicy) -> SlowRoom {
    let hub = Hub::builder().slow_policy(policy).build();
    let (healthy, mut healthy_peer) = guest(&hub, "feed", Config::default()).await;
    let (mut slow, slow_peer) =
        pair(Side::Server, Config::default().write_buffer_size(4 << 10)).await;
    let sub = hub.subscribe("feed", &slow);
    let slow_reader = tokio::spawn(async move { while let Some(Ok(_)) = slow.recv().await {} });
    let chunk = "z".repeat(16 << 10);
    let mut published = 0;
    loop {
        let p = hub.publish("feed", PreparedMessage::text(chunk.clone()));
        published += 1;
        // Paced by the healthy reader, so only the slow one can fall behind.
        assert_eq!(next_text(&mut healthy_peer).await.len(), chunk.len());
        if p.skipped + p.closed > 0 {
            assert_eq!(p.delivered + p.skipped, if p.closed > 0 { 1 } else { 2 });
            break;
        }
        assert!(published < 10_000, "the slow subscriber never filled up");
    }
    drop(slow_reader);
    SlowRoom {
        hub,
        slow_peer,
        sub,
        published,
        _healthy: (healthy, healthy_peer),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_is_skipped_and_counted_by_default() {
    // Every part stays alive to the end: a dropped peer would close its socket.
    let room = slow_room(SlowPolicy::default()).await;
    let (hub, sub, published) = (&room.hub, &room.sub, room.published);
    assert_eq!(sub.skipped(), 1);
    assert_eq!(sub.delivered() as usize, published - 1);
    for _ in 0..5 {
        hub.publish("feed", PreparedMessage::text("more"));
    }
    // Each one either fits (the transport took some bytes meanwhile) or is
    // skipped and counted: never queued past the limit, never lost uncounted.
    assert_eq!(sub.skipped() + sub.delivered(), published as u64 + 5);
    assert!(sub.skipped() >= 1);
    assert!(!sub.is_ended());
    assert_eq!(hub.subscribers("feed"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_can_be_closed_with_1008() {
    let SlowRoom {
        hub,
        mut slow_peer,
        sub,
        published,
        _healthy,
    } = slow_room(SlowPolicy::Close).await;
    assert!(sub.is_ended());
    assert_eq!(hub.subscribers("feed"), 1);
    // The peer reads at last: what was queued, then the close frame.
    let mut got = 0;
    loop {
        match within(10, slow_peer.next()).await {
            Some(Ok(TMessage::Text(_))) => got += 1,
            Some(Ok(TMessage::Close(Some(frame)))) => {
                assert_eq!(
                    u16::from(frame.code),
                    u16::from(CloseCode::POLICY_VIOLATION)
                );
                assert_eq!(frame.reason.as_str(), SLOW_CLOSE_REASON);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, published - 1);
    drop(_healthy);
}

/// A transport that counts the writes made to it.
struct Counting<T> {
    inner: T,
    writes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counting<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Counting<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if r.is_ready() {
            self.writes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        r
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn a_burst_of_publishes_leaves_in_one_write() {
    use std::sync::atomic::Ordering;
    let writes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (a, b) = tokio::io::duplex(1 << 20);
    let counted = Counting {
        inner: a,
        writes: writes.clone(),
    };
    let (server, client) = tokio::join!(
        websocket_protocol::WebSocket::accept(counted, Config::default()),
        websocket_protocol::WebSocket::connect(b, "ws://localhost/", Config::default())
    );
    let (mut server, mut client) = (server.unwrap(), client.unwrap());
    let hub = Hub::new();
    hub.subscribe("t", &server);
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = server.recv().await {} });
    // Let the reader park on the socket, its handshake written.
    tokio::task::yield_now().await;
    let before = writes.load(Ordering::Relaxed);
    // One thread: nothing is written until this task waits.
    for n in 0..100 {
        assert_eq!(hub.publish("t", format!("line {n}")).delivered, 1);
    }
    for n in 0..100 {
        let m = within(10, client.recv()).await.unwrap().unwrap();
        assert_eq!(m.as_text(), Some(format!("line {n}").as_str()));
    }
    assert_eq!(
        writes.load(Ordering::Relaxed) - before,
        1,
        "100 frames, one write"
    );
    reader.abort();
}
