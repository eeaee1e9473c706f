//! "Send a text, then a ping" round trips through an axum app, served three
//! ways: plain `axum::serve`, `axum::serve` with TCP_NODELAY set through
//! `tap_io` (the line the server docs give), and
//! `websocket_protocol::server::serve_connection`, which sets it itself.
//!
//! ```text
//! cargo run --release --example nagle_rtt [-- ROUNDS]
//! ```
//!
//! Each round sends a small text and a ping from tokio-tungstenite (with
//! TCP_NODELAY on its side, so only the server's setting differs) and waits for
//! the echo and the pong. Written apart, without TCP_NODELAY, the pong would
//! wait for the client's delayed acknowledgement of the echo, tens of
//! milliseconds on Linux (the maximum was about 44 ms before the socket wrote
//! the replies to one read together); now all three rows stay under a
//! millisecond. It prints the median and the maximum round trip per row.

use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use futures::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use websocket_protocol::server::{serve_connection, ServerSocket, WsUpgrade};

async fn echo(mut ws: ServerSocket) {
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

fn app() -> Router {
    Router::new().route("/", get(|ws: WsUpgrade| async move { ws.on_upgrade(echo) }))
}

#[derive(Clone, Copy)]
/// How the app is served.
enum Server {
    /// `axum::serve(listener, app)`, as most axum apps do.
    Axum,
    /// `axum::serve` with TCP_NODELAY set through `tap_io`.
    AxumNodelay,
    /// An accept loop on `server::serve_connection`.
    Connection,
}

async fn start(how: Server) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    match how {
        Server::Axum => {
            tokio::spawn(async move { axum::serve(listener, app()).await });
        }
        Server::AxumNodelay => {
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            tokio::spawn(async move { axum::serve(listener, app()).await });
        }
        Server::Connection => {
            tokio::spawn(async move {
                loop {
                    let (tcp, _) = listener.accept().await.unwrap();
                    tokio::spawn(serve_connection(tcp, app()));
                }
            });
        }
    }
    addr
}

/// The round trips of `rounds` rounds of "text, then ping".
async fn measure(addr: SocketAddr, rounds: usize) -> Vec<Duration> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp)
        .await
        .unwrap();
    let mut rtts = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        ws.send(Message::text("hello")).await.unwrap();
        ws.send(Message::Ping(b"p"[..].into())).await.unwrap();
        let (mut echoed, mut ponged) = (false, false);
        while !(echoed && ponged) {
            match ws.next().await.unwrap().unwrap() {
                Message::Text(_) => echoed = true,
                Message::Pong(_) => ponged = true,
                _ => {}
            }
        }
        rtts.push(start.elapsed());
        // Let the peer's delayed-ACK timer settle between rounds, as a chatty
        // app's messages would be spaced.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    rtts
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(30, |n| n.parse().expect("ROUNDS is a number"));
    println!("{rounds} rounds of text + ping, round trip per round:");
    println!("{:<42} {:>10} {:>10}", "server", "median", "max");
    for (name, how) in [
        ("axum::serve", Server::Axum),
        ("axum::serve + tap_io(set_nodelay)", Server::AxumNodelay),
        ("server::serve_connection", Server::Connection),
    ] {
        let addr = start(how).await;
        let mut rtts = measure(addr, rounds).await;
        rtts.sort();
        let ms = |d: Duration| format!("{:.3} ms", d.as_secs_f64() * 1e3);
        println!(
            "{name:<42} {:>10} {:>10}",
            ms(rtts[rtts.len() / 2]),
            ms(*rtts.last().unwrap())
        );
    }
}
