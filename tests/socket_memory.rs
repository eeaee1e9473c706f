//! Heap held by a socket: buffers are released once the connection is quiet,
//! whatever the size of the last message. One test per binary: the counting
//! allocator sees every allocation in the process.

use futures::{FutureExt, StreamExt};
use std::sync::atomic::Ordering;
use websocket_protocol::{Config, Message, WebSocket};

mod alloc_support;
use alloc_support::{Counting, LIVE};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn buffers_shrink_back_after_large_messages_in_both_roles() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (a, b) = tokio::io::duplex(8 << 10);
        let (server, client) = tokio::join!(
            WebSocket::accept(a, Config::default()),
            WebSocket::connect(b, "ws://localhost/", Config::default())
        );
        let (mut server, mut client) = (server.unwrap(), client.unwrap());
        let idle = LIVE.load(Ordering::Relaxed);
        for len in [4 << 20, 100_000, 16 << 10] {
            let (sent, received) =
                tokio::join!(client.send(Message::binary(vec![1u8; len])), server.next());
            sent.unwrap();
            assert_eq!(received.unwrap().unwrap().len(), len);
            let (sent, received) = tokio::join!(
                server.send(Message::text("é".repeat(len / 2))),
                client.next()
            );
            sent.unwrap();
            assert_eq!(received.unwrap().unwrap().len(), len);
            // Quiet again: both wait for the next message.
            assert!(server.next().now_or_never().is_none());
            assert!(client.next().now_or_never().is_none());
            let held = LIVE.load(Ordering::Relaxed).saturating_sub(idle);
            // The in-memory pipe keeps up to 8 KiB per direction of its own.
            assert!(
                held < 32 << 10,
                "{held} bytes still held after {len}-byte messages"
            );
        }
    });
}
