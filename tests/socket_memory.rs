//! Heap held by a socket: buffers are released once the connection is quiet
//! (a read buffer that held a large message, a second later), whatever the
//! size of the last message. One test per binary: the counting
//! allocator sees every allocation in the process.

use futures::{FutureExt, StreamExt};
use std::sync::atomic::Ordering;
use std::time::Duration;
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
            if len > 64 << 10 {
                // A read buffer that held a large message is kept for the next
                // one, for a second of quiet...
                assert!(
                    held >= len,
                    "only {held} bytes held after {len}-byte messages"
                );
                // The check goes first when the task wakes: if only its own
                // sleep woke it, it sees what the sockets held before this poll.
                let later = async {
                    tokio::time::sleep(Duration::from_millis(1100)).await;
                    LIVE.load(Ordering::Relaxed).saturating_sub(idle)
                };
                let held = tokio::select! {
                    biased;
                    held = later => held,
                    _ = server.next() => panic!("no message was sent"),
                    _ = client.next() => panic!("no message was sent"),
                };
                // ...and then given back: the sockets' own timer woke them for it.
                assert!(
                    held < 32 << 10,
                    "{held} bytes held a second after {len}-byte messages"
                );
            }
            let held = LIVE.load(Ordering::Relaxed).saturating_sub(idle);
            // The in-memory pipe keeps up to 8 KiB per direction of its own.
            assert!(
                held < 32 << 10,
                "{held} bytes still held after {len}-byte messages"
            );
        }
    });
}
