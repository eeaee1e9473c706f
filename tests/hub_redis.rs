//! The hub's Redis backend against a real redis-server: two hubs (two
//! "processes") sharing a topic without duplicates, a Redis restart in the middle
//! (local delivery unaffected, cross-process delivery resumes), and two chat
//! example processes joined through Redis.
//!
//! `.ci/run` starts a redis-server on a free loopback port and passes its URL in
//! `WSP_REDIS_URL`; the restart test starts (and kills, by its PID) its own.
#![cfg(feature = "redis")]

mod socket_support;

use socket_support::*;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use websocket_protocol::hub::{Hub, RedisConfig};
use websocket_protocol::Config;

fn redis_url() -> String {
    std::env::var("WSP_REDIS_URL")
        .expect("WSP_REDIS_URL names the redis-server to use (.ci/run starts one)")
}

/// A prefix no other test (or earlier run) uses.
fn fresh_prefix(name: &str) -> String {
    format!("test-{name}-{:x}", rand::random::<u64>())
}

/// Waits until `n` connections subscribe to `channel`.
async fn until_subscribed(url: &str, channel: &str, n: i64) {
    within(30, async {
        loop {
            if let Ok(mut conn) = redis::Client::open(url)
                .unwrap()
                .get_multiplexed_async_connection()
                .await
            {
                let counts: Vec<(String, i64)> = redis::cmd("PUBSUB")
                    .arg("NUMSUB")
                    .arg(channel)
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default();
                if counts.first().map(|c| c.1) == Some(n) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

fn hub(url: &str, prefix: &str) -> Hub {
    let config = RedisConfig::new(url)
        .unwrap()
        .prefix(prefix)
        .backoff(Duration::from_millis(50), Duration::from_millis(400));
    Hub::builder().redis(config).build()
}

async fn guest(hub: &Hub, topic: &str) -> (JoinHandle<()>, Tung) {
    let (mut ours, tung) = pair(Side::Server, Config::default()).await;
    hub.subscribe(topic, &ours);
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = ours.recv().await {} });
    (reader, tung)
}

async fn next_text<S>(tung: &mut S) -> String
where
    S: futures::Stream<Item = Result<TMessage, tungstenite::Error>> + Unpin,
{
    loop {
        match within(20, tung.next()).await.unwrap().unwrap() {
            TMessage::Text(t) => return t.to_string(),
            TMessage::Ping(_) | TMessage::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

async fn until(what: &str, mut f: impl FnMut() -> bool) {
    tokio::time::timeout(Duration::from_secs(30), async {
        while !f() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting: {what}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server (.ci/run starts one and sets WSP_REDIS_URL)"]
async fn two_hubs_share_a_topic_and_nothing_arrives_twice() {
    let url = redis_url();
    let prefix = fresh_prefix("share");
    let (a, b) = (hub(&url, &prefix), hub(&url, &prefix));
    let (_ga, mut at_a) = guest(&a, "news").await;
    let (_gb, mut at_b) = guest(&b, "news").await;
    until_subscribed(&url, &format!("{prefix}:news"), 2).await;

    const EACH: usize = 100;
    for n in 0..EACH {
        a.publish("news", format!("a{n}"));
        b.publish("news", format!("b{n}"));
    }
    // Binary keeps its kind across processes.
    a.publish(
        "news",
        websocket_protocol::Message::binary(vec![0u8, 255, 7]),
    );
    until("both published", || {
        a.redis_stats().unwrap().published == EACH as u64 + 1
            && b.redis_stats().unwrap().published == EACH as u64
    })
    .await;
    // A's publishes all reached Redis before B's marker: if A's own came back
    // to it, they would arrive at A before "end-b". B's subscriber has all of
    // A's once A's marker, published after them, arrives through Redis.
    b.publish("news", "end-b");
    a.publish("news", "end-a");
    for (peer, marker) in [(&mut at_a, "end-b"), (&mut at_b, "end-a")] {
        let (mut from_a, mut from_b) = (0, 0);
        let mut binary = 0;
        loop {
            match within(20, peer.next()).await.unwrap().unwrap() {
                TMessage::Binary(data) => {
                    assert_eq!(&data[..], &[0, 255, 7]);
                    binary += 1;
                }
                TMessage::Text(t) if t.as_str() == marker => break,
                TMessage::Text(t) if t.starts_with("end-") => {}
                TMessage::Text(t) => {
                    let (who, n): (char, usize) =
                        (t.chars().next().unwrap(), t[1..].parse().unwrap());
                    let next = if who == 'a' { &mut from_a } else { &mut from_b };
                    assert_eq!(n, *next, "{who}'s order, and no duplicate");
                    *next += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!((from_a, from_b, binary), (EACH, EACH, 1));
    }
    let (sa, sb) = (a.redis_stats().unwrap(), b.redis_stats().unwrap());
    assert_eq!(sa.received, EACH as u64 + 1, "B's, and B's marker");
    assert_eq!(
        sb.received,
        EACH as u64 + 2,
        "A's, binary and marker included"
    );
    assert_eq!((sa.dropped, sb.dropped, sa.invalid), (0, 0, 0));

    // The last local subscriber leaving unsubscribes the process.
    drop(at_a);
    until("A's guest is gone", || a.subscribers("news") == 0).await;
    until_subscribed(&url, &format!("{prefix}:news"), 1).await;
}

/// A redis-server of the test's own, on a given port, to kill and restart.
struct OwnRedis {
    child: Child,
}

impl OwnRedis {
    async fn start(port: u16) -> OwnRedis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server (apt-get install redis-server)");
        let url = format!("redis://127.0.0.1:{port}");
        within(20, async {
            loop {
                if let Ok(c) = redis::Client::open(url.as_str()) {
                    if c.get_multiplexed_async_connection().await.is_ok() {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        OwnRedis { child }
    }

    async fn stop(mut self) {
        self.child.kill().await.unwrap();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server (.ci/run installs it)"]
async fn a_redis_restart_leaves_local_delivery_alone_and_fan_out_resumes() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let server = OwnRedis::start(port).await;
    let prefix = fresh_prefix("restart");
    let channel = format!("{prefix}:t");
    let (a, b) = (hub(&url, &prefix), hub(&url, &prefix));
    let (_ga, mut at_a) = guest(&a, "t").await;
    let (_gb, mut at_b) = guest(&b, "t").await;
    until_subscribed(&url, &channel, 2).await;
    a.publish("t", "before");
    assert_eq!(next_text(&mut at_a).await, "before");
    assert_eq!(next_text(&mut at_b).await, "before");

    server.stop().await;
    until("A sees the loss", || !a.redis_stats().unwrap().connected).await;
    for n in 0..10 {
        let p = a.publish("t", format!("during {n}"));
        assert_eq!(p.delivered, 1, "local delivery goes on");
        assert_eq!(next_text(&mut at_a).await, format!("during {n}"));
    }

    let _server = OwnRedis::start(port).await;
    until("both reconnect", || {
        let (sa, sb) = (a.redis_stats().unwrap(), b.redis_stats().unwrap());
        sa.connected && sb.connected && sa.reconnects >= 1 && sb.reconnects >= 1
    })
    .await;
    until_subscribed(&url, &channel, 2).await;
    assert!(a.redis_stats().unwrap().dropped >= 1, "the gap is counted");
    a.publish("t", "after");
    b.publish("t", "from b");
    // Each hub's own publish arrives first (local), the other's through Redis.
    assert_eq!(next_text(&mut at_a).await, "after");
    assert_eq!(next_text(&mut at_a).await, "from b");
    // B missed the gap (Redis pub/sub keeps no history), then resumes; which
    // of the two comes first there is a race between its own publish and A's.
    let mut at_b_lines = [next_text(&mut at_b).await, next_text(&mut at_b).await];
    at_b_lines.sort();
    assert_eq!(at_b_lines, ["after", "from b"]);
}

/// The chat example's binary, which `cargo test` builds beside the tests.
fn chat_example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples")
        .join(format!("chat{}", std::env::consts::EXE_SUFFIX))
}

/// A chat example process on a free port, and its URL.
pub async fn chat_process(redis: &str) -> (Child, String) {
    let mut chat = Command::new(chat_example())
        .args(["127.0.0.1:0", "--redis", redis])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the chat example (cargo build --example chat)");
    let mut lines = BufReader::new(chat.stdout.take().unwrap()).lines();
    let first = within(20, lines.next_line()).await.unwrap().unwrap();
    let url = first.strip_prefix("chat on ").unwrap().to_owned();
    (chat, url)
}

#[tokio::test]
#[ignore = "needs redis-server (.ci/run starts one and sets WSP_REDIS_URL)"]
async fn two_chat_processes_share_one_room() {
    let url = redis_url();
    let (mut one, one_url) = chat_process(&url).await;
    let (mut two, two_url) = chat_process(&url).await;
    let ws = |u: &str| format!("{}ws", u.replacen("http", "ws", 1));
    let (mut alice, _) = tokio_tungstenite::connect_async(ws(&one_url))
        .await
        .unwrap();
    let (mut bob, _) = tokio_tungstenite::connect_async(ws(&two_url))
        .await
        .unwrap();
    // Both processes' hubs follow the room's channel before anyone speaks.
    until_subscribed(&url, "chat:room", 2).await;
    alice.send(TMessage::text("hello from one")).await.unwrap();
    let heard = |line: &str, what: &str| line.ends_with(&format!(": {what}"));
    let mut seen_by_bob = String::new();
    while !heard(&seen_by_bob, "hello from one") {
        seen_by_bob = next_text(&mut bob).await;
    }
    bob.send(TMessage::text("hi from two")).await.unwrap();
    // Alice sees her own line once, then Bob's.
    let mut lines = Vec::new();
    loop {
        let line = next_text(&mut alice).await;
        if line.ends_with(" joined") {
            continue;
        }
        let done = heard(&line, "hi from two");
        lines.push(line);
        if done {
            break;
        }
    }
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(heard(&lines[0], "hello from one"), "{lines:?}");
    let _ = one.kill().await;
    let _ = two.kill().await;
}
