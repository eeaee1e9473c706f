//! The client: open a [`WebSocket`](crate::WebSocket) to a `ws://` or `wss://` URL.
//!
//! ```no_run
//! # async fn run() -> Result<(), websocket_protocol::client::Error> {
//! let (ws, response) = websocket_protocol::client::connect("ws://127.0.0.1:9001/chat").await?;
//! # Ok(()) }
//! ```
//!
//! The core ([`protocol::Driver::client`](crate::protocol::Driver::client))
//! builds the upgrade request and checks the response: status 101, `Upgrade`,
//! `Connection`, the accept key, a subprotocol we offered (or none), and only
//! extensions we offered (permessage-deflate, when the config enables it). hyper's
//! HTTP/1.1 client connection carries the exchange and hands the stream over
//! (`hyper::upgrade::on`); the socket then masks what it sends, as RFC 6455
//! requires of clients.
//!
//! Three ways in, from the most to the least done for you:
//!
//! - [`connect`] and [`Builder::connect`]: resolve, connect, tunnel through an
//!   HTTP or HTTPS proxy (from the environment unless told otherwise, see
//!   below), TLS for `wss://` (feature `rustls`), handshake, all within one
//!   timeout. Subprotocols, extra headers and the socket
//!   [`Config`](crate::Config) come from the [`Builder`].
//! - [`Builder::connect_on`]: the handshake over any stream you opened (a Unix
//!   socket, your own TLS).
//! - [`Builder::into_handshake`]: the request to send on your own hyper
//!   connection, and a [`Handshake`] to [`finish`](Handshake::finish) with the
//!   response.
//!
//! Everything fails with one [`Error`] whose [`ErrorKind`] says what happened;
//! a refusal keeps the server's status, headers and the start of its body.
//!
//! Without the `rustls` feature, a `wss://` URL (or an `https://` proxy) fails
//! with [`ErrorKind::TlsNotEnabled`] before anything is sent. Feature
//! `rustls-native-roots` adds the platform's root certificates to the webpki
//! roots of the default configuration.
//!
//! # Proxies
//!
//! Like curl, [`connect`] goes through the proxy the environment names:
//! `https_proxy`/`HTTPS_PROXY` for `wss://`, `http_proxy` (lowercase only) for
//! `ws://`, `all_proxy`/`ALL_PROXY` for either, except for the hosts that
//! `no_proxy`/`NO_PROXY` lists (names and their subdomains, addresses, CIDR
//! ranges, `*`). [`ProxyEnv`] has the rules in full. The proxy is reached with
//! `CONNECT`, over TLS for an `https://` proxy, with `Proxy-Authorization:
//! Basic` from the credentials in its URL; TLS to a `wss://` server runs end to
//! end inside the tunnel.
//!
//! A [`Builder`] decides otherwise with the last of
//! [`proxy(url)`](Builder::proxy) (that proxy, no variable read),
//! [`proxy(None)`](Builder::proxy) or [`no_proxy()`](Builder::no_proxy)
//! (direct), and [`proxy_env(settings)`](Builder::proxy_env) (those settings
//! instead of the environment's).
//!
//! ```no_run
//! use websocket_protocol::client::{self, Builder};
//!
//! # async fn run() -> Result<(), client::Error> {
//! // HTTPS_PROXY=http://proxy.corp:3128 NO_PROXY=.internal,10.0.0.0/8
//! let (ws, _) = client::connect("wss://example.com/feed").await?;      // via proxy.corp
//! let (ws, _) = client::connect("wss://db.internal/feed").await?;      // direct
//! let (ws, _) = Builder::new("wss://example.com/feed").no_proxy().connect().await?; // direct
//! # Ok(()) }
//! ```

mod builder;
mod error;
mod exchange;
mod proxy;
mod proxy_env;
mod target;
mod tls;

pub use builder::{Builder, IntoProxy, DEFAULT_MAX_ERROR_BODY};
pub use error::{Error, ErrorKind};
pub use exchange::{ClientStream, Connected, Handshake};
pub use proxy_env::ProxyEnv;

/// Connects to `url` with the default settings of [`Builder`]: no
/// subprotocol, no extra header, a 10 s timeout, the proxy the environment
/// names for it (see [Proxies](self#proxies)).
///
/// # Cancel safety
///
/// Not cancel safe: dropping the future closes the connection being opened.
pub async fn connect(url: impl Into<String>) -> Result<Connected, Error> {
    Builder::new(url).connect().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync_static<T: Send + Sync + 'static>(_: &T) {}
    fn send<T: Send>(_: &T) {}

    #[test]
    fn errors_and_futures_can_cross_tasks() {
        let error = Error::new(ErrorKind::Io, "x");
        send_sync_static(&error);
        send(&connect("ws://localhost/"));
        send(&Builder::new("ws://localhost/").connect_on(tokio::io::duplex(64).0));
    }
}
