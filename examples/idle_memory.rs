//! Heap held by idle WebSocket connections: ours against tokio-tungstenite with
//! its default configuration.
//!
//! Opens `N` connections (default 10,000) over in-memory `tokio::io::duplex`
//! pairs, both ends from the same library, exchanges one small message each way,
//! leaves every socket waiting in `next()`, and reports the heap that is still
//! allocated, per socket. A counting global allocator does the measuring; the
//! duplex pipes' own share is measured separately and subtracted.
//!
//! ```sh
//! cargo run --release --example idle_memory -- 10000
//! ```

use futures::{FutureExt, SinkExt, StreamExt};
use std::sync::atomic::Ordering;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_tungstenite::tungstenite::Message as TMessage;
use websocket_protocol::{Config, Message, WebSocket};

#[path = "../tests/alloc_support/mod.rs"]
mod alloc_support;
use alloc_support::{Counting, LIVE};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

const PIPE: usize = 8 << 10;

/// Duplex pairs that carried `len` bytes each way in pieces of up to 16 KiB,
/// without WebSockets: the pipes' own share.
async fn pipes(n: usize, len: usize) -> Vec<(DuplexStream, DuplexStream)> {
    let mut all = Vec::with_capacity(n);
    for _ in 0..n {
        let (mut a, mut b) = tokio::io::duplex(PIPE);
        pump(&mut a, &mut b, len).await;
        pump(&mut b, &mut a, len).await;
        all.push((a, b));
    }
    all
}

async fn pump(from: &mut DuplexStream, to: &mut DuplexStream, len: usize) {
    let data = vec![b'x'; len];
    let mut buf = vec![0u8; len];
    for chunk in data.chunks(16 << 10) {
        let (w, r) = tokio::join!(
            from.write_all(chunk),
            to.read_exact(&mut buf[..chunk.len()])
        );
        w.unwrap();
        r.unwrap();
    }
}

type Ours = WebSocket<DuplexStream>;

async fn ours(n: usize) -> Vec<(Ours, Ours)> {
    let mut all = Vec::with_capacity(n);
    for _ in 0..n {
        let (a, b) = tokio::io::duplex(PIPE);
        let (server, client) = tokio::join!(
            WebSocket::accept(a, Config::default()),
            WebSocket::connect(b, "ws://localhost/", Config::default())
        );
        let (mut server, mut client) = (server.unwrap(), client.unwrap());
        client.text("hello").await.unwrap();
        assert_eq!(
            server.recv().await.unwrap().unwrap(),
            Message::text("hello")
        );
        server.text("hello").await.unwrap();
        assert_eq!(
            client.recv().await.unwrap().unwrap(),
            Message::text("hello")
        );
        // Idle: both wait for the next message.
        assert!(server.recv().now_or_never().is_none());
        assert!(client.recv().now_or_never().is_none());
        all.push((server, client));
    }
    all
}

/// Like [`ours`], after a 1 MiB message each way: what a socket keeps of the
/// largest message it saw.
async fn ours_after_large(n: usize) -> Vec<(Ours, Ours)> {
    let mut all = Vec::with_capacity(n);
    let big = Message::binary(vec![1u8; 1 << 20]);
    for _ in 0..n {
        let (a, b) = tokio::io::duplex(PIPE);
        let (server, client) = tokio::join!(
            WebSocket::accept(a, Config::default()),
            WebSocket::connect(b, "ws://localhost/", Config::default())
        );
        let (mut server, mut client) = (server.unwrap(), client.unwrap());
        let (sent, received) = tokio::join!(client.send(big.clone()), server.recv());
        sent.unwrap();
        assert_eq!(received.unwrap().unwrap().len(), 1 << 20);
        let (sent, received) = tokio::join!(server.send(big.clone()), client.recv());
        sent.unwrap();
        assert_eq!(received.unwrap().unwrap().len(), 1 << 20);
        assert!(server.recv().now_or_never().is_none());
        assert!(client.recv().now_or_never().is_none());
        all.push((server, client));
    }
    all
}

type Tung = tokio_tungstenite::WebSocketStream<DuplexStream>;

async fn tungstenite(n: usize) -> Vec<(Tung, Tung)> {
    let mut all = Vec::with_capacity(n);
    for _ in 0..n {
        let (a, b) = tokio::io::duplex(PIPE);
        let (server, client) = tokio::join!(
            tokio_tungstenite::accept_async(a),
            tokio_tungstenite::client_async("ws://localhost/", b)
        );
        let (mut server, mut client) = (server.unwrap(), client.unwrap().0);
        client.send(TMessage::text("hello")).await.unwrap();
        assert_eq!(
            server.next().await.unwrap().unwrap(),
            TMessage::text("hello")
        );
        server.send(TMessage::text("hello")).await.unwrap();
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            TMessage::text("hello")
        );
        assert!(server.next().now_or_never().is_none());
        assert!(client.next().now_or_never().is_none());
        all.push((server, client));
    }
    all
}

fn report(name: &str, n: usize, bytes: usize, pipes: usize) {
    let sockets = 2 * n;
    let own = bytes.saturating_sub(pipes);
    println!(
        "{name:<28} {:>9.1} MiB for {sockets} sockets = {:>7.0} B/socket",
        own as f64 / (1 << 20) as f64,
        own as f64 / sockets as f64
    );
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("a number of connections"))
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let before = live();
        let held = pipes(n, 300).await;
        let idle_pipes = live() - before;
        drop(held);
        let before = live();
        let held = pipes(n / 10, 1 << 20).await;
        let busy_pipes = live() - before;
        drop(held);
        println!(
            "{n} idle connections (both ends), heap beyond the duplex pipes ({} B/pair):",
            idle_pipes / n
        );

        let before = live();
        let held = ours(n).await;
        report("websocket-protocol", n, live() - before, idle_pipes);
        drop(held);

        let before = live();
        let held = ours_after_large(n / 10).await;
        report(
            "  after a 1 MiB message",
            n / 10,
            live() - before,
            busy_pipes,
        );
        drop(held);

        let before = live();
        let held = tungstenite(n).await;
        report(
            "tokio-tungstenite (default)",
            n,
            live() - before,
            idle_pipes,
        );
        drop(held);
    });
}
