//! Accepting WebSockets in an HTTP server: [`is_websocket`], the tower
//! [`WsLayer`], the axum extractor [`WsUpgrade`] (feature `axum`), and
//! [`Shutdown`] for closing every live socket.
//!
//! The handshake rules live in [`protocol::Driver`](crate::protocol::Driver); this
//! module answers the request through hyper and, once hyper hands over the upgraded
//! connection, gives your handler a [`ServerSocket`].
//!
//! # Which requests are upgraded
//!
//! - HTTP/1.1 (and hixie-75/76 when [`allow_drafts`](WsLayer::allow_drafts) is set):
//!   a GET whose `Upgrade` header lists `websocket` and whose `Connection` header
//!   lists `upgrade` gets `101 Switching Protocols`.
//! - HTTP/2 (RFC 8441): an extended CONNECT with `:protocol websocket` and
//!   `Sec-WebSocket-Version: 13` gets `200`. hyper's HTTP/2 server must announce
//!   the extended CONNECT (`enable_connect_protocol()`; [`http_builder`] and
//!   `axum::serve` do).
//!
//! A request that asks for an upgrade but is not a valid one gets a plain HTTP
//! error, never a panic: 400 when malformed (no `Connection: upgrade`, no or a bad
//! `Sec-WebSocket-Key`), 405 for a method other than GET (CONNECT on HTTP/2), 426
//! with `Sec-WebSocket-Version: 13` for a version this server does not speak (and
//! for the drafts unless allowed), 403 for an origin the policy refuses, 503 once
//! [`Shutdown`] was triggered, and whatever a
//! [per-request hook](#deciding-per-request) answers.
//!
//! One rule, the core's, decides what an upgrade request is: [`is_websocket`],
//! the layer, the extractor and [`Driver::server`](crate::protocol::Driver::server)
//! cannot disagree. The layer also takes a request whose `Upgrade` lists
//! `websocket` but that is not a valid upgrade, to answer it with its error.
//!
//! # Serving with hyper
//!
//! [`serve_connection_with`] serves one connection with any tower service (an
//! axum `Router`, a service built with [`WsLayer`]), upgrades included, through
//! [`http_builder_with`], with the protections described under
//! [Timeouts and latency](#timeouts-and-latency). An accept loop is all a server
//! needs:
//!
//! ```no_run
//! use websocket_protocol::server::{serve_connection_with, RequestInfo, ServerSocket, WsLayer};
//! use websocket_protocol::Config;
//!
//! # async fn run() -> std::io::Result<()> {
//! let not_found = tower::service_fn(|_req: http::Request<hyper::body::Incoming>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(String::from("not a WebSocket")))
//! });
//! let service = tower::Layer::layer(
//!     &WsLayer::new(|mut ws: ServerSocket, req: RequestInfo| async move {
//!         println!("{} connected with {}", req.uri(), ws.version());
//!         while let Some(Ok(message)) = ws.recv().await {
//!             if ws.send(message).await.is_err() {
//!                 break;
//!             }
//!         }
//!     }),
//!     not_found,
//! );
//! let config = Config::default();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! loop {
//!     let (tcp, _) = listener.accept().await?;
//!     let (service, config) = (service.clone(), config.clone());
//!     tokio::spawn(async move { serve_connection_with(tcp, service, &config).await });
//! }
//! # }
//! ```
//!
//! For hyper's own knobs (HTTP/2 window sizes, keep-alive), take the builder
//! [`http_builder_with`] returns and serve each connection with its
//! `serve_connection_with_upgrades`: an upgrade needs the connection handed over.
//!
//! # Timeouts and latency
//!
//! One setting bounds the opening handshake everywhere:
//! [`Config::handshake_timeout`](crate::Config::handshake_timeout) (10 s by
//! default).
//!
//! | way to serve | request head that does not come | hixie-76 body that does not come | TCP_NODELAY |
//! |---|---|---|---|
//! | [`serve_connection`] / [`serve_connection_with`] | closed at the timeout, from accept, whatever trickles in (nothing, a byte a second, half an HTTP/2 preface) | closed at the timeout | set on a `TcpStream` |
//! | your loop with [`http_builder`] / [`http_builder_with`] | HTTP/1.1: closed at the timeout once hyper-util has told HTTP/1.1 from HTTP/2 by the first bytes; a connection that sends **nothing** waits unbounded in that detection | closed at the timeout | yours to set: `tcp.set_nodelay(true)` |
//! | `axum::serve` | **unbounded**: axum gives hyper no timer | closed at the timeout | **off** (replies to one read still leave in one write, see below): add `.tap_io(\|tcp\| { let _ = tcp.set_nodelay(true); })` to the listener (`axum::serve::ListenerExt`) |
//! | hyper's own `http1::Builder` over `TokioIo<TcpStream>` | hyper's `header_read_timeout`, if you give it a timer | closed at the timeout | set by the layer and the extractor at the upgrade (see [`ServerIo`]) |
//! | [`WebSocket::accept`](crate::WebSocket::accept) on a raw stream | the whole handshake, bounded | the same | yours to set |
//!
//! The hixie-76 bound is the layer's and the extractor's own: they finish that
//! handshake on the upgraded stream before calling the handler, so the handler
//! always gets an open socket. A timeout is reported the same way on every path:
//! an [`Error`](crate::Error) whose [`is_timeout`](crate::Error::is_timeout) is
//! true and whose kind is [`ErrorKind::Timeout`](crate::ErrorKind::Timeout)
//! ([`serve_connection_with`] returns it boxed; the extractor's
//! [`on_failed_handshake`](WsUpgrade::on_failed_handshake) receives it).
//!
//! The socket coalesces the frames it has queued into one write, so the kernel's
//! own batching (Nagle's algorithm) only adds waits: a frame written while an
//! earlier small one is still unacknowledged sits until the peer acknowledges
//! it, which a delayed-ACK peer does after tens of milliseconds
//! (`examples/nagle_rtt.rs` measures it). The layer and the extractor set
//! TCP_NODELAY themselves when hyper hands the `TcpStream` back at the upgrade
//! (hyper's own `http1::Builder` over `TokioIo<TcpStream>`; [`ServerIo`]). They
//! cannot under `axum::serve` or hyper-util's builder: hyper-util wraps the
//! stream in a private type before hyper sees it, so
//! `hyper::upgrade::Upgraded::downcast` cannot give the `TcpStream` back.
//!
//! What the socket does without it: the replies to the frames of one read
//! leave in one write (see "Pipelined replies" in the [`socket`](crate::socket)
//! docs), so a peer's "text, then ping" gets its echo and its pong together and
//! meets no stall even with Nagle on (`tests/server_nodelay.rs` checks the
//! bytes under plain `axum::serve`). What it cannot help: two small writes of
//! the application's own in a row, such as two `send`s of unprompted
//! notifications, where the second waits for the peer's ACK of the first. Set
//! TCP_NODELAY where the stream is accepted, as the table says
//! ([`serve_connection`] does), or queue both with `feed` and write them with
//! one `flush`.
//!
//! `axum::serve` users who want the bounded head wait too serve the `Router`
//! from an accept loop with [`serve_connection_with`], as above (graceful
//! shutdown of the WebSockets is [`Shutdown`]'s either way).
//!
//! # Deciding per request
//!
//! With the extractor, the handler is the per-request decision: it sees the
//! request through axum's other extractors and sets
//! [`protocols`](WsUpgrade::protocols), [`config`](WsUpgrade::config) and
//! the limits before [`on_upgrade`](WsUpgrade::on_upgrade), or returns any
//! response instead. With the layer, [`WsLayer::on_request`] does the same: it
//! sees the request head (path, query, headers, extensions) once the request is
//! found a valid upgrade, and returns an [`Accept`](crate::socket::Accept)
//! (protocols, config, extra response headers) or the response that refuses it.
//! [`WebSocket::accept_with`](crate::WebSocket::accept_with) is the same hook on
//! a raw stream.
//!
//! # The drafts through hyper
//!
//! hixie-75 and hixie-76 clients are picky about the response head: hixie-75
//! compares its first 85 bytes, `HTTP/1.1 101 Web Socket Protocol Handshake`,
//! `Upgrade: WebSocket`, `Connection: Upgrade`, byte for byte. The layer and the
//! extractor set the drafts' reason phrase through `hyper::ext::ReasonPhrase`, but
//! hyper writes header names in lower case unless its HTTP/1 server is built with
//! **`title_case_headers(true)`**, which [`http_builder`] sets. `axum::serve` does
//! not: serve an axum `Router` that accepts the drafts with
//! [`serve_connection_with`] (or [`http_builder`]). The
//! hixie-76 key bytes are read from the upgraded stream (hyper passes on whatever it
//! read past the head) and the 16-byte answer follows the head; the handler is
//! called once they arrived, and a client that does not send them within the
//! config's `handshake_timeout` is disconnected without reaching the handler.
//!
//! # Testing a handler without TCP
//!
//! [`serve_connection`] serves one connection of any byte stream, so a test can put
//! a router at one end of [`tokio::io::duplex`] and a WebSocket client at the other
//! (here tokio-tungstenite; any client that runs over a stream will do):
//!
#![cfg_attr(feature = "axum", doc = "```")]
#![cfg_attr(not(feature = "axum"), doc = "```ignore")]
//! use axum::{routing::get, Router};
//! use futures::{SinkExt, StreamExt};
//! use tokio_tungstenite::tungstenite::Message;
//! use websocket_protocol::server::{serve_connection, WsUpgrade};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let app = Router::new().route(
//!     "/echo",
//!     get(|ws: WsUpgrade| async move {
//!         ws.on_upgrade(|mut socket| async move {
//!             while let Some(Ok(message)) = socket.recv().await {
//!                 if socket.send(message).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         })
//!     }),
//! );
//! let (client_io, server_io) = tokio::io::duplex(64 << 10);
//! tokio::spawn(serve_connection(server_io, app));
//!
//! let (mut client, response) =
//!     tokio_tungstenite::client_async("ws://test/echo", client_io).await?;
//! assert_eq!(response.status(), 101);
//! client.send(Message::text("hello")).await?;
//! assert_eq!(client.next().await.unwrap()?, Message::text("hello"));
//! # Ok(())
//! # }
//! ```
//!
//! See `tests/server_axum.rs` for tests written this way.

mod accept;
mod conn;
#[cfg(feature = "axum")]
mod extract;
mod io;
mod layer;
mod request;
mod shutdown;

pub use conn::{
    http_builder, http_builder_with, serve_connection, serve_connection_with, ServeError,
};
#[cfg(feature = "axum")]
pub use extract::{WsRejection, WsUpgrade};
pub use layer::{ResponseFuture, WsBody, WsLayer, WsService};
pub use request::RequestInfo;
pub use shutdown::{Shutdown, ShutdownOutcome};

use crate::socket::WebSocket;

pub use io::ServerIo;

/// The socket a server handler receives: the typed [`WebSocket`] over hyper's
/// upgraded connection.
pub type ServerSocket = WebSocket<ServerIo>;

/// Whether `request` is a WebSocket upgrade: an HTTP/1.1 GET whose `Upgrade`
/// header lists `websocket` and whose `Connection` header lists `upgrade` (tokens
/// matched case-insensitively in comma lists), or an HTTP/2 extended CONNECT with
/// `:protocol websocket`.
///
/// It says nothing about the rest of the handshake: a request can be a WebSocket
/// upgrade and still be refused (a bad key, an unknown version).
///
/// ```
/// use websocket_protocol::server::is_websocket;
/// let req = http::Request::get("/chat")
///     .header("Upgrade", "WebSocket")
///     .header("Connection", "keep-alive, Upgrade")
///     .body(())
///     .unwrap();
/// assert!(is_websocket(&req));
/// assert!(!is_websocket(&http::Request::get("/").body(()).unwrap()));
/// ```
pub fn is_websocket<B>(request: &http::Request<B>) -> bool {
    crate::protocol::is_upgrade_request(
        request.method(),
        request.headers(),
        accept::pseudo_protocol(request.extensions()),
    )
}

#[cfg(test)]
mod tests {
    use super::is_websocket;

    #[test]
    fn is_websocket_matches_tokens_in_lists_and_extended_connect() {
        let upgrade = |method: &str, upgrade: &str, connection: &str| {
            http::Request::builder()
                .method(method)
                .header("upgrade", upgrade)
                .header("connection", connection)
                .body(())
                .unwrap()
        };
        assert!(is_websocket(&upgrade("GET", "websocket", "Upgrade")));
        assert!(is_websocket(&upgrade(
            "GET",
            "h2c, WEBSOCKET",
            "keep-alive,upgrade"
        )));
        assert!(!is_websocket(&upgrade("POST", "websocket", "Upgrade")));
        assert!(!is_websocket(&upgrade("GET", "websockets", "Upgrade")));
        assert!(!is_websocket(&upgrade("GET", "websocket", "keep-alive")));

        let mut connect = http::Request::connect("http://localhost/chat")
            .version(http::Version::HTTP_2)
            .body(())
            .unwrap();
        assert!(!is_websocket(&connect), "a plain CONNECT is a tunnel");
        connect
            .extensions_mut()
            .insert(hyper::ext::Protocol::from_static("websocket"));
        assert!(is_websocket(&connect));
    }
}
