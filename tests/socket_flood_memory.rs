//! Bounded reading: 16 peers flood an echo server with 64 KiB binary messages
//! and never read the echoes. The server's `send` waits for room, so the
//! messages pile up somewhere: in TCP's buffers (the kernel's, pushing back on
//! the peers), not in the server's heap. Heap is counted by the allocator below,
//! through the raw socket and through the server (`WsLayer` on hyper).
//!
//! One test in this binary: the counting allocator sees every allocation in the
//! process, so nothing else may run beside it.

mod server_util;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use websocket_protocol::server::{RequestInfo, ServerSocket, WsLayer};
use websocket_protocol::{Config, WebSocket};

mod alloc_support;
use alloc_support::{Counting, LIVE, PEAK};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const PEERS: usize = 16;
const SIZE: usize = 64 << 10;
/// Per peer: 16 MiB, 256 MiB in all. Loopback TCP takes a few MiB per
/// connection and direction before it pushes back (the server's send buffer
/// grows to 4 MiB), so this is enough to stall the server's echoes and make it
/// choose between holding what it reads and not reading.
const MESSAGES: usize = 256;
const BOUND: usize = 8 << 20;

const REQUEST: &[u8] =
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// What the echo handlers have seen, for knowing when the flood has settled.
#[derive(Default)]
struct Counters {
    started: AtomicUsize,
    received: AtomicUsize,
    ended: AtomicUsize,
}

/// A masked binary frame of `SIZE` bytes, built once and written by every peer.
fn flood_frame() -> bytes::Bytes {
    let mask = [1u8, 2, 3, 4];
    let mut out = vec![0x82, 0x80 | 127];
    out.extend_from_slice(&(SIZE as u64).to_be_bytes());
    out.extend_from_slice(&mask);
    out.extend((0..SIZE).map(|i| (i as u8) ^ mask[i % 4]));
    out.into()
}

/// The flood against `addr`: returns the heap the process grew by at its peak,
/// and how many messages the peers got written.
async fn flood(addr: SocketAddr, counters: &Counters) -> (usize, usize) {
    let mut peers = Vec::new();
    for _ in 0..PEERS {
        let mut tcp = server_util::send(addr, REQUEST).await;
        assert!(server_util::read_head(&mut tcp)
            .await
            .starts_with(b"HTTP/1.1 101 "));
        peers.push(tcp);
    }
    while counters.started.load(Ordering::SeqCst) < PEERS {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let frame = flood_frame();
    let written = Arc::new(AtomicUsize::new(0));
    let baseline = LIVE.load(Ordering::SeqCst);
    PEAK.store(baseline, Ordering::SeqCst);
    let tasks: Vec<_> = peers
        .into_iter()
        .map(|mut tcp| {
            let (frame, written) = (frame.clone(), written.clone());
            tokio::spawn(async move {
                for _ in 0..MESSAGES {
                    if tcp.write_all(&frame).await.is_err() {
                        break;
                    }
                    written.fetch_add(1, Ordering::SeqCst);
                }
                // Never read: hold the connection open until aborted.
                std::future::pending::<()>().await;
                drop(tcp);
            })
        })
        .collect();
    // Settled: all written, or nothing moving on either side for a while (the
    // peers are held back by TCP). The bound holds at every instant either way;
    // waiting only gives an unbounded server the time to show itself.
    let mut last = (usize::MAX, usize::MAX);
    let mut quiet = 0;
    while quiet < 10 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = (
            written.load(Ordering::SeqCst),
            counters.received.load(Ordering::SeqCst),
        );
        quiet = if now == last { quiet + 1 } else { 0 };
        last = now;
    }
    let peak = PEAK.load(Ordering::SeqCst).saturating_sub(baseline);
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
    while counters.ended.load(Ordering::SeqCst) < PEERS {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (peak, written.load(Ordering::SeqCst))
}

/// Echoes every message with `send`, which waits while the peer does not read.
async fn echo_loop<S>(ws: &mut S, counters: &Counters)
where
    S: futures::Stream<Item = Result<websocket_protocol::Message, websocket_protocol::Error>>
        + futures::Sink<websocket_protocol::Message>
        + Unpin,
{
    use futures::{SinkExt, StreamExt};
    counters.started.fetch_add(1, Ordering::SeqCst);
    while let Some(Ok(message)) = ws.next().await {
        counters.received.fetch_add(1, Ordering::SeqCst);
        if ws.send(message).await.is_err() {
            break;
        }
    }
    counters.ended.fetch_add(1, Ordering::SeqCst);
}

#[tokio::test]
async fn sixteen_peers_that_never_read_hold_at_most_8_mib_of_heap() {
    // The raw socket.
    let counters: &'static Counters = Box::leak(Box::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut ws = WebSocket::accept(tcp, Config::default()).await.unwrap();
                echo_loop(&mut ws, counters).await;
            });
        }
    });
    let (raw, written) = flood(addr, counters).await;
    eprintln!(
        "raw socket: heap peak +{} KiB, {written} of {} messages written",
        raw >> 10,
        PEERS * MESSAGES
    );

    // The server layer.
    let counters: &'static Counters = Box::leak(Box::default());
    let layer = WsLayer::new(move |mut ws: ServerSocket, _req: RequestInfo| async move {
        echo_loop(&mut ws, counters).await;
    });
    let addr = server_util::serve(tower::Layer::layer(&layer, server_util::fallback())).await;
    let (peak, written) = flood(addr, counters).await;
    eprintln!(
        "WsLayer: heap peak +{} KiB, {written} of {} messages written",
        peak >> 10,
        PEERS * MESSAGES
    );
    assert!(raw <= BOUND, "raw socket: heap grew by {raw} bytes");
    assert!(peak <= BOUND, "WsLayer: heap grew by {peak} bytes");
}
