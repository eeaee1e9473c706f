//! hyper server connections set up for WebSockets.

use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use tokio::io::{AsyncRead, AsyncWrite};

/// hyper-util's HTTP/1.1 + HTTP/2 server builder, set up for WebSockets:
///
/// - HTTP/1.1 writes header names in title case (`title_case_headers(true)`), which
///   hixie-75 clients need (they compare the head's first lines byte for byte) and
///   which gives the drafts their `Sec-WebSocket-*`-style names;
/// - HTTP/2 announces the extended CONNECT (`enable_connect_protocol()`), so
///   clients can open WebSockets over HTTP/2 (RFC 8441);
/// - HTTP/2 with prior knowledge and HTTP/1.1 are told apart by the connection
///   preface.
///
/// Serve each connection with `serve_connection_with_upgrades`: without upgrades,
/// hyper cannot hand a connection over to a WebSocket.
pub fn http_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().title_case_headers(true);
    builder.http2().enable_connect_protocol();
    builder
}

/// Serves one connection of any byte stream with `service` (an axum `Router`, a
/// service built with [`WsLayer`](super::WsLayer), ...), upgrades included,
/// through [`http_builder`]. It returns when the connection ends.
///
/// Its main use is testing handlers without TCP: serve one end of
/// [`tokio::io::duplex`] and run a WebSocket client on the other; see
/// [the module docs](super#testing-a-handler-without-tcp).
///
/// Cancel safety: dropping it closes the connection; sockets already handed to
/// their handlers live on.
pub async fn serve_connection<IO, S, B>(
    io: IO,
    service: S,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: tower_service::Service<
            http::Request<hyper::body::Incoming>,
            Response = http::Response<B>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    http_builder()
        .serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service))
        .await
}
