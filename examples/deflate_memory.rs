//! Server memory per connection with permessage-deflate negotiated: ours (with
//! deflate off, and with the server's default settings) against Python
//! `websockets` with its default deflate settings.
//!
//! Each server runs in a process of its own; this process opens `N`
//! connections to it (default 1,000), offering deflate as browsers do
//! (`permessage-deflate; client_max_window_bits`), then sends one 0.5 KiB chat
//! line on each and waits for its echo. It reports the server's resident memory
//! (VmRSS) per connection after the handshakes and after the messages, above
//! what it was with one connection open, and for ours also the heap, counted by
//! its allocator.
//!
//! ```sh
//! cargo run --release --example deflate_memory -- 1000
//! ```

#[path = "../benches/support/servers.rs"]
mod servers;

use std::sync::atomic::Ordering;

#[path = "../tests/alloc_support/mod.rs"]
mod alloc_support;
use alloc_support::{Counting, LIVE};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Lets the servers finish what the last message started before measuring.
async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
}

fn main() {
    if servers::serve_if_asked(|| Some(LIVE.load(Ordering::Relaxed))) {
        return;
    }
    let n: usize = std::env::args()
        .nth(1)
        .map_or(1000, |a| a.parse().expect("a connection count"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut all = vec![
        servers::Server::ours("off"),
        servers::Server::ours("default"),
    ];
    if std::process::Command::new("python3")
        .args(["-c", "import websockets"])
        .status()
        .is_ok_and(|s| s.success())
    {
        all.push(servers::Server::python());
    } else {
        println!("(python3 with websockets is missing: Python's row is skipped)");
    }
    println!("server memory per connection, {n} connections offering permessage-deflate:");
    println!("| server | RSS after the handshake | RSS after one 0.5 KiB message each | heap after the handshake | heap after one message |");
    println!("|---|---|---|---|---|");
    for mut server in all {
        let url = server.url();
        let row = rt.block_on(async {
            // One connection first, so the process's fixed costs (and our shared
            // per-thread compressor) are in the baseline.
            let mut first = servers::client(&url).await;
            servers::echo(&mut first, servers::chat_line(0)).await;
            settle().await;
            let (rss0, heap0) = (server.rss(), server.heap());
            let mut clients = Vec::with_capacity(n);
            for _ in 0..n {
                clients.push(servers::client(&url).await);
            }
            settle().await;
            let (rss1, heap1) = (server.rss(), server.heap());
            for (i, ws) in clients.iter_mut().enumerate() {
                servers::echo(ws, servers::chat_line(i as u32 + 1)).await;
            }
            settle().await;
            let (rss2, heap2) = (server.rss(), server.heap());
            let per = |a: usize, b: usize| {
                format!(
                    "{:.1} KiB",
                    (b.saturating_sub(a)) as f64 / n as f64 / 1024.0
                )
            };
            let heap = |a: Option<usize>, b: Option<usize>| match (a, b) {
                (Some(a), Some(b)) => per(a, b),
                _ => "-".to_owned(),
            };
            drop(clients);
            format!(
                "| {} | {} | {} | {} | {} |",
                server.name,
                per(rss0, rss1),
                per(rss0, rss2),
                heap(heap0, heap1),
                heap(heap0, heap2)
            )
        });
        println!("{row}");
    }
}
