//! RFC 6455 framing (also hybi-07 and hybi-08, which frame the same way).
//!
//! The decoder works in place on the driver's input buffer: it unmasks and
//! validates payload bytes as they arrive, so an invalid text frame fails before
//! it is complete, and hands out each complete frame's payload as a `Bytes` split
//! off the buffer, without a copy (a payload of up to 4 KiB that ends the input is
//! copied into a `Bytes` of its own, which costs less than sharing the buffer). Otherwise only
//! fragmented messages are copied, once, into the buffer that joins them. A message transformed by a negotiated extension
//! (permessage-deflate) is decoded once complete, within the message size limit,
//! and validated then.

use super::buffer::reserve_within;
use super::close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
use super::error::{Error, ErrorKind};
use super::event::Message;
use super::extension::{Fragments, Incoming, Outgoing};
use super::frame::{self, Header, OpCode};
use super::mask::apply_mask;
use super::output::Output;
use super::rng::Randomness;
use super::utf8::{Utf8Bytes, Utf8Validator};
use super::version::Role;
use bytes::{Buf, Bytes, BytesMut};

/// Payloads up to this size that end the input are copied out of the input
/// buffer rather than split off it (see [`Decoder::decode`]).
const COPY_UP_TO: usize = 4 << 10;

/// A decoded unit: a whole message or a control frame.
#[derive(Debug)]
pub(crate) enum Frame {
    Message(Message),
    Ping(Bytes),
    Pong(Bytes),
    Close(CloseFrame),
}

#[derive(Debug)]
enum Read {
    Header,
    /// `done` bytes at the front of the input are already unmasked and validated.
    Payload {
        header: Header,
        done: usize,
    },
}

/// A fragmented message being joined.
#[derive(Debug)]
struct Partial {
    text: bool,
    /// The first frame's RSV bits, which say how the message was transformed.
    rsv: u8,
    buf: BytesMut,
}

#[derive(Debug)]
pub(crate) struct Decoder {
    role: Role,
    max_frame: usize,
    max_message: usize,
    read: Read,
    partial: Option<Partial>,
    /// Validates the text message in progress, across frames.
    utf8: Utf8Validator,
    /// The negotiated extensions' inverse transforms.
    incoming: Incoming,
}

fn protocol(why: &'static str) -> Error {
    Error::new(ErrorKind::Protocol(why))
}

impl Decoder {
    pub(crate) fn new(role: Role, max_frame: usize, max_message: usize) -> Self {
        Decoder {
            role,
            max_frame,
            max_message,
            read: Read::Header,
            partial: None,
            utf8: Utf8Validator::default(),
            incoming: Incoming::default(),
        }
    }

    /// Accepts messages transformed by the negotiated extensions from now on.
    pub(crate) fn set_incoming(&mut self, incoming: Incoming) {
        self.incoming = incoming;
    }

    /// Bytes still missing from the frame being read, when its header is known.
    pub(crate) fn missing(&self, buffered: usize) -> usize {
        match &self.read {
            Read::Header => 0,
            Read::Payload { header, .. } => (header.len as usize).saturating_sub(buffered),
        }
    }

    /// Decodes the next frame from the front of `input`, consuming it. `Ok(None)`
    /// means more bytes are needed. After an `Err` the decoder must not be used.
    pub(crate) fn decode(&mut self, input: &mut BytesMut) -> Result<Option<Frame>, Error> {
        loop {
            match self.read {
                Read::Header => {
                    let Some((header, size)) = frame::parse_header(input).map_err(protocol)? else {
                        return Ok(None);
                    };
                    self.check_header(&header)?;
                    input.advance(size);
                    self.read = Read::Payload { header, done: 0 };
                }
                Read::Payload { header, done } => {
                    let len = header.len as usize;
                    let end = len.min(input.len());
                    if end > done {
                        let fresh = &mut input[done..end];
                        if let Some(key) = header.mask {
                            apply_mask(fresh, key, done);
                        }
                        if self.is_text(&header)
                            && !self.incoming.transforms(self.message_rsv(&header))
                        {
                            self.utf8
                                .feed(fresh)
                                .map_err(|_| Error::new(ErrorKind::InvalidUtf8))?;
                        }
                        self.read = Read::Payload { header, done: end };
                    }
                    if end < len {
                        return Ok(None);
                    }
                    self.read = Read::Header;
                    let payload = if len <= COPY_UP_TO && len == input.len() {
                        // A small payload that ends the input (one message per
                        // read: request-response traffic) is copied out: a
                        // `Bytes` of its own is one exact allocation, where
                        // splitting would make the input buffer shared (an
                        // allocation too) and keep it pinned while the message
                        // lives. Frames with more input behind them are split
                        // off: once shared, a split costs no allocation.
                        let payload = Bytes::copy_from_slice(&input[..len]);
                        input.advance(len);
                        payload
                    } else {
                        input.split_to(len).freeze()
                    };
                    if let Some(frame) = self.complete(header, payload)? {
                        return Ok(Some(frame));
                    }
                }
            }
        }
    }

    /// Rules that depend on the role, the configuration or the message in progress.
    fn check_header(&self, header: &Header) -> Result<(), Error> {
        if header.rsv & !self.incoming.allowed_rsv(header.opcode) != 0 {
            return Err(protocol("RSV bits set without a negotiated extension"));
        }
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => return Err(protocol("client frame is not masked")),
            (Role::Client, true) => return Err(protocol("server frame is masked")),
            _ => {}
        }
        if header.len > self.max_frame as u64 {
            return Err(Error::new(ErrorKind::TooBig));
        }
        match (header.opcode, &self.partial) {
            (OpCode::Continuation, None) => {
                return Err(protocol("continuation frame with no message started"))
            }
            (OpCode::Text | OpCode::Binary, Some(_)) => {
                return Err(protocol("new data frame inside a fragmented message"))
            }
            _ => {}
        }
        if !header.opcode.is_control() {
            let so_far = self.partial.as_ref().map_or(0, |p| p.buf.len());
            // Both terms are bounded by the limits, so the sum cannot overflow u64.
            if so_far as u64 + header.len > self.max_message as u64 {
                return Err(Error::new(ErrorKind::TooBig));
            }
        }
        Ok(())
    }

    fn is_text(&self, header: &Header) -> bool {
        match header.opcode {
            OpCode::Text => true,
            OpCode::Continuation => self.partial.as_ref().is_some_and(|p| p.text),
            _ => false,
        }
    }

    /// The RSV bits of the message `header` belongs to (its first frame's).
    fn message_rsv(&self, header: &Header) -> u8 {
        match header.opcode {
            OpCode::Continuation => self.partial.as_ref().map_or(0, |p| p.rsv),
            _ => header.rsv,
        }
    }

    fn complete(&mut self, header: Header, payload: Bytes) -> Result<Option<Frame>, Error> {
        let text = self.is_text(&header);
        let rsv = self.message_rsv(&header);
        Ok(Some(match header.opcode {
            OpCode::Ping => Frame::Ping(payload),
            OpCode::Pong => Frame::Pong(payload),
            OpCode::Close => Frame::Close(parse_close(&payload)?),
            OpCode::Text | OpCode::Binary if header.fin => {
                Frame::Message(self.finish(text, rsv, payload)?)
            }
            OpCode::Text | OpCode::Binary => {
                // Room for a second fragment like this one, within the limit.
                let mut buf = BytesMut::with_capacity((payload.len() * 2).min(self.max_message));
                buf.extend_from_slice(&payload);
                self.partial = Some(Partial { text, rsv, buf });
                return Ok(None);
            }
            OpCode::Continuation => {
                let partial = self.partial.as_mut().expect("checked in check_header");
                // check_header keeps the message within max_message.
                reserve_within(&mut partial.buf, payload.len(), self.max_message);
                partial.buf.extend_from_slice(&payload);
                if !header.fin {
                    return Ok(None);
                }
                let partial = self.partial.take().expect("present");
                Frame::Message(self.finish(partial.text, partial.rsv, partial.buf.freeze())?)
            }
        }))
    }

    fn finish(&mut self, text: bool, rsv: u8, payload: Bytes) -> Result<Message, Error> {
        let transformed = self.incoming.transforms(rsv);
        let payload = self.incoming.decode(rsv, payload, self.max_message)?;
        if !text {
            return Ok(Message::Binary(payload));
        }
        if transformed {
            simdutf8::basic::from_utf8(&payload).map_err(|_| Error::new(ErrorKind::InvalidUtf8))?;
            return Ok(Message::Text(Utf8Bytes::from_validated(payload)));
        }
        self.utf8
            .finish()
            .map_err(|_| Error::new(ErrorKind::InvalidUtf8))?;
        Ok(Message::Text(Utf8Bytes::from_validated(payload)))
    }
}

/// Validates a close frame's payload (RFC 6455 sections 5.5.1 and 7.4).
fn parse_close(payload: &[u8]) -> Result<CloseFrame, Error> {
    match payload {
        [] => Ok(CloseFrame::new(CloseCode::NO_STATUS, "")),
        [_] => Err(protocol("close frame with a 1-byte payload")),
        [hi, lo, reason @ ..] => {
            let code = CloseCode::from(u16::from_be_bytes([*hi, *lo]));
            if !code.is_sendable() {
                return Err(protocol("close frame with a reserved or invalid code"));
            }
            let reason = Utf8Bytes::try_from(Bytes::copy_from_slice(reason))
                .map_err(|_| Error::new(ErrorKind::InvalidUtf8))?;
            Ok(CloseFrame { code, reason })
        }
    }
}

/// Encodes one final frame into `out`, transformed by the negotiated extensions
/// (compressed, when permessage-deflate is on and the message is worth it), and
/// masked with a fresh random key when `role` is the client.
pub(crate) fn encode(
    out: &mut Output,
    role: Role,
    opcode: OpCode,
    payload: Bytes,
    outgoing: &mut Outgoing,
    rng: &mut Randomness,
) {
    let (payload, rsv) = outgoing.encode(opcode, payload);
    encode_frame(out, role, true, opcode, rsv, payload, rng);
}

/// Encodes one frame of a message sent in fragments into `out`: the first with
/// the message's opcode (and the RSV bits its transform sets), the others as
/// continuations, FIN on the last (see [`Outgoing::encode_fragment`]).
pub(crate) fn encode_fragment(
    out: &mut Output,
    role: Role,
    fragments: &mut Fragments,
    piece: Bytes,
    fin: bool,
    outgoing: &mut Outgoing,
    rng: &mut Randomness,
) {
    let opcode = if fragments.started() {
        OpCode::Continuation
    } else {
        fragments.opcode()
    };
    let (payload, rsv) = outgoing.encode_fragment(fragments, piece, fin);
    encode_frame(out, role, fin, opcode, rsv, payload, rng);
}

/// Frames an already transformed payload.
fn encode_frame(
    out: &mut Output,
    role: Role,
    fin: bool,
    opcode: OpCode,
    rsv: u8,
    payload: Bytes,
    rng: &mut Randomness,
) {
    match role {
        Role::Server => {
            let len = payload.len();
            out.push_frame(
                frame::header_len(len, false),
                |buf| frame::write_fragment_header(buf, fin, opcode, rsv, None, len),
                payload,
            );
        }
        Role::Client => {
            let key: [u8; 4] = rng.bytes();
            let buf = out.buf();
            let before = buf.len();
            buf.reserve(frame::header_len(payload.len(), true) + payload.len());
            frame::write_fragment_header(buf, fin, opcode, rsv, Some(key), payload.len());
            let start = buf.len();
            buf.extend_from_slice(&payload);
            apply_mask(&mut buf[start..], key, 0);
            let written = buf.len() - before;
            out.wrote(written);
        }
    }
}

/// The payload of a close frame we send.
pub(crate) fn close_payload(frame: Option<&CloseFrame>) -> Bytes {
    let Some(frame) = frame else {
        return Bytes::new();
    };
    let mut payload = Vec::with_capacity(2 + frame.reason.len());
    payload.extend_from_slice(&u16::from(frame.code).to_be_bytes());
    payload.extend_from_slice(frame.reason.as_bytes());
    debug_assert!(frame.reason.len() <= MAX_CLOSE_REASON);
    Bytes::from(payload)
}
