//! The handshakes of every protocol family through hyper, over TCP, checked byte
//! for byte: the response head hyper writes (with `server::http_builder()`'s
//! title-case header names) and, for hixie-76, the 16-byte answer after it.

mod server_util;

use server_util::{fallback, read_exact, read_head, send, serve};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use websocket_protocol::server::{RequestInfo, ServerSocket, WsLayer};

/// Reads until the peer goes: the socket does its I/O (the hixie-76 answer
/// included) only while someone polls it.
async fn hold(mut ws: ServerSocket, _req: RequestInfo) {
    while let Some(Ok(_)) = ws.recv().await {}
}

async fn server() -> std::net::SocketAddr {
    let layer = WsLayer::new(hold).allow_drafts(true);
    serve(tower::Layer::layer(&layer, fallback())).await
}

const HYBI: &str = "GET /chat HTTP/1.1\r\n\
    Host: server.example.com\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Origin: http://example.com\r\n\
    Sec-WebSocket-Version: VERSION\r\n\r\n";

#[tokio::test]
async fn hybi_13_response_bytes() {
    let addr = server().await;
    let mut tcp = send(addr, HYBI.replace("VERSION", "13").as_bytes()).await;
    assert_eq!(
        String::from_utf8(read_head(&mut tcp).await).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-Websocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    );
}

#[tokio::test]
async fn hybi_8_response_bytes() {
    let addr = server().await;
    let mut tcp = send(addr, HYBI.replace("VERSION", "8").as_bytes()).await;
    assert_eq!(
        String::from_utf8(read_head(&mut tcp).await).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-Websocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    );
}

/// draft-hixie-thewebsocketprotocol-76's own example.
const HIXIE_76_HEAD: &str = "GET /demo HTTP/1.1\r\n\
    Host: example.com\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n\
    Sec-WebSocket-Protocol: sample\r\n\
    Upgrade: WebSocket\r\n\
    Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n\
    Origin: http://example.com\r\n\r\n";
const HIXIE_76_KEY3: &[u8] = b"^n:ds[4U";
const HIXIE_76_ANSWER: &[u8] = b"8jKS'y:G*Co,Wxa-";

fn hixie_76_head_response(protocol: bool) -> String {
    format!(
        "HTTP/1.1 101 WebSocket Protocol Handshake\r\n\
         Upgrade: WebSocket\r\n\
         Connection: Upgrade\r\n\
         Sec-Websocket-Origin: http://example.com\r\n\
         Sec-Websocket-Location: ws://example.com/demo\r\n{}\r\n",
        if protocol {
            "Sec-Websocket-Protocol: sample\r\n"
        } else {
            ""
        }
    )
}

#[tokio::test]
async fn hixie_76_key_bytes_in_the_same_packet() {
    let addr = server().await;
    let mut request = HIXIE_76_HEAD.as_bytes().to_vec();
    request.extend_from_slice(HIXIE_76_KEY3);
    let mut tcp = send(addr, &request).await;
    let head = String::from_utf8(read_head(&mut tcp).await).unwrap();
    assert_eq!(head, hixie_76_head_response(false));
    assert_eq!(read_exact(&mut tcp, 16).await, HIXIE_76_ANSWER);
}

#[tokio::test]
async fn hixie_76_key_bytes_after_100_ms() {
    let layer = WsLayer::new(hold).allow_drafts(true).protocols(["sample"]);
    let addr = serve(tower::Layer::layer(&layer, fallback())).await;
    let mut tcp = send(addr, HIXIE_76_HEAD.as_bytes()).await;
    // The head is answered before the key bytes exist: a proxy may hold them back.
    let head = String::from_utf8(read_head(&mut tcp).await).unwrap();
    assert_eq!(head, hixie_76_head_response(true));
    tokio::time::sleep(Duration::from_millis(100)).await;
    tcp.write_all(HIXIE_76_KEY3).await.unwrap();
    assert_eq!(read_exact(&mut tcp, 16).await, HIXIE_76_ANSWER);
}

#[tokio::test]
async fn hixie_75_response_bytes() {
    let addr = server().await;
    let request = "GET /demo HTTP/1.1\r\n\
        Upgrade: WebSocket\r\n\
        Connection: Upgrade\r\n\
        Host: example.com\r\n\
        Origin: http://example.com\r\n\r\n";
    let mut tcp = send(addr, request.as_bytes()).await;
    let head = read_head(&mut tcp).await;
    // hixie-75 clients compare these first 85 bytes exactly.
    assert_eq!(
        &head[..85],
        b"HTTP/1.1 101 Web Socket Protocol Handshake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
    );
    assert_eq!(
        String::from_utf8(head).unwrap(),
        "HTTP/1.1 101 Web Socket Protocol Handshake\r\n\
         Upgrade: WebSocket\r\n\
         Connection: Upgrade\r\n\
         Websocket-Origin: http://example.com\r\n\
         Websocket-Location: ws://example.com/demo\r\n\r\n"
    );
}

#[tokio::test]
async fn without_title_case_hyper_writes_lower_case_names() {
    // What `axum::serve` and a default hyper builder produce: the drafts' reason
    // phrase is right, the names are not, which is why the docs ask for
    // `title_case_headers(true)`.
    let layer = WsLayer::new(hold).allow_drafts(true);
    let service = tower::Layer::layer(&layer, fallback());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut builder =
            hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
        builder.http1().auto_date_header(false);
        let _ = builder
            .serve_connection_with_upgrades(
                hyper_util::rt::TokioIo::new(tcp),
                hyper_util::service::TowerToHyperService::new(service),
            )
            .await;
    });
    let request = "GET /demo HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\
        Host: example.com\r\n\r\n";
    let mut tcp = send(addr, request.as_bytes()).await;
    assert_eq!(
        String::from_utf8(read_head(&mut tcp).await).unwrap(),
        "HTTP/1.1 101 Web Socket Protocol Handshake\r\n\
         upgrade: WebSocket\r\n\
         connection: Upgrade\r\n\
         websocket-location: ws://example.com/demo\r\n\r\n"
    );
}

#[tokio::test]
async fn hixie_76_without_key_bytes_is_dropped_at_the_handshake_timeout() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use tokio::io::AsyncReadExt;

    let called = Arc::new(AtomicBool::new(false));
    let layer = WsLayer::new({
        let called = called.clone();
        move |_ws: ServerSocket, _req: RequestInfo| {
            called.store(true, Ordering::SeqCst);
            async {}
        }
    })
    .allow_drafts(true)
    .config(websocket_protocol::Config::default().handshake_timeout(Duration::from_millis(200)));
    let addr = serve(tower::Layer::layer(&layer, fallback())).await;
    let mut tcp = send(addr, HIXIE_76_HEAD.as_bytes()).await;
    read_head(&mut tcp).await;
    // No key bytes: the server gives up and closes the connection.
    let mut rest = Vec::new();
    tokio::time::timeout(server_util::LIMIT, tcp.read_to_end(&mut rest))
        .await
        .expect("connection not closed")
        .unwrap();
    assert!(rest.is_empty());
    assert!(
        !called.load(Ordering::SeqCst),
        "the handler never sees a half-open socket"
    );
}
