//! permessage-deflate (RFC 7692): negotiation and the per-message transform.
//!
//! Backed by `flate2` with its zlib-rs backend: pure Rust, and unlike the default
//! miniz_oxide backend it can compress with a window smaller than 32 KiB, which
//! `server_max_window_bits`/`client_max_window_bits` may demand. zlib cannot
//! compress raw deflate with a 256-byte window (8 bits), so an offer that would
//! require it is declined rather than accepted and then broken.

use super::error::{Error, ErrorKind};
use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The extension token.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// The trailer a sync flush ends with, which RFC 7692 section 7.2.1 strips.
const TRAILER: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// Inflated output grows in steps of this size, so a bomb is caught within one
/// step past the limit.
const INFLATE_STEP: usize = 32 << 10;

/// permessage-deflate settings, for both roles. On by default with the `deflate`
/// feature.
///
/// As a client these shape the offer; as a server they bound what is accepted.
///
/// ```
/// use websocket_protocol::protocol::{DeflateConfig, Options};
/// let options = Options::default().deflate(
///     DeflateConfig::default().server_no_context_takeover(true).threshold(256),
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateConfig {
    pub(crate) server_no_context_takeover: bool,
    pub(crate) client_no_context_takeover: bool,
    pub(crate) server_max_window_bits: u8,
    pub(crate) client_max_window_bits: u8,
    pub(crate) threshold: usize,
    pub(crate) level: u32,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            threshold: 64,
            level: 6,
        }
    }
}

impl DeflateConfig {
    /// Ask (client) or insist (server) that the server compress each message on
    /// its own, saving the server's per-connection compression memory.
    pub fn server_no_context_takeover(mut self, on: bool) -> Self {
        self.server_no_context_takeover = on;
        self
    }

    /// Ask that the client compress each message on its own.
    pub fn client_no_context_takeover(mut self, on: bool) -> Self {
        self.client_no_context_takeover = on;
        self
    }

    /// The largest LZ77 window (as a power of two, 9 to 15) the server may use.
    pub fn server_max_window_bits(mut self, bits: u8) -> Self {
        self.server_max_window_bits = bits.clamp(9, 15);
        self
    }

    /// The largest LZ77 window (9 to 15) the client may use.
    pub fn client_max_window_bits(mut self, bits: u8) -> Self {
        self.client_max_window_bits = bits.clamp(9, 15);
        self
    }

    /// Messages shorter than this many bytes are sent uncompressed (default 64):
    /// below it, the deflate block overhead outweighs the saving.
    pub fn threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }

    /// The compression level, 0 to 9 (default 6).
    pub fn level(mut self, level: u32) -> Self {
        self.level = level.min(9);
        self
    }

    /// The client's offer: `permessage-deflate; client_max_window_bits` plus
    /// whatever this configuration asks of the server.
    pub(crate) fn offer(&self) -> String {
        let mut offer = String::from(PERMESSAGE_DEFLATE);
        if self.server_no_context_takeover {
            offer.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            offer.push_str("; client_no_context_takeover");
        }
        if self.server_max_window_bits < 15 {
            offer.push_str(&format!(
                "; server_max_window_bits={}",
                self.server_max_window_bits
            ));
        }
        if self.client_max_window_bits < 15 {
            offer.push_str(&format!(
                "; client_max_window_bits={}",
                self.client_max_window_bits
            ));
        } else {
            offer.push_str("; client_max_window_bits");
        }
        offer
    }

    /// Server: the first acceptable offer among the `Sec-WebSocket-Extensions`
    /// values, as the parameters to use and the response header value.
    pub(crate) fn negotiate<'a>(
        &self,
        offers: impl Iterator<Item = &'a str>,
    ) -> Option<(DeflateParams, String)> {
        offers
            .flat_map(split_extensions)
            .filter(|(name, _)| name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
            .find_map(|(_, params)| self.accept_offer(&params?))
    }

    fn accept_offer(&self, offer: &Params) -> Option<(DeflateParams, String)> {
        let mut response = String::from(PERMESSAGE_DEFLATE);
        let server_no_context_takeover =
            offer.server_no_context_takeover || self.server_no_context_takeover;
        if server_no_context_takeover {
            response.push_str("; server_no_context_takeover");
        }
        let client_no_context_takeover =
            offer.client_no_context_takeover || self.client_no_context_takeover;
        if client_no_context_takeover {
            response.push_str("; client_no_context_takeover");
        }
        // Our compressor's window: at most what the client can inflate.
        let server_bits = match offer.server_max_window_bits {
            Some(Some(asked)) => asked.min(self.server_max_window_bits),
            _ => self.server_max_window_bits,
        };
        if server_bits < 9 {
            return None;
        }
        if server_bits < 15 || matches!(offer.server_max_window_bits, Some(Some(_))) {
            response.push_str(&format!("; server_max_window_bits={server_bits}"));
        }
        // The client's window: we may limit it only if it said it can be limited.
        let client_bits = match offer.client_max_window_bits {
            None => 15,
            Some(None) => self.client_max_window_bits,
            Some(Some(bits)) => bits.min(self.client_max_window_bits),
        };
        if offer.client_max_window_bits.is_none() && self.client_max_window_bits < 15 {
            // We want to limit the client's window but it cannot be asked to:
            // inflating with a bigger window is always safe, so accept anyway.
        } else if client_bits < 15 || matches!(offer.client_max_window_bits, Some(Some(_))) {
            response.push_str(&format!("; client_max_window_bits={client_bits}"));
        }
        Some((
            DeflateParams {
                server_no_context_takeover,
                client_no_context_takeover,
                server_max_window_bits: server_bits,
                client_max_window_bits: client_bits,
            },
            response,
        ))
    }

    /// Client: checks the server's `Sec-WebSocket-Extensions` response against
    /// what [`offer`](DeflateConfig::offer) asked.
    pub(crate) fn accept_response(
        &self,
        values: &[String],
    ) -> Result<Option<DeflateParams>, Error> {
        let invalid = |why| Error::new(ErrorKind::MalformedResponse(why));
        let mut found = None;
        for value in values {
            for (name, params) in split_extensions(value) {
                if !name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) {
                    return Err(Error::new(ErrorKind::UnofferedExtension(name.to_owned())));
                }
                if found.is_some() {
                    return Err(invalid("permessage-deflate accepted twice"));
                }
                let params = params.ok_or(invalid("invalid permessage-deflate parameters"))?;
                found = Some(params);
            }
        }
        let Some(p) = found else { return Ok(None) };
        let server_bits = match p.server_max_window_bits {
            None => 15,
            Some(Some(bits)) if bits <= self.server_max_window_bits => bits,
            Some(_) => {
                return Err(invalid(
                    "server_max_window_bits missing a value or above our offer",
                ))
            }
        };
        let client_bits = match p.client_max_window_bits {
            None => self.client_max_window_bits,
            Some(Some(bits)) if bits <= self.client_max_window_bits => bits,
            Some(_) => {
                return Err(invalid(
                    "client_max_window_bits missing a value or above our offer",
                ))
            }
        };
        if client_bits < 9 {
            return Err(invalid(
                "client_max_window_bits=8 cannot be honoured by our compressor",
            ));
        }
        if self.server_no_context_takeover && !p.server_no_context_takeover {
            return Err(invalid("server ignored our server_no_context_takeover"));
        }
        Ok(Some(DeflateParams {
            server_no_context_takeover: p.server_no_context_takeover,
            client_no_context_takeover: p.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        }))
    }
}

/// The parameters a handshake settled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message.
    pub client_no_context_takeover: bool,
    /// The server compresses with at most this window (bits).
    pub server_max_window_bits: u8,
    /// The client compresses with at most this window (bits).
    pub client_max_window_bits: u8,
}

/// One offer's parameters; `Some(None)` is a parameter given without a value.
#[derive(Debug, Default)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<Option<u8>>,
    client_max_window_bits: Option<Option<u8>>,
}

/// Splits a `Sec-WebSocket-Extensions` value into extensions, each with its
/// permessage-deflate parameters parsed (`None` when they are invalid: unknown,
/// repeated, or out of range).
fn split_extensions(value: &str) -> impl Iterator<Item = (&str, Option<Params>)> {
    value
        .split(',')
        .filter(|e| !e.trim().is_empty())
        .map(|ext| {
            let mut parts = ext.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            (name, parse_params(parts))
        })
}

fn parse_params<'a>(parts: impl Iterator<Item = &'a str>) -> Option<Params> {
    let mut p = Params::default();
    for part in parts {
        let (key, value) = match part.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"'))),
            None => (part, None),
        };
        let bits = |v: Option<&str>| -> Option<Option<u8>> {
            match v {
                None => Some(None),
                Some(v) if v.len() <= 2 && v.bytes().all(|b| b.is_ascii_digit()) => {
                    let n: u8 = v.parse().ok()?;
                    (8..=15).contains(&n).then_some(Some(n))
                }
                Some(_) => None,
            }
        };
        match key.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" if value.is_none() && !p.server_no_context_takeover => {
                p.server_no_context_takeover = true
            }
            "client_no_context_takeover" if value.is_none() && !p.client_no_context_takeover => {
                p.client_no_context_takeover = true
            }
            "server_max_window_bits" if p.server_max_window_bits.is_none() => {
                // A server's window must be given a value in an offer.
                p.server_max_window_bits = Some(Some(bits(value)??));
            }
            "client_max_window_bits" if p.client_max_window_bits.is_none() => {
                p.client_max_window_bits = Some(bits(value)?);
            }
            _ => return None,
        }
    }
    Some(p)
}

/// Builds the two halves of the negotiated transform: ours to compress what we
/// send, and the one that inflates what the peer sends.
pub(crate) fn transform(
    params: DeflateParams,
    server: bool,
    options: &super::Options,
) -> (Deflater, Inflater) {
    let default = DeflateConfig::default();
    let config = options.deflate.as_ref().unwrap_or(&default);
    let (our_bits, our_reset, their_reset) = if server {
        (
            params.server_max_window_bits,
            params.server_no_context_takeover,
            params.client_no_context_takeover,
        )
    } else {
        (
            params.client_max_window_bits,
            params.client_no_context_takeover,
            params.server_no_context_takeover,
        )
    };
    (
        Deflater {
            compress: Compress::new_with_window_bits(
                Compression::new(config.level),
                false,
                our_bits.clamp(9, 15),
            ),
            reset: our_reset,
            threshold: config.threshold,
            window_bits: our_bits.clamp(9, 15),
            dirty: false,
        },
        Inflater {
            // Inflating with the largest window accepts any smaller one.
            decompress: Decompress::new_with_window_bits(false, 15),
            reset: their_reset,
        },
    )
}

/// Compresses outgoing messages.
pub(crate) struct Deflater {
    compress: Compress,
    /// Reset after each message (no context takeover for our direction).
    reset: bool,
    threshold: usize,
    /// The window we compress with (hub hook: shared frames are made for it).
    window_bits: u8,
    /// Our window holds messages the peer's holds too (context takeover) that a
    /// shared frame would put out of step (hub hook, see `realign_for_shared`).
    dirty: bool,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

impl Deflater {
    /// Whether a message of `len` bytes is worth compressing.
    pub(crate) fn wants(&self, len: usize) -> bool {
        len >= self.threshold
    }

    // ---- hub hook (prepared messages): begin ----
    /// A message compressed elsewhere on its own (a shared prepared frame) is
    /// about to be sent. The peer will hold it in its window and we will not, so
    /// what we compress next must not refer back past it: start from an empty
    /// window if ours holds anything. Returns the window bits the shared frame
    /// must be compressed with.
    pub(crate) fn realign_for_shared(&mut self) -> u8 {
        if self.dirty {
            self.compress.reset();
            self.dirty = false;
        }
        self.window_bits
    }
    // ---- hub hook: end ----

    /// Compresses a whole message (RFC 7692 section 7.2.1).
    pub(crate) fn compress(&mut self, payload: &[u8]) -> Bytes {
        let mut out: Vec<u8> = Vec::with_capacity(payload.len() / 2 + 64);
        let mut input = payload;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(1024));
            }
            let before_in = self.compress.total_in();
            self.compress
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .expect("raw deflate of in-memory data cannot fail");
            input = &input[(self.compress.total_in() - before_in) as usize..];
            // Done when all input is consumed and the flush fit with room to spare.
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        if out.ends_with(&TRAILER) {
            out.truncate(out.len() - TRAILER.len());
        }
        if out.is_empty() {
            // Nothing was pending, so the flush wrote nothing: send the empty
            // stored block's header byte, which the peer completes with the trailer
            // (RFC 7692 section 7.2.3.6).
            out.push(0x00);
        }
        if self.reset {
            self.compress.reset();
        } else {
            self.dirty = true;
        }
        Bytes::from(out)
    }
}

/// Inflates incoming messages, within the message size limit.
pub(crate) struct Inflater {
    decompress: Decompress,
    /// The peer resets its context after each message, so we may too.
    reset: bool,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater").finish_non_exhaustive()
    }
}

impl Inflater {
    /// Inflates a whole message, failing with 1009 as soon as the output passes
    /// `max` (so a bomb never allocates much past it) and with 1002 on corrupt data.
    pub(crate) fn decompress(&mut self, payload: &[u8], max: usize) -> Result<Bytes, Error> {
        if payload.is_empty() {
            // Not valid deflate, but some peers send it for an empty message; the
            // trailer alone would leave the inflater inside a stored block.
            return Ok(Bytes::new());
        }
        let mut out = Vec::new();
        let result = self
            .inflate(payload, &mut out, max)
            .and_then(|()| self.inflate(&TRAILER, &mut out, max));
        if self.reset || result.is_err() {
            self.decompress.reset(false);
        }
        result.map(|()| Bytes::from(out))
    }

    fn inflate(&mut self, mut input: &[u8], out: &mut Vec<u8>, max: usize) -> Result<(), Error> {
        loop {
            if out.capacity() == out.len() {
                // Never reserve past the limit (plus one byte to detect passing it).
                let room = (max + 1 - out.len()).min(INFLATE_STEP.max(out.len()));
                out.reserve_exact(room.max(1));
            }
            let before_in = self.decompress.total_in();
            let before_out = out.len();
            let status = self
                .decompress
                .decompress_vec(input, out, FlushDecompress::Sync)
                .map_err(|_| Error::new(ErrorKind::Protocol("invalid compressed data")))?;
            input = &input[(self.decompress.total_in() - before_in) as usize..];
            if out.len() > max {
                return Err(Error::new(ErrorKind::TooBig));
            }
            match status {
                Status::StreamEnd => {
                    return Err(Error::new(ErrorKind::Protocol(
                        "compressed data ended the deflate stream",
                    )))
                }
                _ if input.is_empty() && out.len() < out.capacity() => return Ok(()),
                Status::BufError if out.len() == before_out && input.is_empty() => return Ok(()),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(all: bool) -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: all,
            client_no_context_takeover: all,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }

    #[test]
    fn rfc7692_hello_without_context_takeover() {
        // Section 7.2.3.2: the same message compresses the same every time.
        let (mut d, _) = transform(params(true), true, &super::super::Options::default());
        for _ in 0..2 {
            assert_eq!(
                &d.compress(b"Hello")[..],
                &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
            );
        }
    }

    #[test]
    fn rfc7692_hello_with_context_takeover() {
        // Section 7.2.3.2: the second "Hello" refers back to the first.
        let (mut d, _) = transform(params(false), true, &super::super::Options::default());
        assert_eq!(
            &d.compress(b"Hello")[..],
            &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        );
        assert_eq!(&d.compress(b"Hello")[..], &[0xf2, 0x00, 0x11, 0x00, 0x00]);
    }

    #[test]
    fn rfc7692_examples_inflate() {
        let (_, mut d) = transform(params(false), false, &super::super::Options::default());
        let one = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(&d.decompress(&one, 100).unwrap()[..], b"Hello");
        assert_eq!(
            &d.decompress(&[0xf2, 0x00, 0x11, 0x00, 0x00], 100).unwrap()[..],
            b"Hello"
        );
        // 7.2.3.3: a stored (uncompressed) block.
        let (_, mut d) = transform(params(true), false, &super::super::Options::default());
        let stored = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(&d.decompress(&stored, 100).unwrap()[..], b"Hello");
    }

    #[test]
    fn round_trips_large_and_empty_messages() {
        let (mut tx, _) = transform(params(false), true, &super::super::Options::default());
        let (_, mut rx) = transform(params(false), false, &super::super::Options::default());
        let big: Vec<u8> = (0..3_000_000u32)
            .map(|i| (i % 7 + i / 1000 % 13) as u8)
            .collect();
        for msg in [&big[..], b"", b"x", &big[..1000]] {
            let packed = tx.compress(msg);
            assert_eq!(&rx.decompress(&packed, big.len()).unwrap()[..], msg);
        }
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let (mut tx, _) = transform(params(true), true, &super::super::Options::default());
        let bomb = tx.compress(&vec![0u8; 50 << 20]);
        assert!(bomb.len() < 100 << 10, "{}", bomb.len());
        let (_, mut rx) = transform(params(true), false, &super::super::Options::default());
        let err = rx.decompress(&bomb, 1 << 20).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::TooBig);
    }

    #[test]
    fn server_negotiation_follows_rfc7692_section_7() {
        let config = DeflateConfig::default();
        let n = |offer: &str| config.negotiate(std::iter::once(offer)).map(|(_, r)| r);
        assert_eq!(
            n("permessage-deflate").as_deref(),
            Some("permessage-deflate")
        );
        assert_eq!(
            n("permessage-deflate; client_max_window_bits").as_deref(),
            Some("permessage-deflate")
        );
        assert_eq!(
            n("permessage-deflate; server_max_window_bits=10; client_max_window_bits=12")
                .as_deref(),
            Some("permessage-deflate; server_max_window_bits=10; client_max_window_bits=12")
        );
        assert_eq!(
            n("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
                .as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
        );
        // Invalid or duplicate parameters make an offer unacceptable; the next wins.
        assert_eq!(n("permessage-deflate; foo"), None);
        assert_eq!(n("permessage-deflate; server_max_window_bits"), None);
        assert_eq!(n("permessage-deflate; server_max_window_bits=16"), None);
        assert_eq!(
            n("permessage-deflate; client_no_context_takeover; client_no_context_takeover"),
            None
        );
        assert_eq!(
            n("permessage-deflate; foo, permessage-deflate; server_no_context_takeover").as_deref(),
            Some("permessage-deflate; server_no_context_takeover")
        );
        // A window we cannot compress with is declined, not lied about.
        assert_eq!(n("permessage-deflate; server_max_window_bits=8"), None);
        assert_eq!(n("x-webkit-deflate-frame"), None);
    }

    #[test]
    fn client_checks_the_response() {
        let config = DeflateConfig::default();
        let r = |v: &str| config.accept_response(&[v.to_owned()]);
        assert_eq!(r("permessage-deflate").unwrap().unwrap(), params(false));
        let p = r("permessage-deflate; server_no_context_takeover; client_max_window_bits=10")
            .unwrap()
            .unwrap();
        assert!(p.server_no_context_takeover);
        assert_eq!(p.client_max_window_bits, 10);
        assert!(r("permessage-deflate; client_max_window_bits=8").is_err());
        assert!(r("permessage-deflate; bogus").is_err());
        assert!(r("permessage-deflate, permessage-deflate").is_err());
        assert!(
            matches!(r("foo").unwrap_err().kind(), ErrorKind::UnofferedExtension(n) if n == "foo")
        );
        assert_eq!(config.offer(), "permessage-deflate; client_max_window_bits");
    }
}
