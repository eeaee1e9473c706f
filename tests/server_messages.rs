//! Messages through hyper after each family's handshake: hybi-13 with
//! tokio-tungstenite, hybi-8 and the hixie drafts with raw frames, HTTP/2 with
//! tokio-tungstenite over hyper's upgraded stream.

mod server_util;

use futures::{SinkExt, StreamExt};
use hyper_util::rt::{TokioExecutor, TokioIo};
use server_util::{fallback, read_exact, read_head, send, serve, LIMIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message as TMessage;
use tokio_tungstenite::WebSocketStream;
use websocket_protocol::server::{RequestInfo, ServerSocket, WsLayer};

async fn echo(mut ws: ServerSocket, _req: RequestInfo) {
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

async fn echo_server() -> std::net::SocketAddr {
    let layer = WsLayer::new(echo).allow_drafts(true);
    serve(tower::Layer::layer(&layer, fallback())).await
}

async fn next(
    ws: &mut WebSocketStream<impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>,
) -> TMessage {
    tokio::time::timeout(LIMIT, ws.next())
        .await
        .expect("no message in time")
        .expect("stream ended")
        .expect("socket error")
}

#[tokio::test]
async fn hybi_13_echo_with_tungstenite() {
    let addr = echo_server().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .unwrap();
    for message in [
        TMessage::text("hello"),
        TMessage::binary(vec![0u8, 1, 2, 255]),
        TMessage::binary(vec![7u8; 70_000]),
        TMessage::text(""),
    ] {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(next(&mut ws).await, message);
    }
    ws.close(None).await.unwrap();
}

/// A masked client frame.
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x11, 0x22, 0x33, 0x44];
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

#[tokio::test]
async fn hybi_8_echo_with_raw_frames() {
    let addr = echo_server().await;
    let request = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n";
    let mut tcp = send(addr, request.as_bytes()).await;
    assert!(read_head(&mut tcp).await.starts_with(b"HTTP/1.1 101 "));
    tcp.write_all(&frame(0x1, b"hybi-8")).await.unwrap();
    assert_eq!(read_exact(&mut tcp, 8).await, b"\x81\x06hybi-8");
    tcp.write_all(&frame(0x8, &1000u16.to_be_bytes()))
        .await
        .unwrap();
    assert_eq!(read_exact(&mut tcp, 4).await, b"\x88\x02\x03\xe8");
}

#[tokio::test]
async fn hixie_76_echo_and_close() {
    let addr = echo_server().await;
    let head = "GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\nUpgrade: WebSocket\r\n\
        Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\nOrigin: http://example.com\r\n\r\n^n:ds[4U";
    let mut tcp = send(addr, head.as_bytes()).await;
    read_head(&mut tcp).await;
    assert_eq!(read_exact(&mut tcp, 16).await, b"8jKS'y:G*Co,Wxa-");
    tcp.write_all(b"\x00hello \xc3\xa9\xff").await.unwrap();
    assert_eq!(read_exact(&mut tcp, 10).await, b"\x00hello \xc3\xa9\xff");
    tcp.write_all(b"\xff\x00").await.unwrap();
    assert_eq!(read_exact(&mut tcp, 2).await, b"\xff\x00");
    let mut rest = Vec::new();
    tokio::time::timeout(LIMIT, tcp.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert!(rest.is_empty());
}

#[tokio::test]
async fn hixie_75_echo() {
    let addr = echo_server().await;
    let head = "GET /demo HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\
        Host: example.com\r\n\r\n";
    let mut tcp = send(addr, head.as_bytes()).await;
    read_head(&mut tcp).await;
    tcp.write_all(b"\x00one\xff\x00two\xff").await.unwrap();
    assert_eq!(read_exact(&mut tcp, 10).await, b"\x00one\xff\x00two\xff");
}

#[tokio::test]
async fn http2_echo_with_tungstenite_over_the_upgraded_stream() {
    let addr = echo_server().await;
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake::<_, http_body_util::Empty<bytes::Bytes>>(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender.ready().await.unwrap();
    let request = http::Request::connect("http://localhost/echo")
        .version(http::Version::HTTP_2)
        .extension(hyper::ext::Protocol::from_static("websocket"))
        .header("sec-websocket-version", "13")
        .body(http_body_util::Empty::new())
        .unwrap();
    let mut response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let upgraded = hyper::upgrade::on(&mut response).await.unwrap();
    let mut ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Client, None).await;
    ws.send(TMessage::text("over h2")).await.unwrap();
    assert_eq!(next(&mut ws).await, TMessage::text("over h2"));
    ws.send(TMessage::binary(vec![1u8; 100_000])).await.unwrap();
    assert_eq!(next(&mut ws).await, TMessage::binary(vec![1u8; 100_000]));
}
