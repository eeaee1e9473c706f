//! Heap held by a socket: buffers are released once the connection is quiet,
//! whatever the size of the last message. One test per binary: the counting
//! allocator sees every allocation in the process.

use futures::{FutureExt, StreamExt};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use websocket_protocol::{Config, Message, WebSocket};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counter
// is bookkeeping only.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

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
