//! hyper server connections set up for WebSockets: the protocols, the head
//! timeout and TCP_NODELAY.

use crate::socket::Config;
use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::any::Any;
use std::convert::Infallible;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;

/// The error [`serve_connection`] returns.
pub type ServeError = Box<dyn std::error::Error + Send + Sync>;

/// hyper-util's HTTP/1.1 + HTTP/2 server builder, set up for WebSockets, with the
/// default [`Config::handshake_timeout`] (10 s); [`http_builder_with`] takes the
/// timeout from a config.
pub fn http_builder() -> auto::Builder<TokioExecutor> {
    http_builder_with(&Config::default())
}

/// hyper-util's HTTP/1.1 + HTTP/2 server builder, set up for WebSockets:
///
/// - HTTP/1.1 closes a connection whose request head has not arrived within
///   `config`'s [`handshake_timeout`](Config::handshake_timeout), counted from
///   when hyper starts waiting for it (hyper's `header_read_timeout`, with
///   tokio's timer, which hyper needs for any timeout);
/// - HTTP/1.1 writes header names in title case (`title_case_headers(true)`), which
///   hixie-75 clients need (they compare the head's first lines byte for byte) and
///   which gives the drafts their `Sec-WebSocket-*`-style names;
/// - HTTP/2 announces the extended CONNECT (`enable_connect_protocol()`), so
///   clients can open WebSockets over HTTP/2 (RFC 8441), and has the timer too,
///   for its keep-alive if you turn it on;
/// - HTTP/2 with prior knowledge and HTTP/1.1 are told apart by the connection
///   preface.
///
/// Serve each connection with `serve_connection_with_upgrades`: without upgrades,
/// hyper cannot hand a connection over to a WebSocket.
///
/// Two things this builder cannot do, which [`serve_connection_with`] does: set
/// TCP_NODELAY (do it on the stream before handing it over, or small frames can
/// wait for the peer's delayed acknowledgement), and bound the wait for the
/// first bytes, which hyper-util reads to tell HTTP/2 from HTTP/1.1 before
/// HTTP/1.1's head timer starts (a connection that sends nothing, or the HTTP/2
/// preface a byte at a time, waits there unbounded). See
/// [the module docs](super#timeouts-and-latency).
pub fn http_builder_with(config: &Config) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.get_handshake_timeout())
        .title_case_headers(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .enable_connect_protocol();
    builder
}

/// Serves one connection of any byte stream with `service` (an axum `Router`, a
/// service built with [`WsLayer`](super::WsLayer), ...), upgrades included, with
/// the default [`Config`]; see [`serve_connection_with`]. It returns when the
/// connection ends.
///
/// It is also the way to test handlers without TCP: serve one end of
/// [`tokio::io::duplex`] and run a WebSocket client on the other; see
/// [the module docs](super#testing-a-handler-without-tcp).
///
/// Cancel safety: dropping it closes the connection; sockets already handed to
/// their handlers live on.
pub async fn serve_connection<IO, S, B>(io: IO, service: S) -> Result<(), ServeError>
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
    serve_connection_with(io, service, &Config::default()).await
}

/// Serves one connection of any byte stream with `service`, upgrades included,
/// through [`http_builder_with`]`(config)`, and:
///
/// - sets TCP_NODELAY when `io` is a [`tokio::net::TcpStream`], so a frame
///   written right after another (a pong after an echo) never waits for the
///   peer's delayed acknowledgement;
/// - closes the connection when its first request has not arrived within
///   `config`'s [`handshake_timeout`](Config::handshake_timeout), whatever the
///   client sends meanwhile (nothing, a byte a second, half an HTTP/2 preface),
///   and returns the crate's [`Error`](crate::Error) for a handshake timeout
///   (its [`is_timeout`](crate::Error::is_timeout) is true, as for every
///   handshake timeout); a later request head on a kept-alive connection is
///   bounded the same way by hyper.
///
/// It returns when the connection ends; the error is hyper's otherwise (a
/// client that went away).
///
/// ```no_run
/// use websocket_protocol::server::{serve_connection_with, RequestInfo, ServerSocket, WsLayer};
/// use websocket_protocol::Config;
///
/// # async fn run(app: axum::Router) -> std::io::Result<()> {
/// let config = Config::default().handshake_timeout(std::time::Duration::from_secs(5));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
/// loop {
///     let (tcp, _) = listener.accept().await?;
///     let (app, config) = (app.clone(), config.clone());
///     tokio::spawn(async move { serve_connection_with(tcp, app, &config).await });
/// }
/// # }
/// ```
///
/// Cancel safety: dropping it closes the connection; sockets already handed to
/// their handlers live on.
pub async fn serve_connection_with<IO, S, B>(
    io: IO,
    service: S,
    config: &Config,
) -> Result<(), ServeError>
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
    set_nodelay(&io);
    let arrived = Arc::new(Notify::new());
    let service = FirstRequest {
        inner: service,
        arrived: arrived.clone(),
    };
    let builder = http_builder_with(config);
    let mut conn =
        pin!(builder
            .serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service)));
    let first = async {
        tokio::select! {
            result = conn.as_mut() => Some(result),
            () = arrived.notified() => None,
        }
    };
    let result = match tokio::time::timeout(config.get_handshake_timeout(), first).await {
        Err(_) => return Err(crate::Error::handshake_timeout().into()),
        Ok(Some(result)) => result,
        Ok(None) => conn.await,
    };
    result.map_err(|e| match e.downcast_ref::<hyper::Error>() {
        Some(e) if e.is_timeout() => crate::Error::handshake_timeout().into(),
        _ => e,
    })
}

/// Turns Nagle's algorithm off on a TCP stream: the socket coalesces its frames
/// itself, so the kernel's batching only adds a delayed-acknowledgement wait.
fn set_nodelay<IO: Any>(io: &IO) {
    if let Some(tcp) = (io as &dyn Any).downcast_ref::<tokio::net::TcpStream>() {
        // Latency, not correctness: a socket that refuses the option still works.
        let _ = tcp.set_nodelay(true);
    }
}

/// The service, telling [`serve_connection_with`] that a request head arrived.
#[derive(Clone)]
struct FirstRequest<S> {
    inner: S,
    arrived: Arc<Notify>,
}

impl<S, R> tower_service::Service<R> for FirstRequest<S>
where
    S: tower_service::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.arrived.notify_one();
        self.inner.call(request)
    }
}
