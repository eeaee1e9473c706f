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

/// A masked binary frame from the peer and our unmasked echo of it.
fn binary_pair(i: u8) -> (Vec<u8>, Vec<u8>) {
    let payload = [i; 16];
    (masked(0x82, &payload), [&[0x82, 16][..], &payload].concat())
}

fn writes(counts: &Counts) -> usize {
    counts.writes.load(Ordering::SeqCst)
}

#[tokio::test]
async fn the_echoes_of_pipelined_messages_leave_in_one_write() {
    let (mut ws, mut peer, counts) = server().await;
    let (wire, expected): (Vec<_>, Vec<_>) = (0..16).map(binary_pair).unzip();
    peer.write_all(&wire.concat()).await.unwrap();
    for _ in 0..16 {
        let message = ws.recv().await.unwrap().unwrap();
        ws.send(message).await.unwrap();
    }
    let mut out = vec![0u8; 16 * 18];
    peer.read_exact(&mut out).await.unwrap();
    assert_eq!(out, expected.concat());
    // The last `send` found no next message: it wrote all 16 echoes.
    assert_eq!(writes(&counts), 1, "writes");
}

#[tokio::test]
async fn a_lone_message_is_written_by_its_send() {
    let (mut ws, mut peer, counts) = server().await;
    let (wire, expected) = binary_pair(1);
    peer.write_all(&wire).await.unwrap();
    let message = ws.recv().await.unwrap().unwrap();
    ws.send(message).await.unwrap();
    assert_eq!(writes(&counts), 1, "writes");
    let mut out = vec![0u8; expected.len()];
    peer.read_exact(&mut out).await.unwrap();
    assert_eq!(out, expected);
}

/// Our server after two pipelined messages came in one read: the first was
/// taken and echoed, the second waits. Returns the first's echo bytes.
async fn replied_with_one_waiting() -> (WebSocket<Counted>, DuplexStream, Arc<Counts>, Vec<u8>) {
    let (mut ws, mut peer, counts) = server().await;
    let (a, a_echo) = binary_pair(1);
    let (b, _) = binary_pair(2);
    peer.write_all(&[a, b].concat()).await.unwrap();
    let first = ws.recv().await.unwrap().unwrap();
    ws.send(first).await.unwrap();
    (ws, peer, counts, a_echo)
}

#[tokio::test]
async fn a_reply_waits_for_the_next_message_only_until_the_reader_waits() {
    let (mut ws, mut peer, counts, a_echo) = replied_with_one_waiting().await;
    // The next message is here: the reply waits for it.
    assert_eq!(writes(&counts), 0, "writes after the first send");
    let second = ws.recv().await.unwrap().unwrap();
    assert_eq!(second, Message::binary(vec![2u8; 16]));
    assert_eq!(writes(&counts), 0, "writes after the second recv");
    // Not answered: the reader that finds nothing more writes the reply
    // before it waits for input.
    use futures::FutureExt;
    assert!(ws.recv().now_or_never().is_none(), "nothing more to read");
    assert_eq!(writes(&counts), 1, "writes once the reader waits");
    let mut out = vec![0u8; a_echo.len()];
    peer.read_exact(&mut out).await.unwrap();
    assert_eq!(out, a_echo);
}

#[tokio::test]
async fn flush_writes_a_deferred_reply() {
    let (mut ws, mut peer, counts, a_echo) = replied_with_one_waiting().await;
    assert_eq!(writes(&counts), 0, "writes after send");
    ws.flush().await.unwrap();
    assert_eq!(writes(&counts), 1, "writes after flush");
    let mut out = vec![0u8; a_echo.len()];
    peer.read_exact(&mut out).await.unwrap();
    assert_eq!(out, a_echo);
}

#[tokio::test]
async fn a_deferred_reply_is_written_when_the_socket_is_dropped() {
    let (ws, mut peer, _counts, a_echo) = replied_with_one_waiting().await;
    drop(ws);
    let mut out = Vec::new();
    peer.read_to_end(&mut out).await.unwrap();
    // The reply, then the close frame (1001) of the drop.
    assert_eq!(out, [&a_echo[..], b"\x88\x02\x03\xe9"].concat());
}

#[tokio::test]
async fn a_split_sender_writes_at_once() {
    let (ws, mut peer, counts) = server().await;
    let (a, a_echo) = binary_pair(1);
    let (b, _) = binary_pair(2);
    let (c, _) = binary_pair(3);
    peer.write_all(&[a, b, c].concat()).await.unwrap();
    let (mut tx, mut rx) = ws.split();
    let first = rx.recv().await.unwrap().unwrap();
    // The receiver may be in another task, at its own pace: no deferral.
    tx.send(first).await.unwrap();
    assert_eq!(writes(&counts), 1, "writes");
    let mut out = vec![0u8; a_echo.len()];
    peer.read_exact(&mut out).await.unwrap();
    assert_eq!(out, a_echo);
    // Put back together, the socket defers again.
    let mut ws = tx.reunite(rx).unwrap();
    let second = ws.recv().await.unwrap().unwrap();
    ws.send(second).await.unwrap();
    assert_eq!(writes(&counts), 1, "writes after the reunited send");
}

#[tokio::test]
async fn only_the_first_send_after_a_recv_waits() {
    let (mut ws, mut peer, counts, a_echo) = replied_with_one_waiting().await;
    assert_eq!(writes(&counts), 0, "writes after the reply");
    // A socket that sends without reading (the second message stays unread)
    // writes: a second send without a recv between does not wait.
    ws.send(Message::binary(vec![1u8; 16])).await.unwrap();
    assert_eq!(writes(&counts), 1, "writes after the second send");
    let mut out = vec![0u8; 2 * a_echo.len()];
    peer.read_exact(&mut out).await.unwrap();
    assert_eq!(out, [&a_echo[..], &a_echo[..]].concat());
}

#[tokio::test]
async fn a_send_that_follows_no_recv_is_written() {
    // The client's opening leaves an event queued that no `recv` took yet.
    let (ours, mut peer) = tokio::io::duplex(64 << 10);
    let counts = Arc::new(Counts::default());
    let io = Counted {
        io: ours,
        counts: counts.clone(),
    };
    let connect = WebSocket::connect(io, "ws://x/", Config::default());
    let answer = async {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(peer.read_u8().await.unwrap());
        }
        let head = String::from_utf8(head).unwrap();
        let key = head
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap()
            .to_owned();
        let accept = websocket_protocol::protocol::accept_key(key.trim().as_bytes());
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        // A message right behind the response: it arrives with it.
        let mut wire = response.into_bytes();
        wire.extend_from_slice(&[0x82, 1, 7]);
        peer.write_all(&wire).await.unwrap();
    };
    let (ws, ()) = tokio::join!(connect, answer);
    let mut ws = ws.unwrap();
    counts.writes.store(0, Ordering::SeqCst);
    ws.send(Message::binary(vec![1u8])).await.unwrap();
    assert_eq!(writes(&counts), 1, "writes");
}
