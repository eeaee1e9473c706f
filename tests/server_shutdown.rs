//! Graceful shutdown reaching upgraded sockets: every live socket gets close 1001,
//! the server stops, a handler that ignores its socket is aborted at the bound.

mod server_util;

use axum::Router;
use futures::{SinkExt, StreamExt};
use server_util::{exchange, read_exact, read_head, send, LIMIT};
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message as TMessage;
use websocket_protocol::server::{RequestInfo, ServerSocket, Shutdown, WsLayer};

async fn echo(mut ws: ServerSocket, _req: RequestInfo) {
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

/// An axum server whose graceful shutdown is tied to `shutdown`.
async fn start<H, F>(
    layer: WsLayer<H>,
) -> (
    std::net::SocketAddr,
    Shutdown,
    tokio::task::JoinHandle<std::io::Result<()>>,
)
where
    H: Fn(ServerSocket, RequestInfo) -> F + Send + Sync + 'static,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let shutdown = Shutdown::new();
    let app = Router::new().layer(layer.allow_drafts(true).shutdown(&shutdown));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown.triggered());
    let server = tokio::spawn(async move { server.await });
    (addr, shutdown, server)
}

#[tokio::test]
async fn three_live_sockets_receive_1001_and_the_server_stops() {
    let (addr, shutdown, server) = start(WsLayer::new(echo)).await;
    let mut clients = Vec::new();
    for i in 0..3 {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
            .await
            .unwrap();
        // A round trip proves the socket is live before the shutdown.
        ws.send(TMessage::text(format!("hi {i}"))).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            TMessage::text(format!("hi {i}"))
        );
        clients.push(ws);
    }
    assert_eq!(shutdown.live(), 3);

    let closing = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { shutdown.close_all(LIMIT).await }
    });
    for ws in &mut clients {
        let frame = tokio::time::timeout(LIMIT, ws.next()).await.unwrap();
        match frame {
            Some(Ok(TMessage::Close(Some(frame)))) => {
                assert_eq!(frame.code, CloseCode::Away);
                assert_eq!(frame.reason.as_str(), "server shutting down");
            }
            other => panic!("expected close 1001, got {other:?}"),
        }
    }
    let outcome = tokio::time::timeout(LIMIT, closing).await.unwrap().unwrap();
    assert_eq!((outcome.closed, outcome.aborted), (3, 0));
    assert_eq!(shutdown.live(), 0);
    tokio::time::timeout(LIMIT, server)
        .await
        .expect("server did not stop")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_handler_that_never_reads_is_aborted_at_the_bound() {
    let layer = WsLayer::new(|ws: ServerSocket, _req: RequestInfo| async move {
        std::future::pending::<()>().await;
        drop(ws);
    });
    let (addr, shutdown, server) = start(layer).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .unwrap();
    let outcome = shutdown.close_all(Duration::from_millis(200)).await;
    assert_eq!((outcome.closed, outcome.aborted), (0, 1));
    // Aborting dropped the socket: the client sees the connection end.
    let end = tokio::time::timeout(LIMIT, ws.next()).await.unwrap();
    assert!(!matches!(end, Some(Ok(TMessage::Text(_)))), "{end:?}");
    tokio::time::timeout(LIMIT, server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn draft_sockets_are_closed_their_own_way() {
    let (addr, shutdown, _server) = start(WsLayer::new(echo)).await;
    let hixie76 = "GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\nUpgrade: WebSocket\r\n\
        Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n\r\n^n:ds[4U";
    let mut tcp76 = send(addr, hixie76.as_bytes()).await;
    read_head(&mut tcp76).await;
    assert_eq!(read_exact(&mut tcp76, 16).await, b"8jKS'y:G*Co,Wxa-");
    let hixie75 = "GET / HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nHost: x\r\n\r\n";
    let mut tcp75 = send(addr, hixie75.as_bytes()).await;
    read_head(&mut tcp75).await;
    // A whole frame and half of the next, in one write: the echo of the first
    // shows the server has read the half too, so the close must wait for its end.
    tokio::io::AsyncWriteExt::write_all(&mut tcp76, b"\x00first\xff\x00half")
        .await
        .unwrap();
    assert_eq!(read_exact(&mut tcp76, 7).await, b"\x00first\xff");
    let closing = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { shutdown.close_all(LIMIT).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    tokio::io::AsyncWriteExt::write_all(&mut tcp76, b" done\xff")
        .await
        .unwrap();
    assert_eq!(read_exact(&mut tcp76, 11).await, b"\x00half done\xff");
    assert_eq!(read_exact(&mut tcp76, 2).await, b"\xff\x00");
    let mut rest = Vec::new();
    tokio::time::timeout(
        LIMIT,
        tokio::io::AsyncReadExt::read_to_end(&mut tcp75, &mut rest),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(rest.is_empty());
    let outcome = tokio::time::timeout(LIMIT, closing).await.unwrap().unwrap();
    assert_eq!(outcome.aborted, 0);
}

#[tokio::test]
async fn upgrades_after_the_trigger_get_503() {
    let shutdown = Shutdown::new();
    let layer = WsLayer::new(echo).shutdown(&shutdown);
    let addr = server_util::serve(tower::Layer::layer(&layer, server_util::fallback())).await;
    shutdown.trigger();
    let request = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let res = exchange(addr, request.as_bytes()).await;
    assert!(
        res.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{res}"
    );
}
