//! A browser chat room on axum: the page at `/`, its WebSocket at `/ws`, every
//! line published through a [`Hub`] to everyone in the room.
//!
//! ```text
//! cargo run --example chat              # http://127.0.0.1:3000/
//! cargo run --example chat -- 0.0.0.0:8080
//! # one room over two processes, joined through Redis:
//! cargo run --example chat -- 127.0.0.1:3001 --redis redis://127.0.0.1:6379
//! cargo run --example chat -- 127.0.0.1:3002 --redis redis://127.0.0.1:6379
//! ```
//!
//! Each line is framed once for the whole room, whatever its size; a guest too
//! slow to keep up misses lines (the hub's default policy) rather than stall
//! the room. Ctrl-C closes every socket with 1001 (going away) before the
//! server stops.

use axum::extract::State;
use axum::response::{Html, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use websocket_protocol::hub::{Hub, RedisConfig};
use websocket_protocol::server::{ServerSocket, Shutdown, WsUpgrade};
use websocket_protocol::Message;

/// Longest chat line accepted, in bytes.
const MAX_LINE: usize = 4 << 10;

/// The hub topic of the one room.
const ROOM: &str = "room";

#[derive(Clone)]
struct Room {
    hub: Hub,
    /// Names guests per process; with Redis, the port tells processes apart.
    guests: Arc<AtomicUsize>,
    tag: Arc<str>,
    shutdown: Shutdown,
}

async fn page() -> Html<&'static str> {
    Html(include_str!("chat.html"))
}

async fn join(State(room): State<Room>, ws: WsUpgrade) -> Response {
    ws.shutdown(&room.shutdown)
        .on_upgrade(move |socket| chat(socket, room))
}

async fn chat(mut socket: ServerSocket, room: Room) {
    let n = room.guests.fetch_add(1, Ordering::Relaxed) + 1;
    let name = format!("guest-{}{n}", room.tag);
    room.hub.subscribe(ROOM, &socket);
    room.hub.publish(ROOM, format!("{name} joined"));
    // Reading the socket is also what writes the room's lines to it.
    while let Some(Ok(message)) = socket.recv().await {
        if let Message::Text(text) = message {
            let line = text.as_str().trim();
            if !line.is_empty() && line.len() <= MAX_LINE {
                room.hub.publish(ROOM, format!("{name}: {line}"));
            }
        }
    }
    // The subscription ends with the socket.
    room.hub.publish(ROOM, format!("{name} left"));
}

struct Args {
    addr: String,
    redis: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut addr = None;
    let mut redis = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--redis" => redis = Some(it.next().ok_or("--redis needs a URL")?),
            a if a.starts_with("--") => return Err(format!("unknown option {a}")),
            a if addr.is_none() => addr = Some(a.to_owned()),
            a => return Err(format!("unexpected argument {a}")),
        }
    }
    Ok(Args {
        addr: addr.unwrap_or_else(|| "127.0.0.1:3000".to_owned()),
        redis,
    })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = args().unwrap_or_else(|e| {
        eprintln!("{e}\nusage: chat [ADDR] [--redis redis://HOST:PORT]");
        std::process::exit(2)
    });
    let listener = tokio::net::TcpListener::bind(&args.addr).await?;
    let local = listener.local_addr()?;
    let (hub, tag) = match &args.redis {
        None => (Hub::new(), String::new()),
        Some(url) => {
            let config = RedisConfig::new(url)
                .unwrap_or_else(|e| {
                    eprintln!("--redis {url}: {e}");
                    std::process::exit(2)
                })
                .prefix("chat");
            let hub = Hub::builder().redis(config).build();
            (hub, format!("{}-", local.port()))
        }
    };
    let room = Room {
        hub,
        guests: Arc::default(),
        tag: tag.into(),
        shutdown: Shutdown::new(),
    };
    let shutdown = room.shutdown.clone();
    let app = Router::new()
        .route("/", get(page))
        .route("/ws", get(join))
        .with_state(room);

    println!("chat on http://{local}/");
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
