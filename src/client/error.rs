//! The client's one error type.

use crate::protocol;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

type Source = Arc<dyn StdError + Send + Sync>;

/// Why a client connection could not be opened.
///
/// One type for everything [`connect`](super::connect) and the
/// [`Builder`](super::Builder) can fail with; [`kind`](Error::kind) says what
/// happened, the `Display` text says it in words (with the host, status or
/// protocol involved), and [`source`](StdError::source) leads to the underlying
/// I/O, TLS, HTTP or core error. It is one pointer wide, so cheap to return,
/// and cheap to clone.
///
/// A server that answers anything but `101 Switching Protocols` is
/// [`ErrorKind::Refused`], and the error keeps what it said: [`status`](Error::status),
/// [`headers`](Error::headers) and the start of the [`body`](Error::body). A proxy
/// that refuses the tunnel is [`ErrorKind::Proxy`] and keeps the same.
///
/// ```no_run
/// use websocket_protocol::client::{self, ErrorKind};
/// # async fn run() {
/// match client::connect("ws://127.0.0.1:9001/chat").await {
///     Ok((ws, response)) => { /* talk */ }
///     Err(e) if e.kind() == ErrorKind::Refused => {
///         eprintln!("refused with {:?}: {:?}", e.status(), String::from_utf8_lossy(e.body().unwrap()));
///     }
///     Err(e) => eprintln!("{e}"),
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    context: String,
    response: Option<http::Response<Bytes>>,
    source: Option<Source>,
}

/// The kinds of [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The URL is not a usable `ws://` or `wss://` URL (or the proxy URL, given
    /// or from the environment, is not an `http://` or `https://` URL).
    InvalidUrl,
    /// A header or subprotocol given to the builder is invalid, or the header
    /// is one the handshake sets itself (`Host`, `Upgrade`, `Connection`,
    /// `Sec-WebSocket-Key`, `Sec-WebSocket-Version`, `Sec-WebSocket-Protocol`,
    /// `Sec-WebSocket-Extensions`).
    InvalidHeader,
    /// A `wss://` URL or an `https://` proxy, but the crate was built without
    /// its `rustls` feature.
    TlsNotEnabled,
    /// Connecting, reading or writing failed, or the server closed the
    /// connection before answering.
    Io,
    /// TLS could not be set up: the server's certificate was refused, the
    /// handshake failed, or the host is not a valid TLS server name.
    Tls,
    /// The proxy could not be reached, failed the TLS handshake (an
    /// `https://` proxy), refused the `CONNECT` (its status, headers and body
    /// start are kept), or did not speak HTTP.
    Proxy,
    /// The opening (connect, proxy, TLS, handshake) took longer than the
    /// builder's [`connect_timeout`](super::Builder::connect_timeout).
    Timeout,
    /// The server answered with a status other than 101; its status, headers and
    /// the start of its body are kept.
    Refused,
    /// The server's response is not valid HTTP/1.1, or is a 101 without the
    /// `Upgrade: websocket` or `Connection: Upgrade` it needs.
    MalformedResponse,
    /// `Sec-WebSocket-Accept` does not match the key we sent: the server (or
    /// something between) does not speak WebSocket.
    InvalidAccept,
    /// The server chose a subprotocol we did not offer.
    UnofferedProtocol,
    /// The server accepted an extension we did not offer.
    UnofferedExtension,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, context: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                context: context.into(),
                response: None,
                source: None,
            }),
        }
    }

    pub(crate) fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Arc::new(source));
        self
    }

    pub(crate) fn with_response(mut self, response: http::Response<Bytes>) -> Self {
        self.inner.response = Some(response);
        self
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        let kind = if source.kind() == std::io::ErrorKind::TimedOut {
            ErrorKind::Timeout
        } else {
            ErrorKind::Io
        };
        Error::new(kind, context).with_source(source)
    }

    /// Maps a handshake error from the core to its kind here.
    pub(crate) fn handshake(source: protocol::Error) -> Self {
        use protocol::ErrorKind as P;
        let kind = match source.kind() {
            P::InvalidUrl(_) => ErrorKind::InvalidUrl,
            P::UnexpectedStatus(_) => ErrorKind::Refused,
            P::InvalidAccept => ErrorKind::InvalidAccept,
            P::UnofferedProtocol(_) => ErrorKind::UnofferedProtocol,
            P::UnofferedExtension(_) => ErrorKind::UnofferedExtension,
            _ => ErrorKind::MalformedResponse,
        };
        Error::new(kind, "").with_source(source)
    }

    /// What happened.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The status of a refusal: the server's ([`ErrorKind::Refused`]) or the
    /// proxy's ([`ErrorKind::Proxy`]).
    pub fn status(&self) -> Option<StatusCode> {
        self.inner.response.as_ref().map(|r| r.status())
    }

    /// The headers of a refusal, as [`status`](Error::status).
    pub fn headers(&self) -> Option<&HeaderMap> {
        self.inner.response.as_ref().map(|r| r.headers())
    }

    /// The start of a refusal's body, at most
    /// [`max_error_body`](super::Builder::max_error_body) bytes (4 KiB by
    /// default); the rest was not read.
    pub fn body(&self) -> Option<&Bytes> {
        self.inner.response.as_ref().map(|r| r.body())
    }

    /// A refusal as a whole: status, headers and the start of the body.
    pub fn response(&self) -> Option<&http::Response<Bytes>> {
        self.inner.response.as_ref()
    }

    /// Takes the refusal out of the error.
    pub fn into_response(self) -> Option<http::Response<Bytes>> {
        self.inner.response
    }

    /// The core's handshake error, for the kinds that come from its checks of
    /// the response (refusal, accept key, protocol, extension, malformed 101).
    /// [`UnofferedProtocol`](protocol::ErrorKind::UnofferedProtocol) and
    /// [`UnofferedExtension`](protocol::ErrorKind::UnofferedExtension) carry the
    /// name the server sent.
    pub fn protocol_error(&self) -> Option<&protocol::Error> {
        self.inner.source.as_ref()?.downcast_ref()
    }

    /// Whether the opening ran out of time.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::Timeout
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind);
        if !self.inner.context.is_empty() {
            d.field("context", &self.inner.context);
        }
        if let Some(response) = &self.inner.response {
            d.field("status", &response.status());
            d.field("body", response.body());
        }
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        if let (ErrorKind::Refused, Some(response)) = (inner.kind, &inner.response) {
            write!(
                f,
                "server refused the WebSocket upgrade with status {}",
                response.status()
            )?;
            let body = String::from_utf8_lossy(response.body());
            let line = body.lines().map(str::trim).find(|l| !l.is_empty());
            if let Some(line) = line {
                write!(f, ": {}", line.chars().take(200).collect::<String>())?;
            }
            return Ok(());
        }
        match (inner.context.is_empty(), &inner.source) {
            (false, Some(source)) => write!(f, "{}: {source}", inner.context),
            (false, None) => f.write_str(&inner.context),
            (true, Some(source)) => write!(f, "{source}"),
            (true, None) => write!(f, "{:?}", inner.kind),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|s| &**s as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_one_pointer_wide() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn refusal_display_names_status_and_first_body_line() {
        let response = http::Response::builder()
            .status(401)
            .body(Bytes::from_static(b"\n  token expired\nmore"))
            .unwrap();
        let e = Error::new(ErrorKind::Refused, "").with_response(response);
        assert_eq!(
            e.to_string(),
            "server refused the WebSocket upgrade with status 401 Unauthorized: token expired"
        );
    }

    #[test]
    fn core_errors_map_to_their_kinds() {
        let e = Error::handshake(
            crate::protocol::Driver::client("ftp://x", Default::default()).unwrap_err(),
        );
        assert_eq!(e.kind(), ErrorKind::InvalidUrl);
        assert!(e.protocol_error().is_some());
    }
}
