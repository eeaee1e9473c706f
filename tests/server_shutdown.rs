//! Graceful shutdown reaching upgraded sockets: every live socket runs a closing
//! handshake with 1001 (the server closes TCP only after the client's answer),
//! the server stops, a handler that ignores its socket still gets it closed and
//! is aborted at the bound.

mod server_util;

use axum::Router;
use futures::{SinkExt, StreamExt};
use server_util::{exchange, read_exact, read_head, send, LIMIT};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message as TMessage;
use websocket_protocol::server::{RequestInfo, ServerSocket, Shutdown, WsLayer};
use websocket_protocol::{CloseFrame, CloseHandle};

/// The server's close frame, unmasked: 1001, "server shutting down".
const GOODBYE: &[u8] = b"\x88\x16\x03\xe9server shutting down";

/// An RFC 6455 handshake on a raw connection; returns it after the 101 head.
async fn raw_client(addr: std::net::SocketAddr) -> TcpStream {
    let request = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let mut tcp = send(addr, request.as_bytes()).await;
    let head = read_head(&mut tcp).await;
    assert!(head.starts_with(b"HTTP/1.1 101 "), "{head:?}");
    tcp
}

/// A client's (masked) frame, short: `first` is FIN and the opcode.
fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    assert!(payload.len() < 126);
    let mut frame = vec![first, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    frame
}

/// A client's close frame.
fn masked_close(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    masked(0x88, &payload)
}

/// Reads to the end of the stream: the server closed the connection.
async fn read_to_end(tcp: &mut TcpStream) -> Vec<u8> {
    let mut rest = Vec::new();
    tokio::time::timeout(LIMIT, tcp.read_to_end(&mut rest))
        .await
        .expect("the server did not close the connection")
        .unwrap();
    rest
}

/// Nothing arrives for a while: the server is waiting for us.
async fn assert_quiet(tcp: &mut TcpStream) {
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_millis(100), tcp.read(&mut byte)).await;
    assert!(read.is_err(), "expected silence, got {read:?}");
}

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
    // Reading on sends tungstenite's answer; the stream ends after it.
    for ws in &mut clients {
        while let Some(Ok(_)) = tokio::time::timeout(LIMIT, ws.next()).await.unwrap() {}
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
    // The socket was closed properly before the handler was aborted.
    let end = tokio::time::timeout(LIMIT, ws.next()).await.unwrap();
    match end {
        Some(Ok(TMessage::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Away),
        other => panic!("expected close 1001, got {other:?}"),
    }
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
    // Both are live: a round trip each.
    tcp76.write_all(b"\x00first\xff").await.unwrap();
    assert_eq!(read_exact(&mut tcp76, 7).await, b"\x00first\xff");
    tcp75.write_all(b"\x00first\xff").await.unwrap();
    assert_eq!(read_exact(&mut tcp75, 7).await, b"\x00first\xff");

    let outcome = shutdown.close_all(LIMIT).await;
    assert_eq!((outcome.closed, outcome.aborted), (2, 0));
    // hixie-76: its closing frame, then the end of the stream (the protocol
    // does not wait for an answer); hixie-75: just the end of the stream.
    assert_eq!(read_to_end(&mut tcp76).await, b"\xff\x00");
    assert_eq!(read_to_end(&mut tcp75).await, b"");
}

#[tokio::test]
async fn the_server_closes_tcp_only_after_the_clients_close_frame() {
    let (frames_tx, mut frames) = mpsc::unbounded_channel();
    let layer = WsLayer::new(move |mut ws: ServerSocket, _req: RequestInfo| {
        let frames_tx = frames_tx.clone();
        async move {
            while let Some(Ok(_)) = ws.recv().await {}
            frames_tx.send(ws.close_frame()).unwrap();
        }
    });
    let (addr, shutdown, server) = start(layer).await;
    let mut tcp = raw_client(addr).await;
    let closing = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { shutdown.close_all(LIMIT).await }
    });
    assert_eq!(read_exact(&mut tcp, GOODBYE.len()).await, GOODBYE);
    // The server waits for our answer, with the connection open.
    assert_quiet(&mut tcp).await;
    tcp.write_all(&masked_close(1000, "client bye"))
        .await
        .unwrap();
    assert_eq!(read_to_end(&mut tcp).await, b"");
    // The handler's stream ended with the client's frame, not one of its own.
    let frame = tokio::time::timeout(LIMIT, frames.recv()).await.unwrap();
    assert_eq!(
        frame,
        Some(Some(CloseFrame::new(
            websocket_protocol::CloseCode::NORMAL,
            "client bye"
        )))
    );
    let outcome = tokio::time::timeout(LIMIT, closing).await.unwrap().unwrap();
    assert_eq!((outcome.closed, outcome.aborted), (1, 0));
    tokio::time::timeout(LIMIT, server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_handler_that_never_reads_still_runs_the_closing_handshake() {
    let (handles_tx, mut handles) = mpsc::unbounded_channel::<CloseHandle>();
    let layer = WsLayer::new(move |ws: ServerSocket, _req: RequestInfo| {
        let handles_tx = handles_tx.clone();
        async move {
            handles_tx.send(ws.close_handle()).unwrap();
            std::future::pending::<()>().await;
            drop(ws);
        }
    });
    let (addr, shutdown, server) = start(layer).await;
    let mut tcp = raw_client(addr).await;
    let handle = tokio::time::timeout(LIMIT, handles.recv())
        .await
        .unwrap()
        .unwrap();

    shutdown.trigger();
    assert_eq!(read_exact(&mut tcp, GOODBYE.len()).await, GOODBYE);
    assert_quiet(&mut tcp).await;
    tcp.write_all(&masked_close(1000, "client bye"))
        .await
        .unwrap();
    assert_eq!(read_to_end(&mut tcp).await, b"");
    // The socket's task read the answer, though its handler never polls: the
    // handshake completed (`closed` only reports here; it is already over).
    assert!(handle.is_closed());
    let frame = tokio::time::timeout(LIMIT, handle.closed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        frame,
        CloseFrame::new(websocket_protocol::CloseCode::NORMAL, "client bye")
    );

    // The handler itself never returns: aborted at the bound.
    let outcome = shutdown.close_all(Duration::from_millis(100)).await;
    assert_eq!((outcome.closed, outcome.aborted), (0, 1));
    tokio::time::timeout(LIMIT, server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
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

#[tokio::test]
async fn a_handler_that_returns_mid_handshake_does_not_cut_it_short() {
    let (addr, shutdown, server) = start(WsLayer::new(echo)).await;
    let mut tcp = raw_client(addr).await;
    tcp.write_all(&masked(0x81, b"hi")).await.unwrap();
    assert_eq!(read_exact(&mut tcp, 4).await, b"\x81\x02hi");
    let closing = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { shutdown.close_all(LIMIT).await }
    });
    assert_eq!(read_exact(&mut tcp, GOODBYE.len()).await, GOODBYE);
    // A message that crossed the server's close frame: the handler gets it, its
    // echo fails (the socket is closing) and it returns, dropping the socket.
    tcp.write_all(&masked(0x81, b"late")).await.unwrap();
    // The handshake goes on without it.
    assert_quiet(&mut tcp).await;
    tcp.write_all(&masked_close(1000, "")).await.unwrap();
    assert_eq!(read_to_end(&mut tcp).await, b"");
    let outcome = tokio::time::timeout(LIMIT, closing).await.unwrap().unwrap();
    assert_eq!((outcome.closed, outcome.aborted), (1, 0));
    tokio::time::timeout(LIMIT, server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
