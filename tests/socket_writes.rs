//! Writes are coalesced: what the driver queues in answer to the frames of one
//! read leaves in one write and one flush, and messages fed together leave
//! together. Counted on a transport that records each call.

use futures::SinkExt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use websocket_protocol::{Config, Message, WebSocket};

#[derive(Default)]
struct Counts {
    writes: AtomicUsize,
    flushes: AtomicUsize,
}

/// A pipe end that counts the writes and flushes that went through.
struct Counted {
    io: DuplexStream,
    counts: Arc<Counts>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        if poll.is_ready() {
            self.counts.writes.fetch_add(1, Ordering::SeqCst);
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if poll.is_ready() {
            self.counts.writes.fetch_add(1, Ordering::SeqCst);
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_flush(cx);
        if poll.is_ready() {
            self.counts.flushes.fetch_add(1, Ordering::SeqCst);
        }
        poll
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

const REQUEST: &[u8] =
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

fn masked(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [9u8, 8, 7, 6];
    let mut out = vec![b0, 0x80 | payload.len() as u8];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// Our server over a counted pipe, past its handshake, and the raw peer.
async fn server() -> (WebSocket<Counted>, DuplexStream, Arc<Counts>) {
    let (ours, mut peer) = tokio::io::duplex(64 << 10);
    let counts = Arc::new(Counts::default());
    let io = Counted {
        io: ours,
        counts: counts.clone(),
    };
    peer.write_all(REQUEST).await.unwrap();
    let ws = WebSocket::accept(io, Config::default()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(peer.read_u8().await.unwrap());
    }
    counts.writes.store(0, Ordering::SeqCst);
    counts.flushes.store(0, Ordering::SeqCst);
    (ws, peer, counts)
}

#[tokio::test]
async fn the_answers_to_one_read_leave_in_one_write() {
    let (mut ws, mut peer, counts) = server().await;
    // Two pings and a close in one write: one pong (for the latest ping, as RFC
    // 6455 5.5.3 allows) and the close echo answer them.
    let mut wire = masked(0x89, b"a");
    wire.extend(masked(0x89, b"b"));
    wire.extend(masked(0x88, &1000u16.to_be_bytes()));
    peer.write_all(&wire).await.unwrap();
    assert!(ws.recv().await.is_none());
    let mut out = Vec::new();
    peer.read_to_end(&mut out).await.unwrap();
    assert_eq!(out, [&b"\x8a\x01b"[..], b"\x88\x02\x03\xe8"].concat());
    assert_eq!(counts.writes.load(Ordering::SeqCst), 1, "writes");
    assert_eq!(counts.flushes.load(Ordering::SeqCst), 1, "flushes");
}

#[tokio::test]
async fn messages_fed_together_leave_together() {
    let (mut ws, mut peer, counts) = server().await;
    let mut batch = futures::stream::iter((0..10).map(|i| Ok(Message::text(format!("m{i}")))));
    ws.send_all(&mut batch).await.unwrap();
    let mut out = vec![0u8; 10 * 4];
    peer.read_exact(&mut out).await.unwrap();
    let expected: Vec<u8> = (0..10)
        .flat_map(|i| [&[0x81, 2][..], format!("m{i}").as_bytes()].concat())
        .collect();
    assert_eq!(out, expected);
    // `send_all` feeds each message and flushes once at the end.
    assert_eq!(counts.writes.load(Ordering::SeqCst), 1, "writes");
    assert_eq!(counts.flushes.load(Ordering::SeqCst), 1, "flushes");
}
