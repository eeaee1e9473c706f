//! The socket reads a frame's payload into the driver's memory without zeroing
//! it first, trusting `ReadBuf` for what the read initialized. A transport whose
//! read puts a `ReadBuf` of its own in place of ours (safe code can) has filled
//! other memory: the connection fails with an I/O error, and what it read is
//! not taken as ours.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use websocket_protocol::{Config, ErrorKind, WebSocket};

const REQUEST: &[u8] =
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Hands out `reads` one per call; the last one is written into a buffer of its
/// own, swapped in for the caller's.
struct Swapping {
    reads: VecDeque<Vec<u8>>,
}

impl AsyncRead for Swapping {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let Some(read) = self.reads.pop_front() else {
            return Poll::Pending;
        };
        if self.reads.is_empty() {
            let own: &'static mut [u8] = Box::leak(vec![0u8; read.len()].into_boxed_slice());
            *buf = ReadBuf::new(own);
        }
        buf.put_slice(&read);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Swapping {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(b.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_read_that_swaps_the_buffer_fails_the_connection() {
    // A 64 KiB binary frame (masked with a zero key): its header and the first
    // bytes in one read, so the driver holds the frame's buffer and the next read
    // goes in place into it; that one swaps.
    let len = 64 << 10;
    let mut first = vec![0x82, 0xFF];
    first.extend_from_slice(&(len as u64).to_be_bytes());
    first.extend_from_slice(&[0, 0, 0, 0]);
    first.extend_from_slice(&[7; 100]);
    let io = Swapping {
        reads: VecDeque::from([REQUEST.to_vec(), first, vec![7; len - 100]]),
    };
    let mut ws = WebSocket::accept(io, Config::default()).await.unwrap();
    let error = ws
        .recv()
        .await
        .expect("an error")
        .expect_err("not a message");
    assert_eq!(error.kind(), ErrorKind::Io, "{error}");
    assert!(
        format!("{error:?}").contains("replaced its buffer"),
        "{error:?}"
    );
    assert!(ws.recv().await.is_none());
}
