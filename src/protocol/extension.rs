//! Negotiated extensions: where `Sec-WebSocket-Extensions`, the frame header's RSV
//! bits and the per-message transforms meet.
//!
//! An extension takes part in three places, and this module is the only one the
//! rest of the core asks about them:
//! - the handshake: the client's offer ([`Offer`]), the server's choice
//!   among the offers and its answer ([`server_accept`]), and the client's check
//!   of that answer ([`client_check`]), all giving a [`Negotiated`];
//! - the frame header: the RSV bits a negotiated extension reserves
//!   ([`Incoming::allowed_rsv`]); any other set bit is a protocol error;
//! - each data message: a transform on the way out ([`Outgoing::encode`]) and its
//!   inverse on the way in ([`Incoming::decode`]), within the message size limit.
//!
//! permessage-deflate (RFC 7692) is the one extension implemented. Another would
//! add a field to [`Negotiated`] and a step to each function here, and nothing to
//! the codec, the handshakes or the driver.

use super::deflate::{
    self, Compression, DeflateParams, DeflateStream, Deflater, InflateStream, Inflater,
};
use super::error::Error;
use super::frame::{OpCode, RSV1};
use super::options::Options;
use super::version::Role;
use bytes::Bytes;
use http::HeaderMap;

/// What the handshake settled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Negotiated {
    pub deflate: Option<DeflateParams>,
}

/// The header values of `Sec-WebSocket-Extensions`, over all its lines.
fn values(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(http::header::SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .filter_map(|v| v.to_str().ok())
}

/// What a client offers: the extensions its options enable.
#[derive(Debug, Clone, Default)]
pub(crate) struct Offer {
    #[cfg(feature = "deflate")]
    deflate: Option<super::DeflateConfig>,
}

impl Offer {
    #[cfg_attr(not(feature = "deflate"), allow(unused_variables))]
    pub(crate) fn new(options: &Options) -> Offer {
        Offer {
            #[cfg(feature = "deflate")]
            deflate: options.get_deflate(Role::Client).cloned(),
        }
    }

    /// The client's `Sec-WebSocket-Extensions`, if it offers anything.
    pub(crate) fn header(&self) -> Option<String> {
        #[cfg(feature = "deflate")]
        if let Some(config) = &self.deflate {
            return Some(config.offer());
        }
        None
    }
}

/// The server's pick among the client's offers, and the header value announcing it.
#[cfg_attr(not(feature = "deflate"), allow(unused_variables))]
pub(crate) fn server_accept(
    headers: &HeaderMap,
    options: &Options,
) -> (Negotiated, Option<String>) {
    #[cfg(feature = "deflate")]
    if let Some(config) = options.get_deflate(Role::Server) {
        if let Some((params, answer)) = config.negotiate(values(headers)) {
            return (
                Negotiated {
                    deflate: Some(params),
                },
                Some(answer),
            );
        }
    }
    (Negotiated::default(), None)
}

/// Checks the server's answer: only what we offered may be accepted.
#[cfg_attr(not(feature = "deflate"), allow(unused_variables))]
pub(crate) fn client_check(headers: &HeaderMap, offer: &Offer) -> Result<Negotiated, Error> {
    let answer: Vec<String> = values(headers).map(str::to_owned).collect();
    #[cfg(feature = "deflate")]
    if let Some(config) = &offer.deflate {
        return Ok(Negotiated {
            deflate: config.accept_response(&answer)?,
        });
    }
    let first = answer
        .iter()
        .flat_map(|v| v.split(','))
        .map(|e| e.split(';').next().unwrap_or_default().trim())
        .find(|e| !e.is_empty());
    match first {
        None => Ok(Negotiated::default()),
        Some(name) => Err(Error::unoffered_extension(name)),
    }
}

/// The transforms for what was negotiated, for our `role`.
// Without the `deflate` feature `DeflateParams` has no values: that arm never runs.
#[cfg_attr(not(feature = "deflate"), allow(unreachable_code))]
pub(crate) fn transforms(
    negotiated: Negotiated,
    role: Role,
    options: &Options,
) -> (Outgoing, Incoming) {
    let (deflater, inflater) = match negotiated.deflate {
        Some(params) => {
            let (d, i) = deflate::transform(params, role, options);
            (Some(Box::new(d)), Some(Box::new(i)))
        }
        None => (None, None),
    };
    let incoming = Incoming {
        inflater,
        max_inflated: options.max_inflated_message_size.unwrap_or(usize::MAX),
    };
    (Outgoing { deflater }, incoming)
}

/// The transforms applied to messages we send.
#[derive(Debug, Default)]
pub(crate) struct Outgoing {
    /// Boxed, as the inflater: most connections negotiate no compression,
    /// and should not carry its size.
    deflater: Option<Box<Deflater>>,
}

impl Outgoing {
    /// Transforms a whole message's payload; returns it with the RSV bits to set on
    /// its (first) frame. Control frames pass through untouched.
    pub(crate) fn encode(&mut self, opcode: OpCode, payload: Bytes) -> (Bytes, u8) {
        match &mut self.deflater {
            Some(d) if !opcode.is_control() && d.wants(payload.len()) => {
                (d.compress(&payload), RSV1)
            }
            _ => (payload, 0),
        }
    }

    /// The settings a data message of `len` bytes would be compressed with on
    /// this connection, or `None` if it would go uncompressed: for a message
    /// prepared once for many connections, compressed by [`compress_standalone`]
    /// once per distinct value.
    #[allow(dead_code)] // For the hub's prepared messages.
    #[cfg_attr(not(feature = "deflate"), allow(unreachable_code))]
    pub(crate) fn compression(&self, opcode: OpCode, len: usize) -> Option<Compression> {
        match &self.deflater {
            Some(d) if !opcode.is_control() && d.wants(len) => Some(d.settings()),
            _ => None,
        }
    }

    /// Must follow every data message queued on this connection that did not come
    /// from [`encode`](Outgoing::encode) (a prepared frame), with the payload it
    /// carried before compression and the RSV bits of its first frame: a
    /// compressed one entered the peer's LZ77 window, so it enters ours, and the
    /// next message we compress may refer back into it as the peer expects.
    #[allow(dead_code)] // For the hub's prepared messages.
    pub(crate) fn after_foreign_frame(&mut self, payload: &[u8], rsv: u8) {
        if let Some(d) = &mut self.deflater {
            if rsv & RSV1 != 0 {
                d.sent(payload);
            }
        }
    }
}

/// What the transforms keep of a data message sent in fragments, from its
/// first frame to its last (hybi only).
#[derive(Debug)]
pub(crate) struct Fragments {
    opcode: OpCode,
    /// A frame of it has gone out: the rest are continuations.
    started: bool,
    /// Set when the first frame went out compressed: the message is one
    /// compressed stream across its frames (RFC 7692 section 6.1).
    deflate: Option<DeflateStream>,
}

impl Fragments {
    pub(crate) fn new(opcode: OpCode) -> Fragments {
        Fragments {
            opcode,
            started: false,
            deflate: None,
        }
    }

    pub(crate) fn opcode(&self) -> OpCode {
        self.opcode
    }

    pub(crate) fn started(&self) -> bool {
        self.started
    }
}

impl Outgoing {
    /// Transforms one fragment of a message sent in pieces; returns its payload
    /// and the RSV bits of its frame.
    ///
    /// Whether the message is compressed is decided by its first frame, which
    /// carries RSV1: it is, under permessage-deflate, unless the message ends in
    /// that frame below the threshold (then it is an ordinary small message).
    /// A compressed message is one deflate stream across its frames, each
    /// fragment ending on a sync flush so that the peer can inflate it as it
    /// comes; the `00 00 ff ff` that RFC 7692 section 7.2.1 removes is removed
    /// once, at the end of the message (see [`DeflateStream`]). Context takeover
    /// works as for whole messages.
    #[cfg_attr(not(feature = "deflate"), allow(unreachable_code, unused_variables))]
    pub(crate) fn encode_fragment(
        &mut self,
        fragments: &mut Fragments,
        piece: Bytes,
        fin: bool,
    ) -> (Bytes, u8) {
        let first = !fragments.started;
        if first {
            fragments.started = true;
            match &mut self.deflater {
                Some(d) if !fin || d.wants(piece.len()) => {
                    fragments.deflate = Some(d.start_stream());
                }
                _ => return self.encode(fragments.opcode, piece),
            }
        }
        // Past here the message is compressed: RSV1 on its first frame.
        let rsv = if first { RSV1 } else { 0 };
        match (&mut self.deflater, &mut fragments.deflate) {
            (Some(d), Some(stream)) => {
                let payload = d.compress_fragment(stream, &piece, fin);
                if fin {
                    d.end_stream(fragments.deflate.take().expect("present"));
                }
                (payload, rsv)
            }
            // Started before the handshake negotiated deflate, or uncompressed.
            _ => (piece, 0),
        }
    }
}

/// Compresses a data message on its own for every connection whose
/// [`Outgoing::compression`] is `settings`: the payload of its (first) frame, to
/// send with RSV1 set and then report with [`Outgoing::after_foreign_frame`].
#[allow(dead_code)] // For the hub's prepared messages.
pub(crate) fn compress_standalone(settings: Compression, payload: &[u8]) -> Bytes {
    deflate::compress_standalone(settings, payload)
}

/// The inverse transforms, for messages we receive.
#[derive(Debug, Default)]
pub(crate) struct Incoming {
    inflater: Option<Box<Inflater>>,
    /// [`Options::max_inflated_message_size`]; only read with an inflater, which
    /// only [`transforms`] sets, along with it.
    max_inflated: usize,
}

impl Incoming {
    /// The RSV bits a frame with `opcode` may carry: negotiated extensions mark
    /// the first frame of a data message.
    pub(crate) fn allowed_rsv(&self, opcode: OpCode) -> u8 {
        match opcode {
            OpCode::Text | OpCode::Binary if self.inflater.is_some() => RSV1,
            _ => 0,
        }
    }

    /// Whether a message whose first frame had `rsv` must be decoded before its
    /// content (and, for text, its UTF-8) can be looked at.
    pub(crate) fn transforms(&self, rsv: u8) -> bool {
        rsv != 0
    }

    /// Undoes the transforms of a whole message, failing with 1009 as soon as
    /// the result passes `max`.
    pub(crate) fn decode(&mut self, rsv: u8, payload: Bytes, max: usize) -> Result<Bytes, Error> {
        match &mut self.inflater {
            Some(inflater) if rsv & RSV1 != 0 => {
                inflater.decompress(&payload, max.min(self.max_inflated))
            }
            _ => Ok(payload),
        }
    }

    /// The cap on a transformed message once decoded, beside the message size.
    pub(crate) fn max_inflated(&self) -> usize {
        self.max_inflated
    }

    /// Starts undoing the transforms of a message whose first frame had `rsv`,
    /// for a reader that takes it in pieces: `None` when it was not transformed.
    pub(crate) fn start_stream(&self, rsv: u8) -> Result<Option<IncomingStream>, Error> {
        match &self.inflater {
            Some(inflater) if rsv & RSV1 != 0 => Ok(Some(IncomingStream {
                inflate: inflater.start_stream()?,
            })),
            _ => Ok(None),
        }
    }

    /// Decodes what it can of `input`, the next transformed bytes of a streamed
    /// message (with `last`, the end of it), into at most `room` more bytes
    /// appended to `out`; returns how much of `input` it took and whether the
    /// message is complete. The output joins the history the next message may
    /// refer to.
    pub(crate) fn stream(
        &mut self,
        stream: &mut IncomingStream,
        input: &[u8],
        out: &mut Vec<u8>,
        room: usize,
        last: bool,
    ) -> Result<(usize, bool), Error> {
        let start = out.len();
        let result = stream.inflate.inflate(input, out, room, last)?;
        if let Some(inflater) = &mut self.inflater {
            inflater.streamed(&out[start..]);
        }
        Ok(result)
    }
}

/// The inverse transforms of one message read in pieces (see
/// [`Incoming::start_stream`]).
#[derive(Debug)]
pub(crate) struct IncomingStream {
    inflate: InflateStream,
}
