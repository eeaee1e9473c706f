//! Helpers shared by the server tests: a hyper server on loopback and a raw TCP
//! client that writes request bytes and reads response bytes exactly.
#![allow(dead_code)]

use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Nothing in these tests may take longer than this.
pub const LIMIT: Duration = Duration::from_secs(5);

/// Serves `service` on a loopback port through `websocket_protocol::server::
/// http_builder()`, without the `Date` header so response bytes are exact.
pub async fn serve<S, B>(service: S) -> SocketAddr
where
    S: tower::Service<
            http::Request<hyper::body::Incoming>,
            Response = http::Response<B>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let mut builder = websocket_protocol::server::http_builder();
                builder.http1().auto_date_header(false);
                builder.http2().auto_date_header(false);
                let _ = builder
                    .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    addr
}

/// A plain service for the requests the layer passes on.
pub fn fallback() -> impl tower::Service<
    http::Request<hyper::body::Incoming>,
    Response = http::Response<String>,
    Error = Infallible,
    Future = impl Send,
> + Clone
       + Send
       + 'static {
    tower::service_fn(|req: http::Request<hyper::body::Incoming>| async move {
        Ok::<_, Infallible>(http::Response::new(format!("inner: {}", req.uri().path())))
    })
}

/// Reads up to and including the blank line that ends an HTTP head.
pub async fn read_head(tcp: &mut TcpStream) -> Vec<u8> {
    let read = async {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            if tcp.read(&mut byte).await.unwrap() == 0 {
                break;
            }
            head.push(byte[0]);
        }
        head
    };
    tokio::time::timeout(LIMIT, read)
        .await
        .expect("no response head in time")
}

/// Reads exactly `n` bytes.
pub async fn read_exact(tcp: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    tokio::time::timeout(LIMIT, tcp.read_exact(&mut buf))
        .await
        .expect("bytes not received in time")
        .unwrap();
    buf
}

/// Writes `request` on a new connection and returns the connection.
pub async fn send(addr: SocketAddr, request: &[u8]) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    tcp.write_all(request).await.unwrap();
    tcp
}

/// Sends `request` and reads the response: its head and a `Content-Length` body.
pub async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut tcp = send(addr, request).await;
    let head = String::from_utf8(read_head(&mut tcp).await).unwrap();
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, value)| value.trim().parse().unwrap());
    let body = read_exact(&mut tcp, length).await;
    head + std::str::from_utf8(&body).unwrap()
}

/// Echoes every message until the connection ends.
pub async fn echo(mut ws: websocket_protocol::server::ServerSocket) {
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

/// An echo router: the extractor on `/extract`, the layer everywhere else.
#[cfg(feature = "axum")]
pub fn echo_app() -> axum::Router {
    use websocket_protocol::server::{RequestInfo, ServerSocket, WsLayer, WsUpgrade};
    axum::Router::new()
        .route(
            "/extract",
            axum::routing::get(|ws: WsUpgrade| async move { ws.on_upgrade(echo) }),
        )
        .layer(WsLayer::new(|ws: ServerSocket, _req: RequestInfo| echo(ws)))
}
