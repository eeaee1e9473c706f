//! The layer and the extractor in axum routers: normal routes beside them,
//! subprotocols, origins, every refusal status, tokio-tungstenite as the client,
//! and a router driven over an in-memory stream.

mod server_util;

use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use futures::{SinkExt, StreamExt};
use server_util::{exchange, read_head, send, serve, LIMIT};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message as TMessage;
use websocket_protocol::server::{serve_connection, RequestInfo, ServerSocket, WsLayer, WsUpgrade};

async fn echo(mut ws: ServerSocket) {
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

async fn extractor(ws: WsUpgrade) -> Response {
    let ws = ws.protocols(["chat", "superchat"]);
    let chosen = ws.selected_protocol().unwrap_or("none").to_owned();
    let version = ws.version().to_string();
    let mut res = ws.on_upgrade(echo);
    res.headers_mut()
        .insert("x-chosen", chosen.parse().unwrap());
    res.headers_mut()
        .insert("x-version", version.parse().unwrap());
    res
}

fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "a normal page" }))
        .route("/extract", any(extractor))
        .route(
            "/maybe",
            get(|ws: Option<WsUpgrade>| async move {
                match ws {
                    Some(ws) => ws.on_upgrade(echo),
                    None => "no websocket here".into_response(),
                }
            }),
        )
        .layer(
            WsLayer::new(|ws: ServerSocket, _req: RequestInfo| echo(ws))
                .protocols(["chat"])
                .allowed_origins(["http://good.example"]),
        )
}

fn upgrade(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or_default()
}

#[tokio::test]
async fn normal_routes_still_work_beside_the_layer() {
    let addr = serve(app()).await;
    let res = exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_line(&res), "HTTP/1.1 200 OK");
    assert!(res.ends_with("a normal page"), "{res}");
    let res = exchange(
        addr,
        b"GET /maybe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(res.ends_with("no websocket here"), "{res}");
}

#[tokio::test]
async fn tungstenite_connects_through_the_layer_with_a_subprotocol() {
    let addr = serve(app()).await;
    let mut request = format!("ws://{addr}/anywhere")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("superchat, chat"),
    );
    let (mut ws, response) = tokio::time::timeout(LIMIT, tokio_tungstenite::connect_async(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
    ws.send(TMessage::text("through the layer")).await.unwrap();
    let echoed = tokio::time::timeout(LIMIT, ws.next()).await.unwrap();
    assert_eq!(
        echoed.unwrap().unwrap(),
        TMessage::text("through the layer")
    );
}

#[tokio::test]
async fn tungstenite_connects_through_the_extractor_with_a_subprotocol() {
    // The layer's protocol list is ["chat"], but the request reaches the extractor
    // only if the layer lets it through: it does not, so the extractor is tested
    // on a router without the layer.
    let router = Router::new().route("/extract", any(extractor));
    let addr = serve(router).await;
    let mut request = format!("ws://{addr}/extract")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("x, superchat, chat"),
    );
    let (mut ws, response) = tokio::time::timeout(LIMIT, tokio_tungstenite::connect_async(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["sec-websocket-protocol"], "superchat");
    assert_eq!(response.headers()["x-chosen"], "superchat");
    assert_eq!(response.headers()["x-version"], "hybi-13");
    ws.send(TMessage::text("through the extractor"))
        .await
        .unwrap();
    let echoed = tokio::time::timeout(LIMIT, ws.next()).await.unwrap();
    assert_eq!(
        echoed.unwrap().unwrap(),
        TMessage::text("through the extractor")
    );
}

#[tokio::test]
async fn no_common_subprotocol_still_connects_without_one() {
    let router = Router::new().route("/extract", any(extractor));
    let addr = serve(router).await;
    // tokio-tungstenite refuses an answer without one of its protocols, so this
    // one is read raw.
    let mut tcp = send(
        addr,
        upgrade("/extract", "Sec-WebSocket-Protocol: other\r\n").as_bytes(),
    )
    .await;
    let head = String::from_utf8(read_head(&mut tcp).await)
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        head.starts_with("http/1.1 101 switching protocols\r\n"),
        "{head}"
    );
    assert!(!head.contains("sec-websocket-protocol"), "{head}");
    assert!(head.contains("x-chosen: none\r\n"), "{head}");
}

#[tokio::test]
async fn origins_outside_the_list_get_403() {
    let addr = serve(app()).await;
    let res = exchange(
        addr,
        upgrade("/ws", "Origin: http://evil.example\r\n").as_bytes(),
    )
    .await;
    assert_eq!(status_line(&res), "HTTP/1.1 403 Forbidden", "{res}");
    let mut tcp = send(
        addr,
        upgrade("/ws", "Origin: http://GOOD.example\r\n").as_bytes(),
    )
    .await;
    let head = String::from_utf8(read_head(&mut tcp).await).unwrap();
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
}

#[tokio::test]
async fn the_extractor_refuses_origins_too() {
    let router = Router::new().route(
        "/",
        get(|ws: WsUpgrade| async move {
            ws.allowed_origins(["http://good.example"])
                .on_upgrade(|_socket| async {})
        }),
    );
    let addr = serve(router).await;
    let res = exchange(
        addr,
        upgrade("/", "Origin: http://evil.example\r\n").as_bytes(),
    )
    .await;
    assert_eq!(status_line(&res), "HTTP/1.1 403 Forbidden", "{res}");
    let mut tcp = send(
        addr,
        upgrade("/", "Origin: http://good.example\r\n").as_bytes(),
    )
    .await;
    assert!(read_head(&mut tcp).await.starts_with(b"HTTP/1.1 101 "));
}

#[tokio::test]
async fn an_origin_closure_decides() {
    let layer = WsLayer::new(|ws: ServerSocket, _req: RequestInfo| echo(ws))
        .check_origin(|origin| origin.is_some_and(|o| o.ends_with(".good.example")));
    let addr = serve(Router::new().layer(layer)).await;
    let res = exchange(addr, upgrade("/", "").as_bytes()).await;
    assert_eq!(status_line(&res), "HTTP/1.1 403 Forbidden", "{res}");
    let mut tcp = send(
        addr,
        upgrade("/", "Origin: https://a.good.example\r\n").as_bytes(),
    )
    .await;
    assert!(read_head(&mut tcp).await.starts_with(b"HTTP/1.1 101 "));
}

/// Every refusal, through the layer and through the extractor.
#[tokio::test]
async fn malformed_upgrades_get_their_status() {
    let with_layer = serve(app()).await;
    let extractor_only = serve(Router::new().route("/extract", any(extractor))).await;
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let cases: Vec<(String, &str)> = vec![
        // missing key
        (
            "GET /extract HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
                .to_owned(),
            "400 Bad Request",
        ),
        // a key that is not base64 of 16 bytes
        (
            "GET /extract HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n"
                .to_owned(),
            "400 Bad Request",
        ),
        // no Connection: Upgrade
        (
            format!(
                "GET /extract HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n{key}\
                     Sec-WebSocket-Version: 13\r\n\r\n"
            ),
            "400 Bad Request",
        ),
        // an unknown version
        (
            format!(
                "GET /extract HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
                     Connection: Upgrade\r\n{key}Sec-WebSocket-Version: 9\r\n\r\n"
            ),
            "426 Upgrade Required",
        ),
        // a draft, not allowed
        (
            "GET /extract HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n"
                .to_owned(),
            "426 Upgrade Required",
        ),
        // POST
        (
            format!(
                "POST /extract HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
                     Connection: Upgrade\r\n{key}Sec-WebSocket-Version: 13\r\n\
                     Content-Length: 0\r\n\r\n"
            ),
            "405 Method Not Allowed",
        ),
    ];
    for addr in [with_layer, extractor_only] {
        for (request, status) in &cases {
            let res = exchange(addr, request.as_bytes()).await;
            assert_eq!(
                status_line(&res),
                format!("HTTP/1.1 {status}"),
                "{request}\n{res}"
            );
            let lower = res.to_ascii_lowercase();
            if status.starts_with("426") {
                assert!(lower.contains("\r\nsec-websocket-version: 13\r\n"), "{res}");
            }
            if status.starts_with("405") {
                assert!(lower.contains("\r\nallow: get\r\n"), "{res}");
            }
        }
    }
    // Missing Upgrade: the layer passes the request on (it is not a WebSocket
    // request); the extractor refuses it.
    let plain = format!(
        "GET /extract HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n{key}\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    let res = exchange(extractor_only, plain.as_bytes()).await;
    assert_eq!(status_line(&res), "HTTP/1.1 400 Bad Request", "{res}");
}

#[tokio::test]
async fn layer_works_as_route_layer_and_method_router_layer() {
    let layer = || WsLayer::new(|ws: ServerSocket, _req: RequestInfo| echo(ws));
    let router = Router::new()
        .route("/a", get(|| async { "a" }))
        .route_layer(layer())
        .route("/b", get(|| async { "b" }).layer(layer()));
    let addr = serve(router).await;
    for path in ["/a", "/b"] {
        let mut tcp = send(addr, upgrade(path, "").as_bytes()).await;
        let head = read_head(&mut tcp).await;
        assert!(head.starts_with(b"HTTP/1.1 101 "), "{path}");
    }
    // route_layer only wraps matched routes: an unknown path is a plain 404.
    let res = exchange(addr, upgrade("/c", "").as_bytes()).await;
    assert_eq!(status_line(&res), "HTTP/1.1 404 Not Found", "{res}");
}

#[tokio::test]
async fn garbage_and_oversized_requests_do_not_hang() {
    let addr = serve(app()).await;
    let res = exchange(addr, b"\x00\x01\x02 nonsense\r\n\r\n").await;
    assert!(res.starts_with("HTTP/1.1 400"), "{res}");
    let huge = format!(
        "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nX-Big: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let res = exchange(addr, huge.as_bytes()).await;
    assert!(res.starts_with("HTTP/1.1 431"), "{res}");
}

#[tokio::test]
async fn a_router_is_testable_over_an_in_memory_stream() {
    let router = Router::new().route("/extract", any(extractor));
    let (client, server) = tokio::io::duplex(64 << 10);
    tokio::spawn(serve_connection(server, router));
    let (mut ws, response) = tokio::time::timeout(
        LIMIT,
        tokio_tungstenite::client_async("ws://test/extract", client),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["x-version"], "hybi-13");
    ws.send(TMessage::binary(vec![1u8, 2, 3])).await.unwrap();
    let echoed = tokio::time::timeout(LIMIT, ws.next()).await.unwrap();
    assert_eq!(echoed.unwrap().unwrap(), TMessage::binary(vec![1u8, 2, 3]));
}
