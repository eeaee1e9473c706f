//! What the driver reports and what it asks the I/O layer to do.

use super::close::CloseFrame;
use super::error::Error;
use super::utf8::Utf8Bytes;
use bytes::Bytes;

/// A complete data message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message: validated UTF-8, held without a copy.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Message::Binary(data.into())
    }

    /// The payload's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    /// The payload's length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this is a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }

    /// The text, for a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(t) => Some(t.as_str()),
            Message::Binary(_) => None,
        }
    }

    /// The payload as `Bytes`, whichever kind the message is.
    pub fn into_payload(self) -> Bytes {
        match self {
            Message::Text(t) => t.into_bytes(),
            Message::Binary(b) => b,
        }
    }
}

impl From<&'static str> for Message {
    fn from(s: &'static str) -> Self {
        Message::text(s)
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Message::text(s)
    }
}

impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Self {
        Message::binary(b)
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Self {
        Message::Binary(b)
    }
}

/// Something that happened on the connection, from [`Driver::poll_event`](super::Driver::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The opening handshake finished: messages now flow.
    Open,
    /// A complete text or binary message, fragments already joined.
    Message(Message),
    /// The peer pinged; the pong is already queued (unless our close frame has
    /// gone out: nothing follows it, pongs included). A newer ping's pong
    /// replaces one not yet taken by `poll_transmit` (RFC 6455 section 5.5.3).
    Ping(Bytes),
    /// A pong arrived (solicited or not), with its payload.
    Pong(Bytes),
    /// The peer broke the protocol, or a timer expired. A [`Close`](Event::Close)
    /// carrying the code that was sent follows.
    Error(Error),
    /// The connection is closed: the closing handshake finished, failed or timed
    /// out. This is the last event. The frame is the peer's close frame when the
    /// handshake completed, the code we sent when we failed the connection, and
    /// [`CloseCode::ABNORMAL`](super::CloseCode::ABNORMAL) when the transport
    /// ended without one.
    Close(CloseFrame),
}

/// Output for the I/O layer, from [`Driver::poll_transmit`](super::Driver::poll_transmit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Bytes to write, in order.
    Data(Bytes),
    /// Everything before this has been handed out: flush it, then close (or
    /// half-close) the transport. Nothing follows.
    Shutdown,
}
