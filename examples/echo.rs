//! An echo server on hyper alone (no axum): every WebSocket on any path gets its
//! text and binary messages back.
//!
//! ```text
//! cargo run --release --example echo -- 127.0.0.1:9001
//! ```
//!
//! It speaks every protocol family (RFC 6455 and hybi-07/08, and the hixie-75/76
//! drafts, which it opts in to), over HTTP/1.1 and HTTP/2 with prior knowledge
//! (RFC 8441), and takes messages of up to 64 MiB.

use std::convert::Infallible;
use websocket_protocol::server::{serve_connection_with, RequestInfo, ServerSocket, WsLayer};
use websocket_protocol::Config;

const MAX_MESSAGE: usize = 64 << 20;

async fn echo(mut ws: ServerSocket, _request: RequestInfo) {
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

/// What a plain HTTP request gets.
async fn not_websocket(
    _request: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<String>, Infallible> {
    Ok(http::Response::builder()
        .status(http::StatusCode::UPGRADE_REQUIRED)
        .header("Sec-WebSocket-Version", "13")
        .body("this is a WebSocket echo server\n".to_owned())
        .expect("static response"))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let config = Config::default()
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE);
    let layer = WsLayer::new(echo).allow_drafts(true).config(config.clone());
    let service = tower::Layer::layer(&layer, tower::service_fn(not_websocket));

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        let (service, config) = (service.clone(), config.clone());
        // Title-case header names for the drafts, extended CONNECT for HTTP/2,
        // TCP_NODELAY, and the config's handshake timeout on the request head.
        tokio::spawn(async move { serve_connection_with(tcp, service, &config).await });
    }
}
