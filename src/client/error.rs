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
/// happened, the `Display` text says it in words (the step that failed, with the
/// host, status or protocol involved), and [`source`](StdError::source) leads
/// to the I/O, TLS or HTTP error underneath, without repeating it. A failed
/// check of the server's response is the core's
/// [`protocol::Error`](crate::protocol::Error): its text is this error's text,
/// and [`protocol_error`](Error::protocol_error) gives it. It is one pointer
/// wide, so cheap to return, and cheap to clone.
///
/// It converts into [`websocket_protocol::Error`](crate::Error) with `?`, so
/// one function can connect and then send (see [the crate's errors](crate::Error)).
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
    /// What failed, in words; empty when `core` says it.
    context: String,
    response: Option<http::Response<Bytes>>,
    source: Option<Source>,
    /// The core's verdict on the response: the same failure, not a cause.
    core: Option<protocol::Error>,
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
                core: None,
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
            P::UnofferedProtocol => ErrorKind::UnofferedProtocol,
            P::UnofferedExtension => ErrorKind::UnofferedExtension,
            _ => ErrorKind::MalformedResponse,
        };
        let mut error = Error::new(kind, "");
        error.inner.core = Some(source);
        error
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
    /// For [`UnofferedProtocol`](protocol::ErrorKind::UnofferedProtocol) and
    /// [`UnofferedExtension`](protocol::ErrorKind::UnofferedExtension), its
    /// [`name`](protocol::Error::name) is the one the server sent. It is this
    /// error's text, not its [`source`](StdError::source).
    pub fn protocol_error(&self) -> Option<&protocol::Error> {
        self.inner.core.as_ref()
    }

    /// The I/O error underneath, when the transport failed (connecting,
    /// reading, writing): the first one in the chain of sources, also under a
    /// hyper or TLS error.
    pub fn io_error(&self) -> Option<&std::io::Error> {
        let mut next = self
            .inner
            .source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static));
        while let Some(e) = next {
            if let Some(io) = e.downcast_ref() {
                return Some(io);
            }
            next = e.source();
        }
        None
    }

    /// Whether the opening ran out of time ([`ErrorKind::Timeout`]).
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::Timeout
    }

    /// Whether the server answered with a status other than 101
    /// ([`ErrorKind::Refused`]).
    pub fn is_refused(&self) -> bool {
        self.inner.kind == ErrorKind::Refused
    }

    /// Whether connecting, reading or writing failed ([`ErrorKind::Io`]).
    pub fn is_io(&self) -> bool {
        self.inner.kind == ErrorKind::Io
    }

    /// Whether TLS could not be set up ([`ErrorKind::Tls`]).
    pub fn is_tls(&self) -> bool {
        self.inner.kind == ErrorKind::Tls
    }

    /// Whether the proxy failed or refused the tunnel ([`ErrorKind::Proxy`]).
    pub fn is_proxy(&self) -> bool {
        self.inner.kind == ErrorKind::Proxy
    }

    /// Whether the server's answer is not a valid acceptance: a 101 that is
    /// malformed, has the wrong accept key, or picks a subprotocol or extension
    /// we did not offer.
    pub fn is_invalid_response(&self) -> bool {
        matches!(
            self.inner.kind,
            ErrorKind::MalformedResponse
                | ErrorKind::InvalidAccept
                | ErrorKind::UnofferedProtocol
                | ErrorKind::UnofferedExtension
        )
    }
}

impl ErrorKind {
    /// The kind in words, for an error that has nothing more specific to say.
    fn describe(self) -> &'static str {
        match self {
            ErrorKind::InvalidUrl => "invalid WebSocket URL",
            ErrorKind::InvalidHeader => "invalid handshake header",
            ErrorKind::TlsNotEnabled => "wss:// needs the `rustls` feature",
            ErrorKind::Io => "I/O error while opening the WebSocket",
            ErrorKind::Tls => "TLS failed",
            ErrorKind::Proxy => "the proxy failed",
            ErrorKind::Timeout => "opening the WebSocket took longer than the connect timeout",
            ErrorKind::Refused => "the server refused the WebSocket upgrade",
            ErrorKind::MalformedResponse => "malformed handshake response",
            ErrorKind::InvalidAccept => "Sec-WebSocket-Accept does not match the key we sent",
            ErrorKind::UnofferedProtocol => "the server chose a subprotocol we did not offer",
            ErrorKind::UnofferedExtension => "the server accepted an extension we did not offer",
        }
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
        if let Some(core) = &self.inner.core {
            d.field("core", core);
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
        // Our own text only: the source is for `source()`, and a reporter
        // that walks the chain prints it once.
        match (&inner.core, inner.context.is_empty()) {
            (_, false) => f.write_str(&inner.context),
            (Some(core), true) => fmt::Display::fmt(core, f),
            (None, true) => f.write_str(inner.kind.describe()),
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
    fn display_is_the_context_and_source_the_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused by peer");
        let e = Error::io("connecting to 127.0.0.1:9", io);
        assert_eq!(e.to_string(), "connecting to 127.0.0.1:9");
        assert_eq!(StdError::source(&e).unwrap().to_string(), "refused by peer");
        assert_eq!(
            e.io_error().unwrap().kind(),
            std::io::ErrorKind::ConnectionRefused
        );
        assert!(e.is_io());
        assert_eq!(Error::new(ErrorKind::Tls, "").to_string(), "TLS failed");
    }

    #[test]
    fn io_error_is_found_under_a_wrapper() {
        #[derive(Debug)]
        struct Wrapper(std::io::Error);
        impl fmt::Display for Wrapper {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("wrapped")
            }
        }
        impl StdError for Wrapper {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let io = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let e = Error::new(ErrorKind::Io, "sending the upgrade request").with_source(Wrapper(io));
        assert_eq!(e.io_error().unwrap().kind(), std::io::ErrorKind::BrokenPipe);
        assert!(Error::new(ErrorKind::Tls, "x").io_error().is_none());
    }

    #[test]
    fn a_core_verdict_is_the_text_not_a_source() {
        let e = Error::handshake(protocol::Error::new(protocol::ErrorKind::InvalidAccept));
        assert_eq!(
            e.to_string(),
            "Sec-WebSocket-Accept does not match the key we sent"
        );
        assert!(StdError::source(&e).is_none());
        assert!(e.is_invalid_response());
        assert_eq!(
            e.protocol_error().unwrap().kind(),
            protocol::ErrorKind::InvalidAccept
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
