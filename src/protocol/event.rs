//! What the driver reports and what it asks the I/O layer to do.

use super::close::CloseFrame;
use super::error::Error;
use super::utf8::Utf8Bytes;
use bytes::Bytes;

/// A complete data message: text or binary, fragments already joined.
///
/// # Where are `Close`, `Ping` and `Pong`?
///
/// Not here, on purpose: they are control frames, and the socket handles them
/// for you. A [`WebSocket`](crate::WebSocket) answers pings by itself, runs the
/// closing handshake, and resolves [`ping`](crate::WebSocket::ping) futures
/// with the pong, so a `match` on a received message has only the two cases
/// that carry data and none that can be forgotten.
///
/// - **The close frame** ends the stream: [`recv`](crate::WebSocket::recv)
///   returns `None` once the closing handshake is over, and
///   [`close_frame`](crate::WebSocket::close_frame) gives the frame the
///   connection ended with (the peer's code and reason). An axum or
///   tokio-tungstenite loop's `Message::Close(frame) => ...` arm becomes, after
///   the loop, `let frame = ws.close_frame();`.
/// - **Pings** are answered automatically and not shown. To measure the
///   connection, send your own with [`ping`](crate::WebSocket::ping) (it
///   resolves with the round-trip time); to notice a dead peer, set
///   [`Config::keepalive`](crate::Config::keepalive) and
///   [`Config::idle_timeout`](crate::Config::idle_timeout). To see every control
///   frame, drive the sans-IO [`Driver`](super::Driver), whose
///   [`Event`] has them all.
///
/// # Building and reading messages
///
/// `From` conversions follow axum and tokio-tungstenite: text from `&str` (any
/// lifetime), `&String`, `String` and [`Utf8Bytes`]; binary from `&[u8]`,
/// `Vec<u8>` and [`Bytes`]. Borrowed data is copied; owned data is not.
///
/// ```
/// use bytes::Bytes;
/// use websocket_protocol::Message;
///
/// let name = String::from("world");
/// let greeting = format!("hello {name}");
/// assert_eq!(Message::from(greeting.as_str()), Message::text("hello world"));
/// assert_eq!(Message::from(vec![1, 2]), Message::binary(Bytes::from_static(&[1, 2])));
///
/// let message = Message::from(greeting);
/// assert_eq!(message.as_text(), Some("hello world")); // text messages only
/// assert_eq!(message.to_text().unwrap(), "hello world"); // binary too, if UTF-8
/// assert_eq!(message.clone().into_data(), "hello world".as_bytes());
/// assert_eq!(message.into_text().unwrap(), "hello world");
/// ```
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

    /// Whether this is a binary message.
    pub fn is_binary(&self) -> bool {
        matches!(self, Message::Binary(_))
    }

    /// The text of a text message; `None` for a binary message, whatever it
    /// holds. See [`to_text`](Message::to_text) to read binary UTF-8 as well.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(t) => Some(t.as_str()),
            Message::Binary(_) => None,
        }
    }

    /// The payload as text: a text message's (no check needed), or a binary
    /// message's if it is valid UTF-8, as in axum and tungstenite.
    ///
    /// ```
    /// use websocket_protocol::Message;
    /// assert_eq!(Message::binary(&b"hi"[..]).to_text().unwrap(), "hi");
    /// assert!(Message::binary(&b"\xff"[..]).to_text().is_err());
    /// ```
    pub fn to_text(&self) -> Result<&str, std::str::Utf8Error> {
        match self {
            Message::Text(t) => Ok(t.as_str()),
            Message::Binary(b) => std::str::from_utf8(b),
        }
    }

    /// The payload as [`Utf8Bytes`], without a copy: a text message's, or a
    /// binary message's if it is valid UTF-8.
    pub fn into_text(self) -> Result<Utf8Bytes, std::str::Utf8Error> {
        match self {
            Message::Text(t) => Ok(t),
            Message::Binary(b) => Utf8Bytes::try_from(b),
        }
    }

    /// The payload as [`Bytes`], whichever kind the message is, without a copy.
    pub fn into_data(self) -> Bytes {
        match self {
            Message::Text(t) => t.into_bytes(),
            Message::Binary(b) => b,
        }
    }

    /// The payload as [`Bytes`]: the old name of [`into_data`](Message::into_data).
    #[deprecated(note = "renamed to `into_data`, as in axum and tungstenite")]
    pub fn into_payload(self) -> Bytes {
        self.into_data()
    }
}

impl From<Utf8Bytes> for Message {
    fn from(text: Utf8Bytes) -> Self {
        Message::Text(text)
    }
}

impl From<&str> for Message {
    /// A text message with a copy of `text`.
    fn from(text: &str) -> Self {
        Message::Text(text.into())
    }
}

impl From<&String> for Message {
    /// A text message with a copy of `text`.
    fn from(text: &String) -> Self {
        Message::Text(text.into())
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::Text(text.into())
    }
}

impl From<&[u8]> for Message {
    /// A binary message with a copy of `data`.
    fn from(data: &[u8]) -> Self {
        Message::Binary(Bytes::copy_from_slice(data))
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Self {
        Message::Binary(data.into())
    }
}

impl From<Bytes> for Message {
    fn from(data: Bytes) -> Self {
        Message::Binary(data)
    }
}

impl From<Message> for Bytes {
    /// The payload, as [`Message::into_data`].
    fn from(message: Message) -> Self {
        message.into_data()
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

/// Whether a data message is text or binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// UTF-8 text.
    Text,
    /// Binary data.
    Binary,
}

/// What [`Driver::poll_chunk`](super::Driver::poll_chunk) hands out: the data
/// messages in pieces, as they arrive, and every other event as it is.
///
/// A message is a [`Start`](Chunk::Start), any number of pieces of its kind
/// ([`Text`](Chunk::Text) pieces for a text message, [`Binary`](Chunk::Binary)
/// for binary; possibly none, and never empty), then [`End`](Chunk::End).
/// Control events ([`Event::Ping`], [`Event::Pong`]) may come between the
/// pieces, as the peer sent them between fragments; an [`Event::Error`] or
/// [`Event::Close`] before `End` means the message was cut short.
/// [`Event::Message`] never appears here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// A data message starts.
    Start(MessageKind),
    /// A piece of a text message: validated, and whole code points only (a code
    /// point cut by a read or a frame boundary comes with the next piece).
    Text(Utf8Bytes),
    /// A piece of a binary message.
    Binary(Bytes),
    /// The message is complete (and, for text, was valid UTF-8 to its end).
    End,
    /// Anything but a data message: the opening, a ping, a pong, an error, the close.
    Event(Event),
}
