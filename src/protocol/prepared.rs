//! Messages framed once and sent to many connections.
//!
//! A chat room or a dashboard sends one message to thousands of sockets. Framing
//! (and, under permessage-deflate, compressing) it once per socket is most of the
//! work; a [`PreparedMessage`] does it once per *kind of connection* instead and
//! hands every connection of that kind the same bytes, shared by reference.
//!
//! The kinds that change the bytes:
//! - the protocol family: a hybi server frame (RFC 6455 and hybi-07/08 frame
//!   alike), or a hixie-75/76 text frame (`0x00`, UTF-8, `0xFF`);
//! - permessage-deflate's settings that change the compressed bytes (window
//!   bits, level, memory level): a message is compressed once per set in use, on
//!   its own (no history, so no back reference leaves the message), as a complete
//!   block sequence ending on a sync flush, exactly what RFC 7692 puts in one
//!   message.
//!
//! Each variant is built the first time a connection needs it, so a message that
//! only goes to hybi peers without deflate is framed once and never compressed.
//!
//! # Deflate and context takeover
//!
//! A peer with context takeover inflates each message with the previous ones as
//! its dictionary. A shared frame uses no back references, so the peer inflates it
//! fine, and then holds it in its window. The connection then adds the message to
//! its own window too (permessage-deflate keeps each connection's window apart
//! from the shared zlib state), so its next message of its own may refer back
//! into the shared one exactly as the peer expects: sharing costs no ratio. A
//! message shorter than the connection's threshold is sent uncompressed (RSV1
//! clear), which is valid to every deflate peer and leaves both windows alone.
//!
//! # Client connections
//!
//! Frames a client sends are masked with a fresh random key each (RFC 6455
//! section 5.3), so nothing can be shared: a client driver accepts a prepared
//! message and sends it as an ordinary one. It saves nothing there.

use super::error::{Error, ErrorKind};
use super::event::Message;
use super::frame::{self, OpCode};
use super::version::Version;
use bytes::{Bytes, BytesMut};
use std::fmt;
#[cfg(feature = "deflate")]
use std::sync::Mutex;
use std::sync::{Arc, OnceLock};

#[cfg(feature = "deflate")]
use super::deflate::{self, Compression};

/// A message framed once, to be sent to many connections; cheap to clone (one
/// reference count).
///
/// Send it with [`Driver::send_prepared`](super::Driver::send_prepared), a
/// socket's `send_prepared`, or publish it through a [`Hub`](crate::hub::Hub).
///
/// ```
/// use websocket_protocol::protocol::{Driver, Options, PreparedMessage, Transmit};
///
/// let prepared = PreparedMessage::text("hello, everyone");
/// # let request = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
/// let mut server = Driver::server_from_bytes(request, Options::default()).unwrap().unwrap();
/// server.start(std::time::Instant::now());
/// while server.poll_transmit().is_some() {} // the handshake response
/// server.send_prepared(&prepared).unwrap();
/// let Some(Transmit::Data(frame)) = server.poll_transmit() else { panic!() };
/// assert_eq!(&frame[..2], &[0x81, 15]);
/// assert_eq!(&frame[2..], b"hello, everyone");
/// ```
#[derive(Clone)]
pub struct PreparedMessage {
    inner: Arc<Inner>,
}

struct Inner {
    message: Message,
    /// The unmasked hybi frame, RSV bits clear.
    hybi: OnceLock<Bytes>,
    /// The hixie text frame (text messages only).
    hixie: OnceLock<Bytes>,
    /// The hybi frame with RSV1 and a compressed payload, per set of settings
    /// in use: a server rarely has more than one or two.
    #[cfg(feature = "deflate")]
    deflated: Mutex<Vec<(Compression, Bytes)>>,
}

impl PreparedMessage {
    /// Prepares `message`. Nothing is framed until a connection needs it.
    pub fn new(message: impl Into<Message>) -> PreparedMessage {
        PreparedMessage {
            inner: Arc::new(Inner {
                message: message.into(),
                hybi: OnceLock::new(),
                hixie: OnceLock::new(),
                #[cfg(feature = "deflate")]
                deflated: Mutex::new(Vec::new()),
            }),
        }
    }

    /// A prepared text message.
    pub fn text(text: impl Into<super::Utf8Bytes>) -> PreparedMessage {
        PreparedMessage::new(Message::Text(text.into()))
    }

    /// A prepared binary message (hybi connections only).
    pub fn binary(data: impl Into<Bytes>) -> PreparedMessage {
        PreparedMessage::new(Message::Binary(data.into()))
    }

    /// The message.
    pub fn message(&self) -> &Message {
        &self.inner.message
    }

    /// The opcode of its (only) frame (which deflate's threshold looks at).
    #[cfg(feature = "deflate")]
    pub(crate) fn opcode(&self) -> OpCode {
        opcode(&self.inner.message)
    }

    /// The frame a server connection of `version` sends, uncompressed: the same
    /// `Bytes` (one allocation) for every connection of that family. Fails for
    /// a binary message on hixie, which has no binary frames.
    pub fn frame(&self, version: Version) -> Result<Bytes, Error> {
        if version.is_draft() {
            self.hixie_frame()
        } else {
            Ok(self.hybi_frame())
        }
    }

    /// The unmasked hybi frame, RSV bits clear.
    pub(crate) fn hybi_frame(&self) -> Bytes {
        let message = &self.inner.message;
        self.inner
            .hybi
            .get_or_init(|| hybi_frame(message, 0, message.as_bytes()))
            .clone()
    }

    /// The hixie-75/76 text frame; binary messages have none.
    pub(crate) fn hixie_frame(&self) -> Result<Bytes, Error> {
        let Message::Text(text) = &self.inner.message else {
            return Err(Error::new(ErrorKind::Unsupported("binary messages")));
        };
        Ok(self
            .inner
            .hixie
            .get_or_init(|| {
                let mut buf = BytesMut::with_capacity(text.len() + 2);
                buf.extend_from_slice(&[0x00]);
                buf.extend_from_slice(text.as_bytes());
                buf.extend_from_slice(&[0xFF]);
                buf.freeze()
            })
            .clone())
    }

    /// The hybi server frame with RSV1 and the message compressed on its own
    /// with `settings`: compressed on first use, then shared.
    #[cfg(feature = "deflate")]
    pub(crate) fn deflated_frame(&self, settings: Compression) -> Bytes {
        let inner = &self.inner;
        let mut cache = inner.deflated.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, frame)) = cache.iter().find(|(s, _)| *s == settings) {
            return frame.clone();
        }
        let payload = deflate::compress_standalone(settings, inner.message.as_bytes());
        let frame = hybi_frame(&inner.message, frame::RSV1, &payload);
        cache.push((settings, frame.clone()));
        frame
    }
}

impl<M: Into<Message>> From<M> for PreparedMessage {
    fn from(message: M) -> Self {
        PreparedMessage::new(message)
    }
}

impl fmt::Debug for PreparedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedMessage")
            .field("message", &self.inner.message)
            .finish_non_exhaustive()
    }
}

fn opcode(message: &Message) -> OpCode {
    match message {
        Message::Text(_) => OpCode::Text,
        Message::Binary(_) => OpCode::Binary,
    }
}

/// One final, unmasked frame: header and payload in one buffer.
fn hybi_frame(message: &Message, rsv: u8, payload: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(frame::MAX_HEADER + payload.len());
    frame::write_header(&mut buf, opcode(message), rsv, None, payload.len());
    buf.extend_from_slice(payload);
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_family_is_framed_once_and_shared() {
        let p = PreparedMessage::text("Hello");
        let a = p.frame(Version::Hybi13).unwrap();
        assert_eq!(&a[..], b"\x81\x05Hello");
        // hybi-07/08 frame the same: the very same allocation.
        assert_eq!(p.frame(Version::Hybi8).unwrap().as_ptr(), a.as_ptr());
        let h = p.frame(Version::Hixie76).unwrap();
        assert_eq!(&h[..], b"\x00Hello\xff");
        assert_eq!(p.frame(Version::Hixie75).unwrap().as_ptr(), h.as_ptr());
        let b = PreparedMessage::binary(vec![7u8; 300]);
        let f = b.frame(Version::Hybi13).unwrap();
        assert_eq!(&f[..4], &[0x82, 126, 0x01, 0x2C]);
        assert!(b.frame(Version::Hixie76).is_err());
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn compressed_once_per_setting_as_rfc7692_shows() {
        use crate::protocol::{DeflateConfig, DeflateParams};
        let settings = |bits| {
            let params = DeflateParams {
                server_no_context_takeover: false,
                client_no_context_takeover: false,
                server_max_window_bits: bits,
                client_max_window_bits: bits,
            };
            let options = crate::protocol::Options::default().deflate(DeflateConfig::default());
            let (outgoing, _) = super::super::deflate::transform(
                params,
                super::super::version::Role::Server,
                &options,
            );
            outgoing.settings()
        };
        let p = PreparedMessage::text("Hello");
        let f = p.deflated_frame(settings(15));
        // Section 7.2.3.1: "Hello" compressed on its own, RSV1 set.
        assert_eq!(&f[..], &[0xC1, 7, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        assert_eq!(p.deflated_frame(settings(15)).as_ptr(), f.as_ptr());
        assert_ne!(p.deflated_frame(settings(10)).as_ptr(), f.as_ptr());
        let empty = PreparedMessage::text("");
        assert_eq!(&empty.deflated_frame(settings(15))[..], &[0xC1, 1, 0x00]);
    }
}
