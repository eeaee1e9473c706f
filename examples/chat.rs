//! A browser chat room on axum: the page at `/`, its WebSocket at `/ws`, every
//! message broadcast to everyone connected.
//!
//! ```text
//! cargo run --example chat              # http://127.0.0.1:3000/
//! cargo run --example chat -- 0.0.0.0:8080
//! ```
//!
//! Ctrl-C closes every socket with 1001 (going away) before the server stops.

use axum::extract::State;
use axum::response::{Html, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use websocket_protocol::server::{ServerSocket, Shutdown, WsUpgrade};
use websocket_protocol::Message;

/// Longest chat line accepted, in bytes.
const MAX_LINE: usize = 4 << 10;

#[derive(Clone)]
struct Room {
    messages: broadcast::Sender<String>,
    guests: Arc<AtomicUsize>,
    shutdown: Shutdown,
}

async fn page() -> Html<&'static str> {
    Html(include_str!("chat.html"))
}

async fn join(State(room): State<Room>, ws: WsUpgrade) -> Response {
    ws.shutdown(&room.shutdown)
        .on_upgrade(move |socket| chat(socket, room))
}

async fn chat(socket: ServerSocket, room: Room) {
    let name = format!("guest-{}", room.guests.fetch_add(1, Ordering::Relaxed) + 1);
    let (mut sender, mut receiver) = socket.split();
    let mut inbox = room.messages.subscribe();
    let _ = room.messages.send(format!("{name} joined"));

    // Everything said in the room goes out to this guest...
    let forward = tokio::spawn(async move {
        loop {
            match inbox.recv().await {
                Ok(line) => {
                    if sender.text(line).await.is_err() {
                        break;
                    }
                }
                // A guest too slow to keep up misses lines rather than stalling
                // the room.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    // ...and what this guest says goes to the room.
    while let Some(Ok(message)) = receiver.recv().await {
        if let Message::Text(text) = message {
            let line = text.as_str().trim();
            if !line.is_empty() && line.len() <= MAX_LINE {
                let _ = room.messages.send(format!("{name}: {line}"));
            }
        }
    }
    forward.abort();
    let _ = room.messages.send(format!("{name} left"));
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let room = Room {
        messages: broadcast::channel(256).0,
        guests: Arc::default(),
        shutdown: Shutdown::new(),
    };
    let shutdown = room.shutdown.clone();
    let app = Router::new()
        .route("/", get(page))
        .route("/ws", get(join))
        .with_state(room);

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("chat on http://{}/", listener.local_addr()?);
    // Small chat messages and pings must not wait for Nagle's algorithm.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown.triggered());
    let server = tokio::spawn(async move { server.await });
    tokio::signal::ctrl_c().await?;
    let outcome = shutdown.close_all(Duration::from_secs(5)).await;
    println!(
        "closed {} sockets ({} aborted)",
        outcome.closed, outcome.aborted
    );
    server.await??;
    Ok(())
}
