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
//!
//! # Messages in pieces
//!
//! A message can instead be handed out as it arrives ([`Frame::Start`], then
//! [`Frame::Part`]s, then [`Frame::End`]), when the caller asks for it
//! (`chunks` in [`Decoder::decode`]) at any point before the message is
//! complete: what was joined so far becomes the first piece. Each piece is
//! what the input holds of the frame being read, split off as soon as it is
//! unmasked and validated, so the input buffer never holds more than one read
//! of a large frame. Text pieces end on code point boundaries: the at most
//! three bytes of a code point cut by a read or a frame boundary are held back
//! until it is whole. A compressed message is inflated piece by piece into at
//! most [`PIECE`] bytes at a time, its compressed bytes staying in the input
//! until the inflater takes them. The message size limit (and the inflated
//! one) applies to the total, checked before anything past it is handed out,
//! unless the reader changed it for this message ([`Decoder::set_message_limit`]).

use super::buffer::reserve_within;
use super::close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
use super::error::{Error, ErrorKind};
use super::event::Message;
use super::extension::{Fragments, Incoming, IncomingStream, Outgoing};
use super::frame::{self, Header, OpCode};
use super::framing::Frame;
use super::mask::apply_mask;
use super::output::Output;
use super::rng::Randomness;
use super::utf8::{incomplete_tail, sequence_len, Utf8Bytes, Utf8Validator};
use super::version::Role;
use bytes::{Buf, Bytes, BytesMut};

/// Payloads up to this size that end the input are copied out of the input
/// buffer rather than split off it (see [`Decoder::decode`]).
const COPY_UP_TO: usize = 4 << 10;

/// The most a piece of an inflated message holds.
pub(crate) const PIECE: usize = 64 << 10;

#[derive(Debug)]
enum Read {
    Header,
    /// `done` bytes at the front of the input are already unmasked (and, unless
    /// the message is transformed, validated); `at` bytes of this frame's
    /// payload were handed out before them (the mask's phase counts from the
    /// frame's start). `header.len` is what is left of the payload.
    Payload {
        header: Header,
        done: usize,
        at: usize,
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

/// A message handed out in pieces as it arrives.
#[derive(Debug)]
struct Streamed {
    text: bool,
    rsv: u8,
    /// Payload bytes its frames announced so far, as sent (compressed or not).
    wire: u64,
    /// Bytes handed out so far (inflated, if it was compressed).
    out: u64,
    /// The limit on `wire` and `out`.
    limit: usize,
    /// The limit on `out` for a compressed message.
    inflated_limit: usize,
    /// The start of a code point cut by a frame boundary, not handed out yet.
    held: Held,
    /// What was joined before the reader asked for pieces (compressed, if the
    /// message is), handed out first.
    backlog: Bytes,
    /// The frame being read is the message's last.
    fin: bool,
    inflate: Option<IncomingStream>,
}

/// What one inflation step of a message read in pieces gave.
struct Inflated {
    /// Compressed bytes taken.
    used: usize,
    /// Bytes inflated (some may be held back as the start of a code point).
    fresh: usize,
    /// The compressed stream of the message ended.
    complete: bool,
    /// What can be handed out, if anything.
    piece: Option<Message>,
}

impl Streamed {
    /// Inflates the message's next compressed bytes (`last` when they end it)
    /// into at most [`PIECE`] bytes, within the inflated limit: text validated as
    /// it goes, a code point cut at the end held back for the next piece.
    fn inflate_piece(
        &mut self,
        incoming: &mut Incoming,
        utf8: &mut Utf8Validator,
        compressed: &[u8],
        last: bool,
    ) -> Result<Inflated, Error> {
        let stream = self.inflate.as_mut().expect("compressed");
        let mut out = Vec::with_capacity(self.held.len + PIECE);
        out.extend_from_slice(self.held.as_slice());
        let (used, complete) = incoming.stream(stream, compressed, &mut out, PIECE, last)?;
        let fresh = out.len() - self.held.len;
        self.out += fresh as u64;
        if self.out > self.inflated_limit as u64 {
            return Err(Error::new(ErrorKind::TooBig));
        }
        if self.text {
            utf8.feed(&out[self.held.len..]).map_err(invalid_utf8)?;
            let keep = out.len() - utf8.pending();
            self.held.set(&out[keep..]);
            out.truncate(keep);
        }
        let piece = (!out.is_empty()).then(|| message(self.text, Bytes::from(out)));
        Ok(Inflated {
            used,
            fresh,
            complete,
            piece,
        })
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Held {
    bytes: [u8; 4],
    len: usize,
}

impl Held {
    fn set(&mut self, bytes: &[u8]) {
        self.bytes[..bytes.len()].copy_from_slice(bytes);
        self.len = bytes.len();
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

#[derive(Debug)]
pub(crate) struct Decoder {
    role: Role,
    max_frame: usize,
    max_message: usize,
    read: Read,
    partial: Option<Partial>,
    /// (Boxed: most connections never read a message in pieces.)
    streamed: Option<Box<Streamed>>,
    /// Validates the text message in progress, across frames.
    utf8: Utf8Validator,
    /// The negotiated extensions' inverse transforms.
    incoming: Incoming,
}

fn protocol(why: &'static str) -> Error {
    Error::new(ErrorKind::Protocol(why))
}

fn invalid_utf8<T>(_: T) -> Error {
    Error::new(ErrorKind::InvalidUtf8)
}

impl Decoder {
    pub(crate) fn new(role: Role, max_frame: usize, max_message: usize) -> Self {
        Decoder {
            role,
            max_frame,
            max_message,
            read: Read::Header,
            partial: None,
            streamed: None,
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

    /// Whether a message is being handed out in pieces.
    pub(crate) fn streaming(&self) -> bool {
        self.streamed.is_some()
    }

    /// Sets the limit on the total size of the message being handed out in
    /// pieces (its compressed and its inflated size), in place of the message
    /// size limits. Does nothing when none is.
    pub(crate) fn set_message_limit(&mut self, limit: usize) {
        if let Some(s) = &mut self.streamed {
            s.limit = limit;
            s.inflated_limit = limit;
        }
    }

    /// Decodes the next frame from the front of `input`, consuming it. `Ok(None)`
    /// means more bytes are needed. With `chunks`, a data message not complete
    /// yet is handed out in pieces from now on (see the module docs). After an
    /// `Err` the decoder must not be used.
    pub(crate) fn decode(
        &mut self,
        input: &mut BytesMut,
        chunks: bool,
    ) -> Result<Option<Frame>, Error> {
        if chunks && self.streamed.is_none() {
            if let Some(start) = self.begin_streaming()? {
                return Ok(Some(start));
            }
        }
        if let Some(piece) = self.backlog_piece()? {
            return Ok(Some(piece));
        }
        loop {
            match self.read {
                Read::Header => {
                    let Some((header, size)) = frame::parse_header(input).map_err(protocol)? else {
                        return Ok(None);
                    };
                    self.check_header(&header, chunks)?;
                    input.advance(size);
                    self.read = Read::Payload {
                        header,
                        done: 0,
                        at: 0,
                    };
                    if let Some(s) = &mut self.streamed {
                        if header.opcode == OpCode::Continuation {
                            s.wire += header.len;
                            s.fin = header.fin;
                        }
                    } else if chunks && matches!(header.opcode, OpCode::Text | OpCode::Binary) {
                        if let Some(start) = self.begin_streaming()? {
                            return Ok(Some(start));
                        }
                    }
                }
                Read::Payload {
                    mut header,
                    done,
                    mut at,
                } => {
                    let len = header.len as usize;
                    let end = len.min(input.len());
                    if end > done {
                        let fresh = &mut input[done..end];
                        if let Some(key) = header.mask {
                            apply_mask(fresh, key, at + done);
                        }
                        if self.is_text(&header)
                            && !self.incoming.transforms(self.message_rsv(&header))
                        {
                            self.utf8.feed(fresh).map_err(invalid_utf8)?;
                        }
                        self.read = Read::Payload {
                            header,
                            done: end,
                            at,
                        };
                    }
                    if self.streamed.is_some() && !header.opcode.is_control() {
                        let mut done = end.max(done);
                        let step = self.piece(input, &mut header, &mut done, &mut at)?;
                        self.read = Read::Payload { header, done, at };
                        match step {
                            Step::Piece(part) => return Ok(Some(Frame::Part(part))),
                            Step::More => return Ok(None),
                            Step::Again => continue,
                            Step::FrameDone => {
                                self.read = Read::Header;
                                continue;
                            }
                            Step::End => {
                                self.read = Read::Header;
                                return Ok(Some(Frame::End));
                            }
                        }
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

    /// For a caller with events waiting that wants pieces: switches the data
    /// message begun before them, if any, to pieces and announces it, then hands
    /// out what was joined of it, so that both come before those events.
    pub(crate) fn begin_chunks(&mut self) -> Result<Option<Frame>, Error> {
        match self.streamed {
            None => self.begin_streaming(),
            Some(_) => self.backlog_piece(),
        }
    }

    /// Goes back to joining the message whose start was announced but which
    /// nobody read in pieces (a reader of whole messages came first): nothing
    /// of it was handed out yet.
    pub(crate) fn unstream(&mut self) -> Result<(), Error> {
        let Some(s) = self.streamed.take() else {
            return Ok(());
        };
        debug_assert_eq!(s.out, 0);
        // Joined, the message is bound by the connection's limit, which was
        // left for the reader of pieces to check.
        if s.wire > self.max_message as u64 {
            return Err(Error::new(ErrorKind::TooBig));
        }
        let first_frame = matches!(
            &self.read,
            Read::Payload { header, .. } if matches!(header.opcode, OpCode::Text | OpCode::Binary)
        );
        if !first_frame {
            let mut buf = BytesMut::from(&s.backlog[..]);
            buf.extend_from_slice(s.held.as_slice());
            self.partial = Some(Partial {
                text: s.text,
                rsv: s.rsv,
                buf,
            });
        }
        Ok(())
    }

    /// What was joined before the reader asked for pieces, handed out first (a
    /// compressed backlog inflated at most a piece at a time).
    fn backlog_piece(&mut self) -> Result<Option<Frame>, Error> {
        let Some(s) = self.streamed.as_mut().filter(|s| !s.backlog.is_empty()) else {
            return Ok(None);
        };
        if s.inflate.is_none() {
            let backlog = std::mem::take(&mut s.backlog);
            s.out += backlog.len() as u64;
            return Ok(Some(Frame::Part(message(s.text, backlog))));
        }
        while !s.backlog.is_empty() {
            let backlog = std::mem::take(&mut s.backlog);
            let step = s.inflate_piece(&mut self.incoming, &mut self.utf8, &backlog, false);
            s.backlog = backlog;
            let Inflated {
                used, fresh, piece, ..
            } = step?;
            s.backlog.advance(used);
            if let Some(piece) = piece {
                return Ok(Some(Frame::Part(piece)));
            }
            if used == 0 && fresh == 0 {
                return Err(protocol("invalid compressed data"));
            }
        }
        Ok(None)
    }

    /// Switches the data message in progress, if any, to being handed out in
    /// pieces, and announces it.
    fn begin_streaming(&mut self) -> Result<Option<Frame>, Error> {
        let (text, rsv, backlog, fin, wire) = match (&self.read, self.partial.take()) {
            (_, Some(p)) => {
                let (fin, len) = match &self.read {
                    Read::Payload { header, .. } if !header.opcode.is_control() => {
                        (header.fin, header.len)
                    }
                    _ => (false, 0),
                };
                let joined = p.buf.len() as u64;
                (p.text, p.rsv, p.buf.freeze(), fin, joined + len)
            }
            (Read::Payload { header, .. }, None)
                if matches!(header.opcode, OpCode::Text | OpCode::Binary) =>
            {
                (
                    header.opcode == OpCode::Text,
                    header.rsv,
                    Bytes::new(),
                    header.fin,
                    header.len,
                )
            }
            _ => return Ok(None),
        };
        let mut streamed = Streamed {
            text,
            rsv,
            wire,
            out: 0,
            limit: self.max_message,
            inflated_limit: self.max_message.min(self.incoming.max_inflated()),
            held: Held::default(),
            backlog,
            fin,
            inflate: self.incoming.start_stream(rsv)?,
        };
        if text && streamed.inflate.is_none() {
            // What was joined ends where the validator stopped; a code point it
            // cut is held back (its bytes are validated, but not whole yet).
            let tail = incomplete_tail(&streamed.backlog);
            let keep = streamed.backlog.len() - tail;
            streamed.held.set(&streamed.backlog[keep..]);
            streamed.backlog.truncate(keep);
        }
        self.streamed = Some(Box::new(streamed));
        Ok(Some(Frame::Start(text)))
    }

    /// The next piece of the message handed out in pieces, from the frame being
    /// read (`header.len` left of it, the first `done` bytes of that at the
    /// front of `input`, unmasked and validated; `at` counts what was taken).
    fn piece(
        &mut self,
        input: &mut BytesMut,
        header: &mut Header,
        done: &mut usize,
        at: &mut usize,
    ) -> Result<Step, Error> {
        let s = self.streamed.as_mut().expect("streaming");
        if s.wire > s.limit as u64 {
            return Err(Error::new(ErrorKind::TooBig));
        }
        if s.inflate.is_some() {
            return self.inflated_piece(input, header, done, at);
        }
        let frame_in = *done as u64 == header.len;
        if s.held.len > 0 {
            // Complete the code point the previous frame cut.
            let need = sequence_len(s.held.bytes[0]) - s.held.len;
            if *done < need {
                if !frame_in {
                    return Ok(Step::More);
                }
                let n = *done;
                let bytes = take(n, input, header, done, at);
                let len = s.held.len;
                s.held.bytes[len..len + n].copy_from_slice(&bytes);
                s.held.len += n;
                return self.frame_done();
            }
            let mut whole = Vec::with_capacity(4);
            whole.extend_from_slice(s.held.as_slice());
            whole.extend_from_slice(&take(need, input, header, done, at));
            s.held.len = 0;
            s.out += whole.len() as u64;
            return Ok(Step::Piece(message(true, Bytes::from(whole))));
        }
        let cut = if s.text { self.utf8.pending() } else { 0 };
        let ready = done.saturating_sub(cut);
        if ready > 0 {
            s.out += ready as u64;
            let bytes = take(ready, input, header, done, at).freeze();
            return Ok(Step::Piece(message(s.text, bytes)));
        }
        if frame_in {
            // At most the start of a cut code point is left: hold it for the
            // next frame.
            let n = *done;
            let bytes = take(n, input, header, done, at);
            s.held.set(&bytes);
            return self.frame_done();
        }
        Ok(Step::More)
    }

    /// A piece of a compressed message: inflated from the compressed bytes of
    /// the frame being read, at most [`PIECE`] bytes.
    fn inflated_piece(
        &mut self,
        input: &mut BytesMut,
        header: &mut Header,
        done: &mut usize,
        at: &mut usize,
    ) -> Result<Step, Error> {
        let s = self.streamed.as_mut().expect("streaming");
        let frame_in = *done as u64 == header.len;
        let last = frame_in && s.fin;
        let Inflated {
            used,
            fresh,
            complete,
            piece,
        } = s.inflate_piece(&mut self.incoming, &mut self.utf8, &input[..*done], last)?;
        input.advance(used);
        *done -= used;
        *at += used;
        header.len -= used as u64;
        if let Some(piece) = piece {
            return Ok(Step::Piece(piece));
        }
        if complete {
            return self.frame_done();
        }
        if used > 0 || fresh > 0 {
            return Ok(Step::Again);
        }
        if last {
            // The end of the message went in and nothing moved.
            return Err(protocol("invalid compressed data"));
        }
        if frame_in && *done == 0 {
            return Ok(Step::FrameDone);
        }
        Ok(Step::More)
    }

    /// The frame being read is all handed out: the message ends with it if it
    /// was the last.
    fn frame_done(&mut self) -> Result<Step, Error> {
        let s = self.streamed.as_ref().expect("streaming");
        if !s.fin {
            return Ok(Step::FrameDone);
        }
        let (text, held) = (s.text, s.held.len);
        self.streamed = None;
        if text {
            if held > 0 {
                return Err(Error::new(ErrorKind::InvalidUtf8));
            }
            self.utf8.finish().map_err(invalid_utf8)?;
        }
        Ok(Step::End)
    }

    /// Rules that depend on the role, the configuration or the message in progress.
    fn check_header(&self, header: &Header, chunks: bool) -> Result<(), Error> {
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
        let in_message = self.partial.is_some() || self.streamed.is_some();
        match (header.opcode, in_message) {
            (OpCode::Continuation, false) => {
                return Err(protocol("continuation frame with no message started"))
            }
            (OpCode::Text | OpCode::Binary, true) => {
                return Err(protocol("new data frame inside a fragmented message"))
            }
            _ => {}
        }
        // A message handed out in pieces is checked against its own limit,
        // which its reader may change once it starts (see `piece`).
        let streams = self.streamed.is_some() || (chunks && !header.opcode.is_control());
        if !header.opcode.is_control() && !streams {
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
            OpCode::Continuation => match (&self.partial, &self.streamed) {
                (Some(p), _) => p.text,
                (_, Some(s)) => s.text,
                _ => false,
            },
            _ => false,
        }
    }

    /// The RSV bits of the message `header` belongs to (its first frame's).
    fn message_rsv(&self, header: &Header) -> u8 {
        match header.opcode {
            OpCode::Continuation => match (&self.partial, &self.streamed) {
                (Some(p), _) => p.rsv,
                (_, Some(s)) => s.rsv,
                _ => 0,
            },
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

/// What [`Decoder::piece`] came to.
enum Step {
    /// A piece to hand out.
    Piece(Message),
    /// The frame needs more input.
    More,
    /// Progress without a piece: look again.
    Again,
    /// The frame is all handed out and the message goes on.
    FrameDone,
    /// The message is all handed out.
    End,
}

/// Splits the first `n` unmasked bytes of the frame being read off `input`.
fn take(
    n: usize,
    input: &mut BytesMut,
    header: &mut Header,
    done: &mut usize,
    at: &mut usize,
) -> BytesMut {
    *done -= n;
    *at += n;
    header.len -= n as u64;
    input.split_to(n)
}

fn message(text: bool, bytes: Bytes) -> Message {
    if text {
        Message::Text(Utf8Bytes::from_validated(bytes))
    } else {
        Message::Binary(bytes)
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
