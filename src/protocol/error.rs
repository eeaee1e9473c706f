//! The core's error type.

use super::close::CloseCode;
use super::version::Version;
use http::StatusCode;
use std::fmt;

/// What went wrong, in the core.
///
/// Handshake errors come from the constructors and from the client's response
/// check; a server handshake error knows the HTTP response that should answer it
/// ([`Error::response`]). Errors of the peer on an open connection never fail an
/// input: they arrive as [`Event::Error`](super::Event::Error) followed by the close
/// they caused, and [`Error::close_code`] says which code that close carries.
/// Misuse by the caller, such as sending after close, is an `Err` from the command.
///
/// It has the shape of every error of this crate: [`kind`](Error::kind) by
/// value (a `Copy`, non-exhaustive [`ErrorKind`]), `is_*` predicates for the
/// groups a caller reacts to (the same groups as the socket's
/// [`ErrorKind`](crate::ErrorKind)), and a `Display` text of its own. It is a
/// leaf: [`source`](std::error::Error::source) is `None`. It converts into
/// [`websocket_protocol::Error`](crate::Error) with `?`.
///
/// ```
/// use websocket_protocol::protocol::{Driver, ErrorKind, Options};
/// let err = Driver::client("ftp://example.com/", Options::default()).unwrap_err();
/// assert!(matches!(err.kind(), ErrorKind::InvalidUrl(_)));
/// assert!(err.is_handshake());
/// assert_eq!(err.to_string(), "invalid WebSocket URL: the scheme must be ws:// or wss://");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    /// The subprotocol or extension name behind `Unoffered*`, boxed so that the
    /// error stays as small as a `Bytes` and does not grow `Event`.
    name: Option<Box<Box<str>>>,
}

/// The kinds of [`Error`]: `Copy`, so [`Error::kind`] returns one by value.
/// Variants carry a fixed description of the cause where one helps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request is not a well-formed WebSocket upgrade (400).
    MalformedRequest(&'static str),
    /// The upgrade request used a method other than GET (405).
    MethodNotAllowed,
    /// `Sec-WebSocket-Version` names a version this server does not speak (426).
    UnsupportedVersion,
    /// A hixie-75/76 request reached a server that does not allow the drafts (426).
    DraftsNotAllowed(Version),
    /// The request head is larger than the configured maximum (431).
    RequestTooLarge,
    /// The client URL is not a usable `ws://` or `wss://` URL.
    InvalidUrl(&'static str),
    /// The server answered with a status other than 101.
    UnexpectedStatus(StatusCode),
    /// The server's handshake response is malformed or misses a required header.
    MalformedResponse(&'static str),
    /// `Sec-WebSocket-Accept` does not match the key we sent.
    InvalidAccept,
    /// The server chose a subprotocol we did not offer; [`Error::name`] is the
    /// one it chose.
    UnofferedProtocol,
    /// The server accepted an extension we did not offer; [`Error::name`] is
    /// the one it named.
    UnofferedExtension,
    /// The peer broke the framing rules; the connection closed with 1002.
    Protocol(&'static str),
    /// A text message or close reason was not UTF-8; the connection closed with 1007.
    InvalidUtf8,
    /// A frame or message exceeded the configured maximum; closed with 1009.
    TooBig,
    /// The peer stayed silent past the idle timeout; closed with 1001.
    IdleTimeout,
    /// The peer did not answer our close frame within the close timeout.
    CloseTimeout,
    /// The opening handshake did not finish within the handshake timeout (the
    /// request head, a hixie-76 body or the server's answer did not come).
    HandshakeTimeout,
    /// The connection is closing or closed: nothing more can be sent.
    Closed,
    /// The protocol version in use cannot do this (binary or ping on hixie).
    Unsupported(&'static str),
    /// A close code that may not be sent, or a control payload over 125 bytes.
    InvalidControlFrame(&'static str),
    /// A message is being sent in fragments: no other data message can start
    /// until it is finished (RFC 6455 section 5.4).
    MessageInProgress,
    /// A piece of a message sent in fragments was refused (text that is not
    /// UTF-8, or that ends inside a code point; a token of another
    /// connection): nothing of it was sent, the message is still open.
    InvalidFragment(&'static str),
    /// A message sent in fragments was given up before its end: the
    /// connection failed with 1011, since the peer could receive nothing else.
    MessageAbandoned,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Error { kind, name: None }
    }

    /// [`ErrorKind::UnofferedProtocol`] with the name the server chose.
    pub(crate) fn unoffered_protocol(name: &str) -> Self {
        Error {
            kind: ErrorKind::UnofferedProtocol,
            name: Some(Box::new(name.into())),
        }
    }

    /// [`ErrorKind::UnofferedExtension`] with the name the server accepted.
    pub(crate) fn unoffered_extension(name: &str) -> Self {
        Error {
            kind: ErrorKind::UnofferedExtension,
            name: Some(Box::new(name.into())),
        }
    }

    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The subprotocol or extension name the server sent, for
    /// [`UnofferedProtocol`](ErrorKind::UnofferedProtocol) and
    /// [`UnofferedExtension`](ErrorKind::UnofferedExtension).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref().map(|name| &**name)
    }

    /// The close code this error stands for, for errors that end a connection:
    /// 1002, 1007 and 1009 for the peer's violations and 1001 for the idle
    /// timeout, which the close frame that fails the connection carries; 1006
    /// ([`CloseCode::ABNORMAL`]) for a close timeout, which is never sent. No
    /// frame goes out when ours had already been sent (the connection was
    /// closing), and hixie close frames carry no code: the code is in the
    /// [`Event::Close`](super::Event::Close) frame either way.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self.kind {
            ErrorKind::Protocol(_) => Some(CloseCode::PROTOCOL_ERROR),
            ErrorKind::InvalidUtf8 => Some(CloseCode::INVALID_PAYLOAD),
            ErrorKind::TooBig => Some(CloseCode::TOO_BIG),
            ErrorKind::IdleTimeout => Some(CloseCode::GOING_AWAY),
            ErrorKind::CloseTimeout => Some(CloseCode::ABNORMAL),
            ErrorKind::MessageAbandoned => Some(CloseCode::INTERNAL_ERROR),
            _ => None,
        }
    }

    /// The HTTP status a server answers this handshake error with.
    pub fn status(&self) -> Option<StatusCode> {
        Some(match self.kind {
            ErrorKind::MalformedRequest(_) => StatusCode::BAD_REQUEST,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::UnsupportedVersion | ErrorKind::DraftsNotAllowed(_) => {
                StatusCode::UPGRADE_REQUIRED
            }
            ErrorKind::RequestTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            _ => return None,
        })
    }

    /// The HTTP response a server sends for this handshake error: the status, a
    /// `Sec-WebSocket-Version: 13` header with 426, `Allow: GET` with 405, and a
    /// one-line plain-text body naming the cause.
    ///
    /// ```
    /// use websocket_protocol::protocol::{Driver, Options};
    /// let req = http::Request::get("/").header("Upgrade", "websocket")
    ///     .header("Connection", "Upgrade").header("Sec-WebSocket-Version", "9")
    ///     .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==").body(()).unwrap();
    /// let err = Driver::server(&req, Options::default()).unwrap_err();
    /// let res = err.response().unwrap();
    /// assert_eq!(res.status(), 426);
    /// assert_eq!(res.headers()["sec-websocket-version"], "13");
    /// ```
    pub fn response(&self) -> Option<http::Response<String>> {
        let status = self.status()?;
        let mut builder = http::Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .header(http::header::CONNECTION, "close");
        match self.kind {
            ErrorKind::UnsupportedVersion | ErrorKind::DraftsNotAllowed(_) => {
                builder = builder.header("Sec-WebSocket-Version", "13");
            }
            ErrorKind::MethodNotAllowed => builder = builder.header(http::header::ALLOW, "GET"),
            _ => {}
        }
        Some(
            builder
                .body(format!("{self}\n"))
                .expect("static response parts are valid"),
        )
    }

    /// [`response`](Error::response) as HTTP/1.1 bytes, for servers without an HTTP
    /// stack of their own.
    pub fn response_bytes(&self) -> Option<Vec<u8>> {
        Some(super::handshake::response_bytes(&self.response()?, None))
    }

    /// Whether the opening handshake failed (either side).
    pub fn is_handshake(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::MalformedRequest(_)
                | ErrorKind::MethodNotAllowed
                | ErrorKind::UnsupportedVersion
                | ErrorKind::DraftsNotAllowed(_)
                | ErrorKind::RequestTooLarge
                | ErrorKind::InvalidUrl(_)
                | ErrorKind::UnexpectedStatus(_)
                | ErrorKind::MalformedResponse(_)
                | ErrorKind::InvalidAccept
                | ErrorKind::UnofferedProtocol
                | ErrorKind::UnofferedExtension
        )
    }

    /// Whether the peer broke the framing rules or sent text that is not UTF-8.
    pub fn is_protocol(&self) -> bool {
        matches!(self.kind, ErrorKind::Protocol(_) | ErrorKind::InvalidUtf8)
    }

    /// Whether a frame or message exceeded a configured maximum.
    pub fn is_limit_exceeded(&self) -> bool {
        self.kind == ErrorKind::TooBig
    }

    /// Whether a timer expired (handshake, idle or close timeout).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::HandshakeTimeout | ErrorKind::IdleTimeout | ErrorKind::CloseTimeout
        )
    }

    /// Whether this is the error for sending on a closing or closed connection.
    pub fn is_closed(&self) -> bool {
        self.kind == ErrorKind::Closed
    }

    /// Whether the caller asked for something the connection cannot do: a
    /// close code that may not be sent, a control payload over 125 bytes,
    /// binary or ping on hixie, a data message while one is sent in
    /// fragments, a refused fragment, a fragmented message given up.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Unsupported(_)
                | ErrorKind::InvalidControlFrame(_)
                | ErrorKind::MessageInProgress
                | ErrorKind::InvalidFragment(_)
                | ErrorKind::MessageAbandoned
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::MalformedRequest(why) => write!(f, "malformed WebSocket request: {why}"),
            ErrorKind::MethodNotAllowed => f.write_str("a WebSocket upgrade must use GET"),
            // These two are also the body of the 426 response: they speak to
            // the client.
            ErrorKind::UnsupportedVersion => f.write_str(
                "this server does not speak the requested WebSocket version; \
                 it speaks Sec-WebSocket-Version: 13",
            ),
            ErrorKind::DraftsNotAllowed(v) => write!(
                f,
                "this server does not accept {v} WebSocket clients; \
                 it speaks Sec-WebSocket-Version: 13"
            ),
            ErrorKind::RequestTooLarge => f.write_str("handshake request head is too large"),
            ErrorKind::InvalidUrl(why) => write!(f, "invalid WebSocket URL: {why}"),
            ErrorKind::UnexpectedStatus(s) => {
                write!(f, "server refused the WebSocket upgrade with status {s}")
            }
            ErrorKind::MalformedResponse(why) => write!(f, "malformed handshake response: {why}"),
            ErrorKind::InvalidAccept => {
                f.write_str("Sec-WebSocket-Accept does not match the key we sent")
            }
            ErrorKind::UnofferedProtocol => write!(
                f,
                "server chose subprotocol {:?}, which we did not offer",
                self.name().unwrap_or_default()
            ),
            ErrorKind::UnofferedExtension => write!(
                f,
                "server accepted extension {:?}, which we did not offer",
                self.name().unwrap_or_default()
            ),
            ErrorKind::Protocol(why) => write!(f, "protocol error: {why}"),
            ErrorKind::InvalidUtf8 => f.write_str("text is not valid UTF-8"),
            ErrorKind::TooBig => f.write_str("frame or message exceeds the configured maximum"),
            ErrorKind::IdleTimeout => f.write_str("peer was silent past the idle timeout"),
            ErrorKind::CloseTimeout => {
                f.write_str("peer did not complete the closing handshake in time")
            }
            ErrorKind::HandshakeTimeout => {
                f.write_str("the opening handshake did not finish within the handshake timeout")
            }
            ErrorKind::Closed => f.write_str("the WebSocket is closing or closed"),
            ErrorKind::Unsupported(what) => {
                write!(f, "unsupported by this protocol version: {what}")
            }
            ErrorKind::InvalidControlFrame(why) => write!(f, "invalid control frame: {why}"),
            ErrorKind::MessageInProgress => f.write_str(
                "a message is being sent in fragments: it must finish before another starts",
            ),
            ErrorKind::InvalidFragment(why) => write!(f, "fragment refused: {why}"),
            ErrorKind::MessageAbandoned => {
                f.write_str("a message sent in fragments was abandoned before its end")
            }
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_no_bigger_than_a_bytes() {
        assert!(std::mem::size_of::<Error>() <= std::mem::size_of::<bytes::Bytes>());
    }

    #[test]
    fn every_kind_is_in_at_most_one_group() {
        use ErrorKind as K;
        let kinds = [
            K::MalformedRequest("x"),
            K::MethodNotAllowed,
            K::UnsupportedVersion,
            K::DraftsNotAllowed(Version::Hixie76),
            K::RequestTooLarge,
            K::InvalidUrl("x"),
            K::UnexpectedStatus(StatusCode::FORBIDDEN),
            K::MalformedResponse("x"),
            K::InvalidAccept,
            K::UnofferedProtocol,
            K::UnofferedExtension,
            K::Protocol("x"),
            K::InvalidUtf8,
            K::TooBig,
            K::IdleTimeout,
            K::CloseTimeout,
            K::Closed,
            K::Unsupported("x"),
            K::InvalidControlFrame("x"),
            K::MessageInProgress,
            K::InvalidFragment("x"),
            K::MessageAbandoned,
        ];
        for kind in kinds {
            let e = Error::new(kind);
            let groups = [
                e.is_handshake(),
                e.is_protocol(),
                e.is_limit_exceeded(),
                e.is_timeout(),
                e.is_closed(),
                e.is_invalid_input(),
            ];
            assert_eq!(groups.iter().filter(|g| **g).count(), 1, "{kind:?}");
        }
    }

    #[test]
    fn unoffered_names_are_kept_and_shown() {
        let e = Error::unoffered_protocol("superchat");
        assert_eq!(e.kind(), ErrorKind::UnofferedProtocol);
        assert_eq!(e.name(), Some("superchat"));
        assert_eq!(
            e.to_string(),
            "server chose subprotocol \"superchat\", which we did not offer"
        );
        let e = Error::unoffered_extension("x-foo");
        assert_eq!(e.name(), Some("x-foo"));
        assert!(e.to_string().contains("\"x-foo\""));
        assert_eq!(Error::new(ErrorKind::TooBig).name(), None);
    }
}
