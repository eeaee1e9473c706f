//! Shared by the `socket_*` tests: TCP pairs on 127.0.0.1 with tokio-tungstenite
//! as the peer, in either role.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;
use websocket_protocol::{Config, WebSocket};

pub use futures::{SinkExt, StreamExt};
pub use tokio_tungstenite::tungstenite;
pub use tungstenite::Message as TMessage;

pub type Ours = WebSocket<TcpStream>;
pub type Tung = WebSocketStream<TcpStream>;

/// Which end our socket plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Server,
    Client,
}

pub const BOTH: [Side; 2] = [Side::Server, Side::Client];

/// Fails the test instead of hanging it.
pub async fn within<F: Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("timed out")
}

pub async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (client, server) = (client.unwrap(), server.unwrap().0);
    // As any latency-sensitive WebSocket user should: without it, Nagle's
    // algorithm holds a small write back until the previous one is acknowledged.
    client.set_nodelay(true).unwrap();
    server.set_nodelay(true).unwrap();
    (client, server)
}

fn tung_config() -> WebSocketConfig {
    WebSocketConfig::default()
}

/// Our socket on `side`, tokio-tungstenite on the other.
pub async fn pair(side: Side, config: Config) -> (Ours, Tung) {
    let (client, server) = tcp_pair().await;
    match side {
        Side::Server => {
            let (ours, tung) = tokio::join!(
                WebSocket::accept(server, config),
                tokio_tungstenite::client_async_with_config(
                    "ws://127.0.0.1/",
                    client,
                    Some(tung_config())
                )
            );
            (ours.unwrap(), tung.unwrap().0)
        }
        Side::Client => {
            let (ours, tung) = tokio::join!(
                WebSocket::connect(client, "ws://127.0.0.1/", config),
                tokio_tungstenite::accept_async_with_config(server, Some(tung_config()))
            );
            (ours.unwrap(), tung.unwrap())
        }
    }
}

/// Deterministic payload of `len` bytes.
pub fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// ASCII text of `len` bytes.
pub fn text(len: usize) -> String {
    (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect()
}
