//! TCP_NODELAY on the server's end of a WebSocket, checked on the socket
//! itself (no timing): `serve_connection` sets it for the layer and the
//! extractor, and `axum::serve` gets it with the one line the server docs give.
#![cfg(unix)]

mod server_util;

use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use futures::{SinkExt, StreamExt};
use std::mem::ManuallyDrop;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as TMessage;
use websocket_protocol::server::{serve_connection, RequestInfo, ServerSocket, WsLayer, WsUpgrade};

async fn echo(mut ws: ServerSocket) {
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

fn app() -> Router {
    Router::new()
        .route(
            "/extract",
            get(|ws: WsUpgrade| async move { ws.on_upgrade(echo) }),
        )
        .layer(WsLayer::new(|ws: ServerSocket, _req: RequestInfo| echo(ws)))
}

/// Whether the socket behind `fd` has TCP_NODELAY set.
fn nodelay(fd: RawFd) -> bool {
    // SAFETY: `fd` is the server's open socket, alive while the client is
    // connected (the handler echoes until the client closes); ManuallyDrop keeps
    // this view from closing it.
    let tcp = ManuallyDrop::new(unsafe { std::net::TcpStream::from_raw_fd(fd) });
    tcp.nodelay().unwrap()
}

/// Opens a WebSocket to `path` through tokio-tungstenite, exchanges one message
/// (so the server's handler holds the socket), and returns the client.
async fn open(
    addr: SocketAddr,
    path: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
        .await
        .unwrap();
    ws.send(TMessage::text("hi")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), TMessage::text("hi"));
    ws
}

#[tokio::test]
async fn serve_connection_sets_nodelay_for_the_layer_and_the_extractor() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (fds, mut accepted) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            assert!(!tcp.nodelay().unwrap(), "off until the server sets it");
            fds.send(tcp.as_raw_fd()).unwrap();
            tokio::spawn(serve_connection(tcp, app()));
        }
    });
    for path in ["/", "/extract"] {
        let mut ws = open(addr, path).await;
        let fd = accepted.recv().await.unwrap();
        assert!(
            nodelay(fd),
            "TCP_NODELAY is off on the server socket for {path}"
        );
        ws.close(None).await.unwrap();
    }
}

#[tokio::test]
async fn axum_serve_with_the_documented_tap_io_sets_nodelay() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (fds, mut accepted) = mpsc::unbounded_channel();
    let listener = listener.tap_io(move |tcp| {
        // The line the server docs give axum::serve users:
        let _ = tcp.set_nodelay(true);
        fds.send(tcp.as_raw_fd()).unwrap();
    });
    tokio::spawn(async move { axum::serve(listener, app()).await });
    for path in ["/", "/extract"] {
        let mut ws = open(addr, path).await;
        let fd = accepted.recv().await.unwrap();
        assert!(
            nodelay(fd),
            "TCP_NODELAY is off on the server socket for {path}"
        );
        ws.close(None).await.unwrap();
    }
}
