//! The crate's error: [`Error`], one type for everything a conversation over a
//! [`WebSocket`](crate::WebSocket) can report, and the type every other error of
//! the crate converts into.
//!
//! The reasoning behind the crate's errors is in [`Error`]'s docs (the
//! module is private; its types are re-exported at the root).

use crate::client;
use crate::protocol::{self, CloseCode};
use http::StatusCode;
use std::fmt;
use std::io;
use std::sync::Arc;

/// What went wrong on a [`WebSocket`](crate::WebSocket), or while opening one.
///
/// [`kind`](Error::kind) sorts errors into what a caller reacts to, and the
/// `is_*` predicates test each kind; the accessors give the details:
/// [`status`](Error::status) for a refused handshake,
/// [`close_code`](Error::close_code) for a connection closed because of a
/// violation, [`io_error`](Error::io_error),
/// [`protocol_error`](Error::protocol_error) and
/// [`client_error`](Error::client_error) for the error it was made from.
///
/// Errors are cheap to clone: a failure that several waiters see (a reader, a
/// pending [`ping`](crate::WebSocket::ping), a sender) is one shared cause. The
/// type is one pointer wide.
///
/// # One error path, three layers
///
/// Each public layer has its own error, because each knows things the others do
/// not: the sans-IO core's [`protocol::Error`] is plain data (no I/O, no tokio)
/// with the HTTP response a refused request should get; the client's
/// [`client::Error`] keeps a refusal's status, headers and body; this one adds
/// the transport's I/O errors. They have one shape: `kind()` returns a `Copy`,
/// non-exhaustive kind by value, `is_*` predicates test the groups a caller
/// reacts to, and each is at most one pointer wide (the core's, plain data, at
/// most the size of a `Bytes`).
///
/// Rather than one error type with every kind of every layer (as hyper has), the
/// layers convert into this one: `From<client::Error>`, `From<protocol::Error>`
/// and `From<std::io::Error>`. So `websocket_protocol::Error` is the type to
/// name in a signature, and `?` works from connecting to sending in one function,
/// while the client's own kinds (refused, TLS, proxy, ...) stay exact for those
/// who match on them ([`Error::client_error`] gives the client's error back):
///
/// ```no_run
/// use websocket_protocol::{client, Error};
///
/// async fn hello(url: &str) -> Result<Option<String>, Error> {
///     let (mut ws, _response) = client::connect(url).await?; // a client::Error
///     ws.text("hello").await?; // an Error
///     let reply = ws.recv().await.transpose()?; // None: closed, see ws.close_frame()
///     Ok(reply.map(|message| message.to_text().unwrap_or_default().to_owned()))
/// }
///
/// # async fn run() {
/// match hello("ws://127.0.0.1:9001/").await {
///     Ok(reply) => println!("{reply:?}"),
///     Err(e) if e.is_handshake() => eprintln!("not opened ({:?}): {e}", e.status()),
///     Err(e) => eprintln!("{e}"),
/// }
/// # }
/// ```
///
/// # Display and source
///
/// `Display` is the error's own text, one line; [`source`](std::error::Error::source)
/// is the error underneath (an [`std::io::Error`], a TLS or HTTP error), never
/// the same text again, so a reporter that walks the chain (anyhow's `{:#}`,
/// `{:?}`) prints each cause once. A core error seen through a socket or a client
/// is not a cause but the same failure: its text is the outer error's text and it
/// is reached with `protocol_error()`, not `source()`.
///
/// ```
/// use std::error::Error as _;
/// use websocket_protocol::Error;
/// let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
/// let err = Error::from(io);
/// assert_eq!(err.to_string(), "WebSocket I/O error");
/// assert_eq!(err.source().unwrap().to_string(), "reset by peer");
/// ```
///
/// # Example
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
    Client(client::Error),
}

/// The kinds of [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The connection could not be opened: the URL, the request or the response
    /// was refused or malformed, or (client) TLS or the proxy failed.
    /// [`Error::status`] gives the HTTP status when there is one;
    /// [`Error::client_error`] the client's exact kind.
    Handshake,
    /// The peer broke the protocol (framing, UTF-8); the connection was closed
    /// with the code [`Error::close_code`] gives.
    Protocol,
    /// A frame or message exceeded a configured limit; the connection was closed
    /// with 1009.
    LimitExceeded,
    /// A timer expired: the opening handshake took too long (the client's
    /// connect timeout, the socket's handshake timeout), the peer was idle past
    /// the idle timeout (closed with 1001), or it did not finish the closing
    /// handshake within the close timeout. An I/O error of kind
    /// [`TimedOut`](std::io::ErrorKind::TimedOut) is a timeout too.
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
        match &*self.repr {
            Repr::Io(e) if e.kind() == io::ErrorKind::TimedOut => ErrorKind::Timeout,
            Repr::Io(_) => ErrorKind::Io,
            Repr::Protocol(e) => protocol_kind(e),
            Repr::Client(e) => match e.kind() {
                client::ErrorKind::Io => ErrorKind::Io,
                client::ErrorKind::Timeout => ErrorKind::Timeout,
                _ => ErrorKind::Handshake,
            },
        }
    }

    /// The HTTP status of a refused handshake: the status a server (or the
    /// client's proxy) answered, or the one this server answered with.
    pub fn status(&self) -> Option<StatusCode> {
        if let Repr::Client(e) = &*self.repr {
            return e.status();
        }
        let e = self.protocol_error()?;
        match e.kind() {
            protocol::ErrorKind::UnexpectedStatus(status) => Some(status),
            _ => e.status(),
        }
    }

    /// The close code this error stands for, as
    /// [`protocol::Error::close_code`]: the code of the close frame that failed
    /// the connection (1002, 1007, 1009; 1001 for the idle timeout), or 1006 for
    /// a close timeout, which is never sent. Whether a frame carrying it went
    /// out depends on the state (none when ours was already sent); the frame
    /// the connection ended with is [`close_frame`](crate::WebSocket::close_frame).
    pub fn close_code(&self) -> Option<CloseCode> {
        match &*self.repr {
            Repr::Protocol(e) => e.close_code(),
            _ => None,
        }
    }

    /// The protocol core's error, when this is one: a violation, a timer, a
    /// refused or malformed handshake (also through the client).
    pub fn protocol_error(&self) -> Option<&protocol::Error> {
        match &*self.repr {
            Repr::Protocol(e) => Some(e),
            Repr::Client(e) => e.protocol_error(),
            Repr::Io(_) => None,
        }
    }

    /// The I/O error, when the transport failed (also while the client was
    /// connecting).
    pub fn io_error(&self) -> Option<&io::Error> {
        match &*self.repr {
            Repr::Io(e) => Some(e),
            Repr::Client(e) => e.io_error(),
            Repr::Protocol(_) => None,
        }
    }

    /// The client's error, when opening a client connection failed: its
    /// [`kind`](client::Error::kind) is exact (refused, TLS, proxy, ...) and it
    /// keeps a refusal's headers and body.
    pub fn client_error(&self) -> Option<&client::Error> {
        match &*self.repr {
            Repr::Client(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the connection could not be opened ([`ErrorKind::Handshake`]).
    pub fn is_handshake(&self) -> bool {
        self.kind() == ErrorKind::Handshake
    }

    /// Whether the peer broke the protocol ([`ErrorKind::Protocol`]).
    pub fn is_protocol(&self) -> bool {
        self.kind() == ErrorKind::Protocol
    }

    /// Whether a size limit was exceeded ([`ErrorKind::LimitExceeded`]).
    pub fn is_limit_exceeded(&self) -> bool {
        self.kind() == ErrorKind::LimitExceeded
    }

    /// Whether a timer expired ([`ErrorKind::Timeout`]).
    pub fn is_timeout(&self) -> bool {
        self.kind() == ErrorKind::Timeout
    }

    /// Whether the transport failed or ended early ([`ErrorKind::Io`]).
    pub fn is_io(&self) -> bool {
        self.kind() == ErrorKind::Io
    }

    /// Whether this is the error for using a closing or closed connection
    /// ([`ErrorKind::Closed`]).
    pub fn is_closed(&self) -> bool {
        self.kind() == ErrorKind::Closed
    }

    /// Whether the request could not be carried out
    /// ([`ErrorKind::InvalidInput`]).
    pub fn is_invalid_input(&self) -> bool {
        self.kind() == ErrorKind::InvalidInput
    }
}

/// The socket's kind of a core error: the core's own groups, timeouts first (a
/// handshake that timed out is a timeout on every path).
fn protocol_kind(e: &protocol::Error) -> ErrorKind {
    if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_handshake() {
        ErrorKind::Handshake
    } else if e.is_protocol() {
        ErrorKind::Protocol
    } else if e.is_limit_exceeded() {
        ErrorKind::LimitExceeded
    } else if e.is_closed() {
        ErrorKind::Closed
    } else {
        ErrorKind::InvalidInput
    }
}

impl From<protocol::Unfinished> for Error {
    fn from(u: protocol::Unfinished) -> Self {
        Error::from(u.into_parts().1)
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

impl From<client::Error> for Error {
    fn from(e: client::Error) -> Self {
        Error {
            repr: Box::new(Repr::Client(e)),
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
            Repr::Client(e) => d.field("cause", e),
        };
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.repr {
            // The same failure as the core's or the client's, so their text.
            Repr::Protocol(e) => fmt::Display::fmt(e, f),
            Repr::Client(e) => fmt::Display::fmt(e, f),
            // Our own words; the I/O error is the source.
            Repr::Io(e) if e.kind() == io::ErrorKind::TimedOut => {
                f.write_str("WebSocket timed out")
            }
            Repr::Io(_) => f.write_str("WebSocket I/O error"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.repr {
            Repr::Protocol(_) => None,
            Repr::Io(e) => Some(&**e),
            Repr::Client(e) => std::error::Error::source(e),
        }
    }
}
