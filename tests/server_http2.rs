//! WebSocket over HTTP/2 (RFC 8441): hyper's HTTP/2 client sends an extended
//! CONNECT with `:protocol websocket` to the layer and to the extractor.

mod server_util;

use axum::routing::any;
use axum::Router;
use http_body_util::Empty;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use server_util::{serve, LIMIT};
use tokio::net::TcpStream;
use websocket_protocol::server::{RequestInfo, ServerSocket, WsLayer, WsUpgrade};

async fn hold(ws: ServerSocket) {
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    drop(ws);
}

async fn h2_client(addr: std::net::SocketAddr) -> SendRequest<Empty<bytes::Bytes>> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

fn connect(
    path: &str,
    version: &str,
    protocols: Option<&str>,
) -> http::Request<Empty<bytes::Bytes>> {
    let mut req = http::Request::connect(format!("http://localhost{path}"))
        .version(http::Version::HTTP_2)
        .extension(hyper::ext::Protocol::from_static("websocket"))
        .header("sec-websocket-version", version);
    if let Some(p) = protocols {
        req = req.header("sec-websocket-protocol", p);
    }
    req.body(Empty::new()).unwrap()
}

/// The client can only send an extended CONNECT once the server's SETTINGS
/// announced it; the first request waits for them.
async fn send(
    sender: &mut SendRequest<Empty<bytes::Bytes>>,
    req: http::Request<Empty<bytes::Bytes>>,
) -> http::Response<hyper::body::Incoming> {
    tokio::time::timeout(LIMIT, async {
        sender.ready().await.unwrap();
        sender.send_request(req).await.unwrap()
    })
    .await
    .expect("no HTTP/2 response in time")
}

fn app() -> Router {
    Router::new()
        .route(
            "/extract",
            any(|ws: WsUpgrade| async move { ws.protocols(["chat"]).on_upgrade(hold) }),
        )
        .layer(
            WsLayer::new(|ws: ServerSocket, req: RequestInfo| async move {
                assert_eq!(req.method(), http::Method::CONNECT);
                assert_eq!(req.version(), http::Version::HTTP_2);
                hold(ws).await
            })
            .protocols(["echo"]),
        )
}

#[tokio::test]
async fn extended_connect_through_the_layer_and_the_extractor() {
    let addr = serve(app()).await;
    let mut sender = h2_client(addr).await;
    // The layer sees every WebSocket request first.
    for path in ["/anything", "/extract"] {
        let mut res = send(&mut sender, connect(path, "13", Some("x, echo"))).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["sec-websocket-protocol"], "echo");
        assert!(!res.headers().contains_key("sec-websocket-accept"));
        let upgraded = tokio::time::timeout(LIMIT, hyper::upgrade::on(&mut res))
            .await
            .unwrap();
        assert!(upgraded.is_ok(), "{path}");
    }
}

#[tokio::test]
async fn extended_connect_through_the_extractor_alone() {
    let router = Router::new().route(
        "/extract",
        any(|ws: WsUpgrade| async move { ws.protocols(["chat"]).on_upgrade(hold) }),
    );
    let addr = serve(router).await;
    let mut sender = h2_client(addr).await;
    let mut res = send(&mut sender, connect("/extract", "13", Some("chat"))).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["sec-websocket-protocol"], "chat");
    assert!(hyper::upgrade::on(&mut res).await.is_ok());
}

#[tokio::test]
async fn http2_refusals() {
    let addr = serve(app()).await;
    let mut sender = h2_client(addr).await;
    let res = send(&mut sender, connect("/", "8", None)).await;
    assert_eq!(res.status(), 426);
    assert_eq!(res.headers()["sec-websocket-version"], "13");
    assert!(!res.headers().contains_key("connection"));
    let res = send(&mut sender, connect("/extract", "", None)).await;
    assert_eq!(res.status(), 426);
    // The connection is still usable after a refusal.
    let res = send(&mut sender, connect("/", "13", None)).await;
    assert_eq!(res.status(), 200);
}
