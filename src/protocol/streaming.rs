//! Messages sent in fragments: the token that stands for the open message,
//! and the rules, on [`OutgoingMessage`].

use super::error::Error;
use super::event::MessageKind;
use super::utf8::Utf8Validator;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// A message being sent in fragments.
///
/// [`Driver::start_message`](super::Driver::start_message) opens a message and
/// returns one; [`send_fragment`](super::Driver::send_fragment)
/// sends a piece of it, [`finish_message`](super::Driver::finish_message)
/// (which consumes the token) sends the last one, with FIN, and
/// [`abort_message`](super::Driver::abort_message) gives up on it. Owning the
/// token is what lets code send a fragment: a fragment with no message open,
/// or a message finished twice, cannot be written.
///
/// The rules, each an `Err` that leaves the connection usable:
/// - one data message at a time (RFC 6455 section 5.4): while a message is
///   open, `send`, `send_prepared` and another `start_message` are
///   [`ErrorKind::MessageInProgress`](super::ErrorKind::MessageInProgress);
/// - control frames are never fragments: `ping`, automatic pongs, keepalive and
///   `close` go *between* fragments;
/// - text is validated as it comes: a piece may split a code point, the next
///   completes it. A piece that is not UTF-8, or a last piece that leaves a
///   code point incomplete, is refused with
///   [`ErrorKind::InvalidFragment`](super::ErrorKind::InvalidFragment) before
///   any of it is queued: the message stays open as it was, and the caller can
///   send a corrected piece or abort.
///
/// A close (ours, the answer to the peer's, or a failure) ends everything: the
/// close frame goes between fragments, the peer drops the unfinished message,
/// and the token is then refused with `Closed`. A message can only end with
/// FIN, so one that is given up mid-way ([`abort_message`](super::Driver::abort_message))
/// fails the connection with 1011: ending it with FIN would hand the peer a
/// truncated message as if it were whole.
///
/// hixie has no fragments. Its text frame has no length, so a text message
/// could be streamed as `0x00`, the pieces, `0xFF`, but nothing can interrupt
/// that run, not even the closing frame: the connection could not be closed
/// until the message ended, and giving up could only cut the transport. So
/// `start_message` is [`ErrorKind::Unsupported`](super::ErrorKind::Unsupported)
/// there.
///
/// Dropping it does not end the message: the peer can receive nothing else
/// until it does, so the driver refuses other data messages. Drop it only once
/// the connection is closing (the close frame ended the message); otherwise
/// give it to [`abort_message`](super::Driver::abort_message).
#[must_use = "an open message blocks every other data message until it is finished or aborted"]
#[derive(Debug)]
pub struct OutgoingMessage {
    pub(crate) id: u64,
    kind: MessageKind,
}

impl OutgoingMessage {
    pub(crate) fn new(kind: MessageKind) -> OutgoingMessage {
        // Unique in the process, so a token is never taken for another
        // connection's message.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        OutgoingMessage {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            kind,
        }
    }

    /// Text or binary.
    pub fn kind(&self) -> MessageKind {
        self.kind
    }
}

/// The driver's side of the open message: which token it belongs to, and the
/// UTF-8 state of text across pieces. The framing's side is
/// [`Fragments`](super::extension::Fragments).
#[derive(Debug)]
pub(crate) struct Sending {
    pub(crate) id: u64,
    /// Text only.
    pub(crate) utf8: Option<Utf8Validator>,
    pub(crate) fragments: super::extension::Fragments,
}

/// [`Driver::finish_message`](super::Driver::finish_message) refused the last
/// piece: the error, and the message, still open, to go on with (send the
/// missing bytes, finish again) or to abort. `?` turns it into its [`Error`].
#[derive(Debug)]
pub struct Unfinished {
    message: OutgoingMessage,
    error: Error,
}

impl Unfinished {
    pub(crate) fn new(message: OutgoingMessage, error: Error) -> Unfinished {
        Unfinished { message, error }
    }

    /// Why the piece was refused.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The message and the error.
    pub fn into_parts(self) -> (OutgoingMessage, Error) {
        (self.message, self.error)
    }
}

impl From<Unfinished> for Error {
    fn from(u: Unfinished) -> Error {
        u.error
    }
}

impl fmt::Display for Unfinished {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for Unfinished {}
