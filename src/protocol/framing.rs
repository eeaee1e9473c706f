//! What differs between the protocol versions, behind one type.
//!
//! The driver runs the same state machine for every version; [`Framing`] is
//! where they part: how frames are decoded and encoded, which messages and
//! control frames exist, how a connection closes, whether keepalive pings can
//! be sent. No other part of the driver looks at the version.
//!
//! | | hybi (RFC 6455, 7, 8) | hixie-76 | hixie-75 |
//! |---|---|---|---|
//! | messages | text, binary | text | text |
//! | ping / pong | yes (keepalive too) | no | no |
//! | closing | close frames both ways, then the transport | `0xFF 0x00`, then the transport | the end of the stream |
//! | extensions | permessage-deflate | none | none |
//! | a message sent in fragments | yes, control frames between them | no (`Unsupported`) | no (`Unsupported`) |
//!
//! The drafts have no fragments. A hixie text frame has no length, so a text
//! message could be streamed as `0x00`, the pieces, `0xFF`; but nothing can
//! interrupt that run, not even the closing frame, so the connection could not
//! be closed until the message ended (and a writer that gives up mid-message
//! could only cut the transport). Streaming is refused there instead.

use super::close::{CloseCode, CloseFrame};
use super::error::{Error, ErrorKind};
use super::event::Message;
use super::event::MessageKind;
use super::extension::{Fragments, Incoming, Outgoing};
use super::frame::{self, OpCode};
use super::hixie;
use super::hybi;
use super::options::Options;
use super::output::Output;
use super::prepared::PreparedMessage;
use super::rng::Randomness;
use super::version::{Role, Version};
use bytes::{Bytes, BytesMut};

/// A decoded unit, the same for every version.
#[derive(Debug)]
pub(crate) enum Frame {
    Message(Message),
    Ping(Bytes),
    Pong(Bytes),
    /// The peer's close (hixie-76's closing frame reads as 1000).
    Close(CloseFrame),
    /// A data message read in pieces starts (`true`: text).
    Start(bool),
    /// A piece of it; text pieces end on code point boundaries.
    Part(Message),
    /// Its end.
    End,
}

/// How a close frame sent (ours, or the answer to the peer's) ends the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseStyle {
    /// hybi: a close frame went out; the closing handshake waits for the
    /// other side's (or, answered, for the transport to end).
    Handshake,
    /// hixie-76: its closing frame went out, and that is the end.
    Immediate,
    /// hixie-75: there is no closing frame; closing the transport is the close.
    Nothing,
}

#[derive(Debug)]
// One per connection and never moved on a hot path, so boxing would only add
// an indirection.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Framing {
    Hybi {
        decoder: hybi::Decoder,
        role: Role,
        /// The negotiated extensions' transforms for what we send.
        outgoing: Outgoing,
    },
    Hixie {
        decoder: hixie::Decoder,
        /// hixie-76, which has a closing frame; hixie-75 has none.
        hixie76: bool,
    },
}

impl Framing {
    pub(crate) fn new(version: Version, role: Role, options: &Options) -> Self {
        match version {
            Version::Hixie75 | Version::Hixie76 => {
                let hixie76 = version == Version::Hixie76;
                Framing::Hixie {
                    decoder: hixie::Decoder::new(hixie76, options.max_message_size),
                    hixie76,
                }
            }
            Version::Hybi7 | Version::Hybi8 | Version::Hybi13 => Framing::Hybi {
                decoder: hybi::Decoder::new(role, options.max_frame_size, options.max_message_size),
                role,
                outgoing: Outgoing::default(),
            },
        }
    }

    /// Turns on the negotiated extensions' transforms (hybi only: the drafts
    /// negotiate none).
    pub(crate) fn set_extensions(&mut self, out: Outgoing, incoming: Incoming) {
        if let Framing::Hybi {
            decoder, outgoing, ..
        } = self
        {
            *outgoing = out;
            decoder.set_incoming(incoming);
        }
    }

    // ---- decoding ----------------------------------------------------------------

    /// Decodes the next unit from the front of `input`, consuming it: `Ok(None)`
    /// when more bytes are needed. With `chunks`, a data message not complete yet
    /// is handed out in pieces as it arrives ([`Frame::Start`], [`Frame::Part`]s,
    /// [`Frame::End`]) from now on. hybi does so within frames, as bytes arrive;
    /// a hixie text frame has no length and arrives whole, as a
    /// [`Frame::Message`] the driver hands out as one piece. After an `Err` the
    /// framing must not be used.
    pub(crate) fn decode(
        &mut self,
        input: &mut BytesMut,
        chunks: bool,
    ) -> Result<Option<Frame>, Error> {
        Ok(match self {
            // hybi's decoder yields this very unit; hixie's is narrower.
            Framing::Hybi { decoder, .. } => decoder.decode(input, chunks)?,
            Framing::Hixie { decoder, .. } => decoder.decode(input)?.map(|f| match f {
                hixie::Frame::Text(t) => Frame::Message(Message::Text(t)),
                hixie::Frame::Close => Frame::Close(CloseFrame::new(CloseCode::NORMAL, "")),
            }),
        })
    }

    /// For a reader of pieces with events waiting: the start, then what was
    /// joined, of a message begun before them (hybi; hixie frames come whole).
    pub(crate) fn begin_chunks(&mut self) -> Result<Option<Frame>, Error> {
        match self {
            Framing::Hybi { decoder, .. } => decoder.begin_chunks(),
            Framing::Hixie { .. } => Ok(None),
        }
    }

    /// Back to joining a message announced in pieces that nobody read so.
    pub(crate) fn unstream(&mut self) -> Result<(), Error> {
        match self {
            Framing::Hybi { decoder, .. } => decoder.unstream(),
            Framing::Hixie { .. } => Ok(()),
        }
    }

    /// Whether a message is being handed out in pieces.
    pub(crate) fn streaming(&self) -> bool {
        matches!(self, Framing::Hybi { decoder, .. } if decoder.streaming())
    }

    /// Sets the limit on the total of the message read in pieces (see
    /// `hybi::Decoder::set_message_limit`); hixie messages arrive whole.
    pub(crate) fn set_message_limit(&mut self, limit: usize) {
        if let Framing::Hybi { decoder, .. } = self {
            decoder.set_message_limit(limit);
        }
    }

    /// Bytes still missing from the frame being read, when its length is known;
    /// for a message read in pieces, at most one piece's worth, so that its
    /// frame is never buffered whole.
    pub(crate) fn missing(&self, buffered: usize) -> usize {
        match self {
            Framing::Hybi { decoder, .. } if decoder.streaming() => {
                decoder.missing(buffered).min(hybi::PIECE)
            }
            Framing::Hybi { decoder, .. } => decoder.missing(buffered),
            // A hixie frame's length is known only at its end.
            Framing::Hixie { .. } => 0,
        }
    }

    /// The most the input buffer has to hold when no frame payload is being
    /// read: a hybi frame header, or a whole hixie frame (its type byte, the
    /// run, the 0xFF).
    pub(crate) fn input_limit(&self, options: &Options) -> usize {
        match self {
            Framing::Hybi { .. } => frame::MAX_HEADER,
            Framing::Hixie { .. } => options.max_message_size.saturating_add(2),
        }
    }

    // ---- what exists -------------------------------------------------------------

    /// Whether pings exist, so keepalive can send them.
    pub(crate) fn has_ping(&self) -> bool {
        matches!(self, Framing::Hybi { .. })
    }

    /// Whether the end of the stream is a clean close (hixie-75's only way to
    /// close) rather than the peer vanishing.
    pub(crate) fn eof_is_close(&self) -> bool {
        matches!(self, Framing::Hixie { hixie76: false, .. })
    }

    // ---- encoding ----------------------------------------------------------------

    /// Appends a message.
    pub(crate) fn encode_message(
        &mut self,
        out: &mut Output,
        message: Message,
        rng: &mut Randomness,
    ) -> Result<(), Error> {
        match (self, message) {
            (Framing::Hybi { role, outgoing, .. }, Message::Text(text)) => {
                hybi::encode(out, *role, OpCode::Text, text.into_bytes(), outgoing, rng)
            }
            (Framing::Hybi { role, outgoing, .. }, Message::Binary(data)) => {
                hybi::encode(out, *role, OpCode::Binary, data, outgoing, rng)
            }
            (Framing::Hixie { .. }, Message::Text(text)) => {
                hixie::encode_text(out, text.as_bytes())
            }
            (Framing::Hixie { .. }, Message::Binary(_)) => {
                return Err(Error::new(ErrorKind::Unsupported("binary messages")))
            }
        }
        Ok(())
    }

    /// Appends a message framed once for many connections: the shared frame of
    /// this family (compressed once per set of deflate settings), or, for a
    /// client, which masks every frame with a key of its own, the message encoded
    /// as any other.
    pub(crate) fn encode_prepared(
        &mut self,
        out: &mut Output,
        prepared: &PreparedMessage,
        rng: &mut Randomness,
    ) -> Result<(), Error> {
        match self {
            Framing::Hybi {
                role: Role::Client, ..
            } => return self.encode_message(out, prepared.message().clone(), rng),
            Framing::Hybi { outgoing, .. } => {
                let message = prepared.message();
                #[cfg(feature = "deflate")]
                if let Some(settings) = outgoing.compression(prepared.opcode(), message.len()) {
                    // The peer's window now holds the message: ours must too.
                    outgoing.after_foreign_frame(message.as_bytes(), frame::RSV1);
                    out.push_payload(prepared.deflated_frame(settings));
                    return Ok(());
                }
                #[cfg(not(feature = "deflate"))]
                let _ = (outgoing, message);
                out.push_payload(prepared.hybi_frame());
            }
            Framing::Hixie { .. } => out.push_payload(prepared.hixie_frame()?),
        }
        Ok(())
    }

    /// Starts a message to be sent in fragments (hybi only: see the module docs).
    pub(crate) fn start_fragments(&self, kind: MessageKind) -> Result<Fragments, Error> {
        match self {
            Framing::Hybi { .. } => Ok(Fragments::new(match kind {
                MessageKind::Text => OpCode::Text,
                MessageKind::Binary => OpCode::Binary,
            })),
            Framing::Hixie { .. } => Err(Error::new(ErrorKind::Unsupported(
                "messages sent in fragments",
            ))),
        }
    }

    /// Appends the next frame of a message sent in fragments.
    pub(crate) fn encode_fragment(
        &mut self,
        out: &mut Output,
        fragments: &mut Fragments,
        piece: Bytes,
        fin: bool,
        rng: &mut Randomness,
    ) {
        if let Framing::Hybi { role, outgoing, .. } = self {
            hybi::encode_fragment(out, *role, fragments, piece, fin, outgoing, rng);
        }
    }

    /// Appends a ping of at most 125 bytes.
    pub(crate) fn encode_ping(
        &mut self,
        out: &mut Output,
        payload: Bytes,
        rng: &mut Randomness,
    ) -> Result<(), Error> {
        let Framing::Hybi { role, outgoing, .. } = self else {
            return Err(Error::new(ErrorKind::Unsupported("ping")));
        };
        if payload.len() > 125 {
            return Err(Error::new(ErrorKind::InvalidControlFrame(
                "ping payload over 125 bytes",
            )));
        }
        hybi::encode(out, *role, OpCode::Ping, payload, outgoing, rng);
        Ok(())
    }

    /// The encoded pong answering a ping (which only hybi has).
    pub(crate) fn encode_pong(&mut self, payload: Bytes, rng: &mut Randomness) -> Option<Bytes> {
        let Framing::Hybi { role, outgoing, .. } = self else {
            return None;
        };
        let mut frame = Output::default();
        hybi::encode(&mut frame, *role, OpCode::Pong, payload, outgoing, rng);
        frame.pop()
    }

    /// Appends what closes the connection from our side, with `frame`'s code and
    /// reason where the version carries them (`None`: an empty hybi close frame,
    /// the answer to one without a code), and says how closing goes on.
    pub(crate) fn encode_close(
        &mut self,
        out: &mut Output,
        frame: Option<&CloseFrame>,
        rng: &mut Randomness,
    ) -> CloseStyle {
        match self {
            Framing::Hybi { role, outgoing, .. } => {
                let payload = hybi::close_payload(frame);
                hybi::encode(out, *role, OpCode::Close, payload, outgoing, rng);
                CloseStyle::Handshake
            }
            Framing::Hixie { hixie76: true, .. } => {
                out.extend(&hixie::CLOSE);
                CloseStyle::Immediate
            }
            Framing::Hixie { hixie76: false, .. } => CloseStyle::Nothing,
        }
    }
}
