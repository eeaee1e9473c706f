//! The error type of the socket layer: one type for everything a
//! [`WebSocket`](crate::WebSocket) can report, small enough to pass around.

use crate::protocol::{self, CloseCode};
use http::StatusCode;
use std::fmt;
use std::io;
use std::sync::Arc;

/// What went wrong on a [`WebSocket`](crate::WebSocket).
///
/// [`kind`](Error::kind) sorts errors into what a caller reacts to; the accessors
/// give the details: [`status`](Error::status) for a refused handshake,
/// [`close_code`](Error::close_code) for a connection closed because of a
/// violation, [`io_error`](Error::io_error) and
/// [`protocol_error`](Error::protocol_error) for the underlying cause.
///
/// Errors are cheap to clone: a failure that several waiters see (a reader, a
/// pending [`ping`](crate::WebSocket::ping), a sender) is one shared cause.
///
/// ```
/// use websocket_protocol::{Error, ErrorKind};
/// let err = Error::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
/// assert_eq!(err.kind(), ErrorKind::Io);
/// assert!(err.is_io());
/// ```
#[derive(Clone)]
pub struct Error {
    repr: Box<Repr>,
}

#[derive(Clone)]
enum Repr {
    Protocol(protocol::Error),
    Io(Arc<io::Error>),
}

/// The kinds of [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The opening handshake failed: the request or response was refused or
    /// malformed. [`Error::status`] gives the HTTP status when there is one.
    Handshake,
    /// The peer broke the protocol (framing, UTF-8); the connection was closed
    /// with the code [`Error::close_code`] gives.
    Protocol,
    /// A frame or message exceeded a configured limit; the connection was closed
    /// with 1009.
    LimitExceeded,
    /// A timer expired: the opening handshake did not finish within the
    /// handshake timeout, the peer was idle past the idle timeout (closed with
    /// 1001) or did not finish the closing handshake within the close timeout.
    Timeout,
    /// The transport failed, or ended without a closing handshake
    /// ([`std::io::ErrorKind::UnexpectedEof`]).
    Io,
    /// The connection is closing or closed: nothing more can be sent.
    Closed,
    /// The request cannot be carried out: a ping or close reason too long, a
    /// close code that may not be sent, binary or ping on a hixie connection.
    InvalidInput,
}

impl Error {
    pub(crate) fn closed() -> Self {
        Error::from(protocol::Error::new(protocol::ErrorKind::Closed))
    }

    /// The opening handshake did not finish in time: the same error on every
    /// path (a raw accept or connect, a server's hixie-76 body, a request head a
    /// server waited for).
    pub(crate) fn handshake_timeout() -> Self {
        Error::from(protocol::Error::new(protocol::ErrorKind::HandshakeTimeout))
    }

    /// The connection ended without a closing handshake.
    pub(crate) fn unexpected_eof() -> Self {
        Error::from(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the peer closed the connection without a closing handshake",
        ))
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        use protocol::ErrorKind as P;
        let e = match &*self.repr {
            Repr::Io(_) => return ErrorKind::Io,
            Repr::Protocol(e) => e,
        };
        if e.is_handshake() {
            return ErrorKind::Handshake;
        }
        match e.kind() {
            P::Protocol(_) | P::InvalidUtf8 => ErrorKind::Protocol,
            P::TooBig => ErrorKind::LimitExceeded,
            P::IdleTimeout | P::CloseTimeout | P::HandshakeTimeout => ErrorKind::Timeout,
            P::Closed => ErrorKind::Closed,
            _ => ErrorKind::InvalidInput,
        }
    }

    /// The HTTP status of a refused handshake: the status a server answered
    /// (client side), or the one this server answered with (server side).
    pub fn status(&self) -> Option<StatusCode> {
        let e = self.protocol_error()?;
        match e.kind() {
            protocol::ErrorKind::UnexpectedStatus(status) => Some(*status),
            _ => e.status(),
        }
    }

    /// The close code sent to the peer because of this error (1002, 1007, 1009,
    /// 1001 for the idle timeout), or 1006 for a close timeout.
    pub fn close_code(&self) -> Option<CloseCode> {
        self.protocol_error()?.close_code()
    }

    /// The protocol core's error, when the cause is one.
    pub fn protocol_error(&self) -> Option<&protocol::Error> {
        match &*self.repr {
            Repr::Protocol(e) => Some(e),
            Repr::Io(_) => None,
        }
    }

    /// The I/O error, when the transport failed.
    pub fn io_error(&self) -> Option<&io::Error> {
        match &*self.repr {
            Repr::Io(e) => Some(e),
            Repr::Protocol(_) => None,
        }
    }

    /// Whether the opening handshake failed.
    pub fn is_handshake(&self) -> bool {
        self.kind() == ErrorKind::Handshake
    }

    /// Whether the peer broke the protocol.
    pub fn is_protocol(&self) -> bool {
        self.kind() == ErrorKind::Protocol
    }

    /// Whether a size limit was exceeded.
    pub fn is_limit_exceeded(&self) -> bool {
        self.kind() == ErrorKind::LimitExceeded
    }

    /// Whether a timer expired.
    pub fn is_timeout(&self) -> bool {
        self.kind() == ErrorKind::Timeout
    }

    /// Whether the transport failed or ended early.
    pub fn is_io(&self) -> bool {
        self.kind() == ErrorKind::Io
    }

    /// Whether this is the error for using a closing or closed connection.
    pub fn is_closed(&self) -> bool {
        self.kind() == ErrorKind::Closed
    }
}

impl From<protocol::Error> for Error {
    fn from(e: protocol::Error) -> Self {
        Error {
            repr: Box::new(Repr::Protocol(e)),
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error {
            repr: Box::new(Repr::Io(Arc::new(e))),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind());
        match &*self.repr {
            Repr::Protocol(e) => d.field("cause", e),
            Repr::Io(e) => d.field("cause", e),
        };
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.repr {
            Repr::Protocol(e) => fmt::Display::fmt(e, f),
            Repr::Io(e) => write!(f, "WebSocket I/O error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.repr {
            Repr::Protocol(e) => Some(e),
            Repr::Io(e) => Some(&**e),
        }
    }
}
