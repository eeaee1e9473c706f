//! The connection's lifecycle, as the I/O layers read it.

use super::close::CloseFrame;
use super::error::Error;

/// Where a connection is in its life, from [`Driver::state`](super::Driver::state).
///
/// I/O layers read this instead of keeping flags of their own. It follows RFC 6455
/// section 7: the closing handshake starts when either end sends a close frame,
/// and the connection is closed when the transport is to be closed.
///
/// ```text
///              handshake done           close(): our close frame
///  Connecting ───────────────> Open ─────────────────────────────> Closing { by: Local }
///      │                        │                                     │ peer's close frame
///      │ handshake failed,      │ peer's close frame: echoed          │ (client: then the
///      │ close() before open    │  server ──> Closed { Clean }        │  server's EOF)
///      │                        │  client ──> Closing { by: Remote }  v
///      │                        │             │ server's EOF     Closed { Clean }
///      │                        │             v                     (or, at the close
///      │                        │          Closed { Clean }          timeout: Timeout)
///      │                        │ peer broke the protocol, went idle: our code sent
///      │                        ├──────────────────────────────> Closed { Error(..) }
///      │                        │ transport ended without a close frame
///      v                        └──────────────────────────────> Closed { Eof }
///   Closed { Handshake(..) | Abandoned }
/// ```
///
/// `Closing { by: Remote }` is the client after the server's close frame: the
/// handshake is done ([`Event::Close`](super::Event::Close) was reported) and RFC
/// 6455 section 7.1.1 has the server close the transport first, which the client
/// waits for up to [`Options::close_timeout`](super::Options::close_timeout).
///
/// A hixie-76 connection goes from `Open` to `Closed` at once (its closing frame
/// has no answer); hixie-75 has no closing frame and closes at the end of stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// The opening handshake has not finished; messages sent now wait for it.
    Connecting,
    /// Messages flow both ways.
    Open,
    /// The closing handshake started: nothing more can be sent, and what the
    /// peer still sends before its close frame is delivered.
    Closing {
        /// Who sent the first close frame.
        by: Side,
    },
    /// The connection is over: nothing more is decoded or sent, and the transport
    /// is to be closed ([`Transmit::Shutdown`](super::Transmit::Shutdown)).
    Closed {
        /// What [`Event::Close`](super::Event::Close) reported: the peer's close
        /// frame after a clean close, the code we sent when we failed the
        /// connection, [`CloseCode::ABNORMAL`](super::CloseCode::ABNORMAL) when
        /// there was no closing handshake.
        frame: CloseFrame,
        /// Why it ended.
        cause: CloseCause,
    },
}

impl ConnectionState {
    /// Whether messages can still be sent (queued while connecting).
    pub fn can_send(&self) -> bool {
        matches!(self, ConnectionState::Connecting | ConnectionState::Open)
    }

    /// Whether the connection is over.
    pub fn is_closed(&self) -> bool {
        matches!(self, ConnectionState::Closed { .. })
    }

    /// Why the connection ended, once closed.
    pub fn cause(&self) -> Option<&CloseCause> {
        match self {
            ConnectionState::Closed { cause, .. } => Some(cause),
            _ => None,
        }
    }
}

/// One end of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// This driver (its application called [`close`](super::Driver::close), or
    /// the driver failed the connection).
    Local,
    /// The peer.
    Remote,
}

/// Why a connection ended, from [`ConnectionState::Closed`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseCause {
    /// The closing handshake completed: both close frames crossed (hixie-76: its
    /// closing frame; hixie-75: the end of the stream, its only way to close).
    Clean,
    /// We failed the connection because the peer broke the protocol, sent more
    /// than the limits allow, or stayed silent past the idle timeout. The error
    /// names the rule; its [`close_code`](Error::close_code) is the code we sent.
    Error(Error),
    /// The transport ended (or failed) before the closing handshake finished.
    Eof,
    /// The peer did not answer our close frame within the close timeout.
    Timeout,
    /// Client: the server's handshake response was refused.
    Handshake(Error),
    /// [`close`](super::Driver::close) was called before the opening handshake
    /// finished: the connection was abandoned.
    Abandoned,
}

/// The connection's state as the seed module reports it (`readyState`), from
/// [`Driver::ready_state`](super::Driver::ready_state): [`ConnectionState`]
/// without its data, with the client's wait for the server's EOF counted as
/// closed (the close event has fired).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadyState {
    /// The opening handshake has not finished; messages sent now are queued.
    Connecting,
    /// Messages flow both ways.
    Open,
    /// We sent a close frame and wait for the peer's.
    Closing,
    /// The connection is over; at most a transport shutdown remains to be taken.
    Closed,
}
