//! permessage-deflate (RFC 7692): negotiation and the per-message transform.
//!
//! # Memory
//!
//! A zlib compressor costs at least 134 KiB whatever its window (zlib-rs's hash
//! table alone is 128 KiB), and an inflater 46 KiB, which is why a connection that
//! keeps its own pair costs a few hundred KiB. This one keeps none: the zlib
//! states are shared by every connection on a thread ([`SHARED`]), and what a
//! connection keeps between messages is only what the protocol makes it keep, the
//! LZ77 window of each direction that has context takeover: the last
//! 2^window_bits bytes of the uncompressed data of its compressed messages. Before
//! each message the shared state is reset and handed that window as its
//! dictionary, which is exactly the history the peer's state holds, so the bytes
//! on the wire are the ones a private compressor could have produced. A direction
//! without context takeover keeps nothing at all. Windows are allocated on first
//! use, so a connection that negotiated deflate and has not compressed anything
//! costs only the few dozen bytes of these structs.
//!
//! Backed by zlib-rs: pure Rust, and unlike miniz_oxide it compresses with a
//! window smaller than 32 KiB, which `server_max_window_bits` /
//! `client_max_window_bits` may demand. zlib cannot compress raw deflate with a
//! 256-byte window (8 bits), so an offer that would require it is declined rather
//! than accepted and then broken.

use super::error::{Error, ErrorKind};
use super::options::Options;
use super::version::Role;
use bytes::Bytes;
use std::cell::RefCell;
use zlib_rs::{Deflate, DeflateFlush, Inflate, InflateFlush, Status};

/// The extension token.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// The trailer a sync flush ends with, which RFC 7692 section 7.2.1 strips.
const TRAILER: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// Inflated output grows in steps of this size, so a bomb is caught within one
/// step past the limit.
const INFLATE_STEP: usize = 32 << 10;

/// The window (12 bits) a server compresses with, and a client, unless configured
/// otherwise or limited further by the peer: 4 KiB, as Python's `websockets`
/// picks, which keeps most of the gain on chat-sized and JSON messages.
pub(crate) const DEFAULT_WINDOW_BITS: u8 = 12;

/// permessage-deflate settings, for both roles.
///
/// A server accepts a client's offer with [`DeflateConfig::default()`] unless
/// told otherwise ([`Options::deflate`](super::Options::deflate)); a client
/// offers permessage-deflate only when given a configuration.
///
/// As a client these shape the offer; as a server they bound what is accepted.
///
/// # Memory and CPU
///
/// No connection owns a zlib state: compressors and the inflater are shared by
/// the connections of a thread, and a connection keeps only the LZ77 window of
/// each direction that has context takeover, allocated on its first compressed
/// message. Per connection, beyond one without deflate:
///
/// | state | bytes |
/// |---|---|
/// | negotiated, nothing compressed yet | under 200 |
/// | after sending a compressed message, with context takeover for our side | 2^(our window bits): 4 KiB by default |
/// | after receiving one, with context takeover for the peer's side | 2^(peer's window bits): 4 KiB when the client offered `client_max_window_bits` (browsers do), else 32 KiB |
/// | a side with `no_context_takeover` | 0 |
///
/// Per thread that compresses: one compressor per set of settings in use,
/// 148 KiB + 2^(window bits + 2) + 7 * 2^(memory level + 6) bytes (260 KiB at
/// the defaults), and one 46 KiB inflater.
///
/// Each message with context takeover also costs the time to feed that window
/// to the shared compressor (a few microseconds for 4 KiB); larger windows find
/// more repeats and cost proportionally more.
///
/// # Figures
///
/// Measured by `cargo bench --bench deflate` (server CPU per echoed message over
/// loopback, the least of three interleaved rounds on a shared two-core
/// machine; our client offers deflate as browsers do) and by `cargo run
/// --release --example deflate_memory -- 1000` (server RSS per connection, 1,000
/// connections, one 0.5 KiB message each).
///
/// | server | CPU, 16 KiB JSON | CPU, 0.5 KiB chat | wire bytes, JSON / chat | RSS per connection, idle / after a message |
/// |---|---|---|---|---|
/// | ours, deflate off | 15 µs | 10 µs | 16316 / 508 | 9.1 / 9.3 KiB |
/// | ours, level 1 | 119 µs | 41 µs | 2911 / 180 | |
/// | ours, default (level 3, 4 KiB windows) | 164 µs | 48 µs | 1853 / 143 | 9.2 / 17.5 KiB |
/// | ours, default without context takeover | 159 µs | 46 µs | | |
/// | ours, level 6 | 206 µs | 53 µs | 1845 / 129 | |
/// | Python `websockets` 17.4 (level 6, memory level 5, 4 KiB windows) | 423 µs | 145 µs | | 47.9 / 58.6 KiB |
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
    /// `None`: a server uses `DEFAULT_WINDOW_BITS`, a client does not ask.
    pub(crate) server_max_window_bits: Option<u8>,
    /// `None`: we compress with `DEFAULT_WINDOW_BITS` as a client and ask it of
    /// a client that can be asked as a server; a client offers to be limited.
    pub(crate) client_max_window_bits: Option<u8>,
    pub(crate) threshold: usize,
    pub(crate) level: u8,
    pub(crate) memory_level: u8,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The default compression level: the knee of the curve measured by `cargo bench
/// --bench deflate` (server CPU per echoed message, and wire bytes, with 4 KiB
/// windows): level 3 sends 1% more than level 6 for 16 KiB JSON and 11% more for
/// 0.5 KiB chat lines, for about 80% of its CPU; level 1 halves level 6's CPU
/// but sends 58% and 40% more.
const DEFAULT_LEVEL: u8 = 3;

impl DeflateConfig {
    pub(crate) const DEFAULT: DeflateConfig = DeflateConfig {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: None,
        client_max_window_bits: None,
        threshold: 64,
        level: DEFAULT_LEVEL,
        memory_level: 8,
    };

    /// Ask (client) or insist (server) that the server compress each message on
    /// its own: the server then keeps no window for what it sends (4 KiB per
    /// connection at the default window) and spends no time restoring it, at the
    /// cost of compressing small messages worse.
    pub fn server_no_context_takeover(mut self, on: bool) -> Self {
        self.server_no_context_takeover = on;
        self
    }

    /// Ask (client) or insist (server) that the client compress each message on
    /// its own: the server then keeps no window for what it receives.
    pub fn client_no_context_takeover(mut self, on: bool) -> Self {
        self.client_no_context_takeover = on;
        self
    }

    /// The largest LZ77 window, as a power of two from 9 to 15, the server
    /// compresses with. A server uses it (default 12, a 4 KiB window, or
    /// less if the client asks) and says so in its answer, as RFC 7692 section
    /// 7.1.2.1 lets it; a client asks it of the server (by default it does not
    /// ask, since a server that cannot honour the parameter declines the offer).
    /// A connection keeps 2^bits bytes for the direction this limits.
    pub fn server_max_window_bits(mut self, bits: u8) -> Self {
        self.server_max_window_bits = Some(bits.clamp(9, 15));
        self
    }

    /// The largest LZ77 window (9 to 15) the client compresses with. A client
    /// compresses with it (default 12) and offers it as the
    /// parameter's value when set; a server asks it of a client that offered the
    /// parameter (default 12). A client that did not offer it
    /// may use 15, and the server then keeps 32 KiB for that direction.
    pub fn client_max_window_bits(mut self, bits: u8) -> Self {
        self.client_max_window_bits = Some(bits.clamp(9, 15));
        self
    }

    /// Messages shorter than this many bytes are sent uncompressed (default 64):
    /// below it, the deflate block overhead outweighs the saving.
    pub fn threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }

    /// The compression level, 0 to 9 (default 3): higher finds more repeats for
    /// more CPU; see the figures on [`DeflateConfig`].
    pub fn level(mut self, level: u32) -> Self {
        self.level = level.min(9) as u8;
        self
    }

    /// zlib's memory level, 1 to 9 (default 8): the size of the compressor's
    /// block buffer, 7 * 2^(level + 6) bytes (112 KiB at 8). Smaller flushes
    /// blocks more often and compresses a little worse. It costs memory per
    /// thread, not per connection, since compressors are shared.
    pub fn memory_level(mut self, level: u8) -> Self {
        self.memory_level = level.clamp(1, 9);
        self
    }

    /// The window a server compresses with.
    fn server_bits(&self) -> u8 {
        self.server_max_window_bits.unwrap_or(DEFAULT_WINDOW_BITS)
    }

    /// The window we compress with as a client, or ask of a client as a server.
    fn client_bits(&self) -> u8 {
        self.client_max_window_bits.unwrap_or(DEFAULT_WINDOW_BITS)
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
        if let Some(bits) = self.server_max_window_bits.filter(|&b| b < 15) {
            offer.push_str(&format!("; server_max_window_bits={bits}"));
        }
        match self.client_max_window_bits.filter(|&b| b < 15) {
            Some(bits) => offer.push_str(&format!("; client_max_window_bits={bits}")),
            None => offer.push_str("; client_max_window_bits"),
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
            Some(Some(asked)) => asked.min(self.server_bits()),
            _ => self.server_bits(),
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
            Some(None) => self.client_bits(),
            Some(Some(bits)) => bits.min(self.client_bits()),
        };
        if offer.client_max_window_bits.is_none() {
            // The client cannot be asked to limit its window: it may use 15 bits,
            // and we keep that much of its history.
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
                    return Err(Error::unoffered_extension(name));
                }
                if found.is_some() {
                    return Err(invalid("permessage-deflate accepted twice"));
                }
                let params = params.ok_or(invalid("invalid permessage-deflate parameters"))?;
                found = Some(params);
            }
        }
        let Some(p) = found else { return Ok(None) };
        let asked = self.server_max_window_bits.unwrap_or(15);
        let server_bits = match p.server_max_window_bits {
            None if asked == 15 => 15,
            Some(Some(bits)) if bits <= asked => bits,
            _ => {
                return Err(invalid(
                    "server_max_window_bits missing, without a value or above our offer",
                ))
            }
        };
        // Offered as a value when configured, else as plain support (up to 15);
        // we compress with at most our own setting either way.
        let offered = self.client_max_window_bits.unwrap_or(15);
        let client_bits = match p.client_max_window_bits {
            None => self.client_bits(),
            Some(Some(bits)) if bits <= offered => bits.min(self.client_bits()),
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

/// The settings that fix the bytes a message compresses to (with no history):
/// a message compressed once with them can go to every connection whose
/// negotiated window for our direction is at least `bits` and whose level and
/// memory level are the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Compression {
    level: u8,
    bits: u8,
    mem_level: u8,
}

impl Compression {
    fn zlib(self) -> zlib_rs::DeflateConfig {
        zlib_rs::DeflateConfig {
            level: i32::from(self.level),
            // Negative: raw deflate, no zlib header.
            window_bits: -i32::from(self.bits),
            mem_level: i32::from(self.mem_level),
            ..zlib_rs::DeflateConfig::default()
        }
    }
}

/// How many compressors a thread keeps: one per [`Compression`] in use, which is
/// one unless connections negotiated different windows or levels. Past this the
/// least recently used is dropped.
const COMPRESSORS_PER_THREAD: usize = 4;

/// A thread's zlib states, shared by all its connections (see the module docs).
struct Shared {
    /// By settings, most recently used last.
    compressors: Vec<(Compression, Deflate)>,
    /// One inflater: its 32 KiB window inflates any smaller window.
    inflater: Option<Inflate>,
}

thread_local! {
    static SHARED: RefCell<Shared> = const {
        RefCell::new(Shared {
            compressors: Vec::new(),
            inflater: None,
        })
    };
}

/// Runs `f` with this thread's compressor for `settings`, reset. Falls back to a
/// temporary one while the thread is being torn down.
fn with_compressor<R>(settings: Compression, f: impl FnOnce(&mut Deflate) -> R) -> R {
    let mut f = Some(f);
    let shared = SHARED.try_with(|shared| {
        let Ok(mut shared) = shared.try_borrow_mut() else {
            return None;
        };
        let compressors = &mut shared.compressors;
        let index = match compressors.iter().position(|(s, _)| *s == settings) {
            Some(i) => i,
            None => {
                if compressors.len() == COMPRESSORS_PER_THREAD {
                    compressors.remove(0);
                }
                compressors.push((settings, Deflate::new_with_config(settings.zlib())));
                compressors.len() - 1
            }
        };
        let entry = compressors.remove(index);
        compressors.push(entry);
        let deflate = &mut compressors.last_mut().expect("just pushed").1;
        deflate.reset();
        Some((f.take().expect("called once"))(deflate))
    });
    match shared {
        Ok(Some(r)) => r,
        _ => (f.take().expect("called once"))(&mut Deflate::new_with_config(settings.zlib())),
    }
}

/// Runs `f` with this thread's inflater, reset.
fn with_inflater<R>(f: impl FnOnce(&mut Inflate) -> R) -> R {
    let mut f = Some(f);
    let shared = SHARED.try_with(|shared| {
        let Ok(mut shared) = shared.try_borrow_mut() else {
            return None;
        };
        let inflate = shared
            .inflater
            .get_or_insert_with(|| Inflate::new(false, 15));
        inflate.reset(false);
        Some((f.take().expect("called once"))(inflate))
    });
    match shared {
        Ok(Some(r)) => r,
        _ => (f.take().expect("called once"))(&mut Inflate::new(false, 15)),
    }
}

/// The history one direction with context takeover carries between messages:
/// the last `size` bytes of the uncompressed data of its compressed messages,
/// allocated (exactly `size`) on first use.
#[derive(Debug)]
struct Window {
    data: Vec<u8>,
    size: usize,
}

impl Window {
    fn new(bits: u8) -> Window {
        Window {
            data: Vec::new(),
            size: 1 << bits,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        if self.data.capacity() == 0 {
            self.data.reserve_exact(self.size);
        }
        if bytes.len() >= self.size {
            self.data.clear();
            self.data
                .extend_from_slice(&bytes[bytes.len() - self.size..]);
            return;
        }
        let excess = (self.data.len() + bytes.len()).saturating_sub(self.size);
        self.data.drain(..excess);
        self.data.extend_from_slice(bytes);
    }
}

/// Builds the two halves of the negotiated transform: ours to compress what we
/// send, and the one that inflates what the peer sends.
pub(crate) fn transform(
    params: DeflateParams,
    role: Role,
    options: &Options,
) -> (Deflater, Inflater) {
    // Negotiated, so configured for this role.
    let config = options.get_deflate(role).unwrap_or(&DeflateConfig::DEFAULT);
    let (our_bits, our_reset, their_bits, their_reset) = if role == Role::Server {
        (
            params.server_max_window_bits,
            params.server_no_context_takeover,
            params.client_max_window_bits,
            params.client_no_context_takeover,
        )
    } else {
        (
            params.client_max_window_bits,
            params.client_no_context_takeover,
            params.server_max_window_bits,
            params.server_no_context_takeover,
        )
    };
    let our_bits = our_bits.clamp(9, 15);
    (
        Deflater {
            settings: Compression {
                level: config.level,
                bits: our_bits,
                mem_level: config.memory_level,
            },
            threshold: config.threshold,
            window: (!our_reset).then(|| Window::new(our_bits)),
        },
        Inflater {
            // zlib compresses a negotiated 8-bit window with 9 bits, so a peer
            // using zlib may reach back 512 bytes.
            window: (!their_reset).then(|| Window::new(their_bits.clamp(9, 15))),
        },
    )
}

/// Compresses `payload` with `deflate` (already reset, with any dictionary set)
/// into a message body: a sync flush with its trailer stripped (RFC 7692 section
/// 7.2.1).
fn deflate_message(deflate: &mut Deflate, payload: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(payload.len() / 2 + 64);
    deflate_sync(deflate, payload, &mut out);
    if out.ends_with(&TRAILER) {
        out.truncate(out.len() - TRAILER.len());
    }
    if out.is_empty() {
        // Nothing was pending, so the flush wrote nothing: send the empty stored
        // block's header byte, which the peer completes with the trailer (RFC
        // 7692 section 7.2.3.6).
        out.push(0x00);
    }
    Bytes::from(out)
}

/// Compresses `payload` with `deflate` up to a sync flush, trailer included,
/// appending to `out`.
fn deflate_sync(deflate: &mut Deflate, payload: &[u8], out: &mut Vec<u8>) {
    let mut input = payload;
    loop {
        let len = out.len();
        if out.capacity() - len < 64 {
            out.reserve(out.capacity().max(1024));
        }
        out.resize(out.capacity(), 0);
        let (before_in, before_out) = (deflate.total_in(), deflate.total_out());
        deflate
            .compress(input, &mut out[len..], DeflateFlush::SyncFlush)
            .expect("raw deflate of in-memory data cannot fail");
        out.truncate(len + (deflate.total_out() - before_out) as usize);
        input = &input[(deflate.total_in() - before_in) as usize..];
        // Done when all input is consumed and the flush fit with room to spare.
        if input.is_empty() && out.len() < out.capacity() {
            break;
        }
    }
}

/// Compresses a message on its own, with no history: the body of a frame that
/// any connection whose [`Outgoing::compression`](super::extension::Outgoing::compression)
/// is `settings` can send in place of compressing it itself, provided it then
/// calls [`Outgoing::after_foreign_frame`](super::extension::Outgoing::after_foreign_frame).
#[allow(dead_code)] // For the hub's prepared messages, through `extension`.
pub(crate) fn compress_standalone(settings: Compression, payload: &[u8]) -> Bytes {
    with_compressor(settings, |deflate| deflate_message(deflate, payload))
}

/// Compresses outgoing messages.
#[derive(Debug)]
pub(crate) struct Deflater {
    settings: Compression,
    threshold: usize,
    /// Our history, with context takeover for our direction.
    window: Option<Window>,
}

impl Deflater {
    /// Whether a message of `len` bytes is worth compressing.
    pub(crate) fn wants(&self, len: usize) -> bool {
        len >= self.threshold
    }

    /// The settings our messages compress with.
    #[allow(dead_code)] // For the hub's prepared messages, through `extension`.
    pub(crate) fn settings(&self) -> Compression {
        self.settings
    }

    /// Compresses a whole message (RFC 7692 section 7.2.1).
    pub(crate) fn compress(&mut self, payload: &[u8]) -> Bytes {
        let window = self.window.as_ref().map(|w| &w.data[..]);
        let out = with_compressor(self.settings, |deflate| {
            if let Some(history) = window.filter(|w| !w.is_empty()) {
                deflate
                    .set_dictionary(history)
                    .expect("a raw deflate stream takes a dictionary after a reset");
            }
            deflate_message(deflate, payload)
        });
        self.sent(payload);
        out
    }

    /// Records a compressed message's payload as sent, whoever compressed it: the
    /// peer's window now holds it, so ours must too.
    pub(crate) fn sent(&mut self, payload: &[u8]) {
        if let Some(window) = &mut self.window {
            window.push(payload);
        }
    }
}

/// A message being compressed fragment by fragment: one deflate stream across
/// its frames, as RFC 7692 section 6.1 has it, without a zlib state of its own.
///
/// Each fragment is compressed by the thread's shared compressor, reset and
/// given as its dictionary the last 2^window_bits bytes of what came before
/// (the previous messages', with context takeover, then this message's so
/// far): exactly the history a private stream would hold, so the fragments
/// concatenate into one valid stream. Each ends on a sync flush, so the peer
/// can inflate it as it arrives; the flush's `00 00 ff ff` is held back and
/// sent at the head of the next fragment, so that the trailer RFC 7692 section
/// 7.2.1 strips is stripped once, from the end of the message. It keeps the
/// window (4 KiB at the default 12 bits) while the message is open.
#[derive(Debug)]
pub(crate) struct DeflateStream {
    history: Window,
    /// The history is the connection's window (context takeover): it goes
    /// back to the deflater when the message ends.
    takeover: bool,
    /// The last fragment's trailer, not sent yet.
    trailer_held: bool,
    /// Some compressed byte has been sent.
    wrote: bool,
}

impl Deflater {
    /// Starts a message sent in fragments; the deflater keeps nothing of its
    /// own until [`end_stream`](Deflater::end_stream).
    pub(crate) fn start_stream(&mut self) -> DeflateStream {
        let takeover = self.window.is_some();
        DeflateStream {
            history: self
                .window
                .take()
                .unwrap_or_else(|| Window::new(self.settings.bits)),
            takeover,
            trailer_held: false,
            wrote: false,
        }
    }

    /// The payload of the next frame of a compressed message: `piece`
    /// compressed, behind the previous fragment's trailer; on the last
    /// (`fin`), without its own.
    pub(crate) fn compress_fragment(
        &mut self,
        stream: &mut DeflateStream,
        piece: &[u8],
        fin: bool,
    ) -> Bytes {
        let mut out = Vec::new();
        if !piece.is_empty() {
            // One buffer: the held trailer, then this piece's compressed bytes.
            out.reserve(piece.len() / 2 + 64);
            if stream.trailer_held {
                out.extend_from_slice(&TRAILER);
            }
            let history = &stream.history.data[..];
            with_compressor(self.settings, |deflate| {
                if !history.is_empty() {
                    deflate
                        .set_dictionary(history)
                        .expect("a raw deflate stream takes a dictionary after a reset");
                }
                deflate_sync(deflate, piece, &mut out)
            });
            stream.history.push(piece);
            stream.trailer_held = out.ends_with(&TRAILER);
            if stream.trailer_held {
                out.truncate(out.len() - TRAILER.len());
            }
        }
        if fin {
            if stream.trailer_held {
                // The end of the message: the trailer the peer appends itself.
                stream.trailer_held = false;
            } else if !stream.wrote && out.is_empty() {
                // An empty message: as `deflate_message` sends it.
                out.push(0x00);
            }
        }
        stream.wrote |= !out.is_empty();
        Bytes::from(out)
    }

    /// The message ended: with context takeover, its history is the window.
    pub(crate) fn end_stream(&mut self, stream: DeflateStream) {
        if stream.takeover {
            self.window = Some(stream.history);
        }
    }
}

/// Inflates incoming messages, within the message size limit.
#[derive(Debug)]
pub(crate) struct Inflater {
    /// The peer's history, with context takeover for its direction.
    window: Option<Window>,
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
        let window = self.window.as_ref().map(|w| &w.data[..]);
        let out = with_inflater(|inflate| {
            if let Some(history) = window.filter(|w| !w.is_empty()) {
                inflate
                    .set_dictionary(history)
                    .map_err(|_| Error::new(ErrorKind::Protocol("invalid compressed data")))?;
            }
            let mut out = Vec::new();
            inflate_into(inflate, payload, &mut out, max)?;
            inflate_into(inflate, &TRAILER, &mut out, max)?;
            Ok::<_, Error>(out)
        })?;
        if let Some(window) = &mut self.window {
            window.push(&out);
        }
        Ok(Bytes::from(out))
    }
}

impl Inflater {
    /// Starts inflating a message that is handed out in pieces as it arrives.
    ///
    /// The thread's shared inflater is reset for every message of every
    /// connection on the thread, so it cannot hold a message across calls: a
    /// streamed message gets a zlib state of its own (46 KiB) for as long as it
    /// lasts, with the peer's window as its dictionary.
    pub(crate) fn start_stream(&self) -> Result<InflateStream, Error> {
        let mut inflate = Box::new(Inflate::new(false, 15));
        if let Some(history) = self.window.as_ref().map(|w| &w.data[..]) {
            if !history.is_empty() {
                inflate
                    .set_dictionary(history)
                    .map_err(|_| Error::new(ErrorKind::Protocol("invalid compressed data")))?;
            }
        }
        Ok(InflateStream {
            inflate,
            trailer: 0,
            seen_input: false,
        })
    }

    /// Records a piece of a streamed message, once inflated, in the peer's window.
    pub(crate) fn streamed(&mut self, out: &[u8]) {
        if let Some(window) = &mut self.window {
            window.push(out);
        }
    }
}

/// One message being inflated piece by piece (see [`Inflater::start_stream`]).
pub(crate) struct InflateStream {
    inflate: Box<Inflate>,
    /// How much of the stripped trailer has been fed back, once the message's
    /// compressed bytes are all in.
    trailer: usize,
    /// Whether any compressed byte came: an empty payload is an empty message.
    seen_input: bool,
}

impl std::fmt::Debug for InflateStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InflateStream")
            .field("trailer", &self.trailer)
            .finish_non_exhaustive()
    }
}

impl InflateStream {
    /// Inflates what it can of `input` (the message's compressed bytes, or,
    /// with `last`, nothing more: the end of the message) into at most `room`
    /// more bytes appended to `out`. Returns how many bytes of `input` it took
    /// and whether the message is complete (only with `last`: its trailer
    /// went in and no output is pending).
    pub(crate) fn inflate(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        room: usize,
        last: bool,
    ) -> Result<(usize, bool), Error> {
        let mut taken = 0;
        let start = out.len();
        out.resize(start + room, 0);
        let mut filled = start;
        loop {
            self.seen_input |= !input.is_empty();
            let feeding_trailer = last && input.is_empty() && self.seen_input;
            let src: &[u8] = if feeding_trailer {
                &TRAILER[self.trailer..]
            } else {
                input
            };
            let (before_in, before_out) = (self.inflate.total_in(), self.inflate.total_out());
            let status = self
                .inflate
                .decompress(src, &mut out[filled..], InflateFlush::SyncFlush);
            let used = (self.inflate.total_in() - before_in) as usize;
            let produced = (self.inflate.total_out() - before_out) as usize;
            filled += produced;
            let status =
                status.map_err(|_| Error::new(ErrorKind::Protocol("invalid compressed data")))?;
            if let Status::StreamEnd = status {
                out.truncate(filled);
                return Err(Error::new(ErrorKind::Protocol(
                    "compressed data ended the deflate stream",
                )));
            }
            if feeding_trailer {
                self.trailer += used;
            } else {
                taken += used;
                input = &input[used..];
            }
            let full = filled == out.len();
            let progress = used > 0 || produced > 0;
            if full || !progress || (input.is_empty() && !last) {
                out.truncate(filled);
                let done = last
                    && input.is_empty()
                    && !full
                    && (self.trailer == TRAILER.len() || !self.seen_input);
                return Ok((taken, done));
            }
        }
    }
}

fn inflate_into(
    inflate: &mut Inflate,
    mut input: &[u8],
    out: &mut Vec<u8>,
    max: usize,
) -> Result<(), Error> {
    loop {
        let len = out.len();
        if out.capacity() == len {
            // Never reserve past the limit (plus one byte to detect passing it).
            let room = (max + 1 - len).min(INFLATE_STEP.max(len));
            out.reserve_exact(room.max(1));
        }
        out.resize(out.capacity(), 0);
        let (before_in, before_out) = (inflate.total_in(), inflate.total_out());
        let status = inflate.decompress(input, &mut out[len..], InflateFlush::SyncFlush);
        out.truncate(len + (inflate.total_out() - before_out) as usize);
        let status =
            status.map_err(|_| Error::new(ErrorKind::Protocol("invalid compressed data")))?;
        input = &input[(inflate.total_in() - before_in) as usize..];
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
            Status::BufError if out.len() == len && input.is_empty() => return Ok(()),
            _ => {}
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
        let (mut d, _) = transform(params(true), Role::Server, &Options::default());
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
        let (mut d, _) = transform(params(false), Role::Server, &Options::default());
        assert_eq!(
            &d.compress(b"Hello")[..],
            &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        );
        assert_eq!(&d.compress(b"Hello")[..], &[0xf2, 0x00, 0x11, 0x00, 0x00]);
    }

    #[test]
    fn rfc7692_examples_inflate() {
        let (_, mut d) = transform(params(false), Role::Client, &Options::default());
        let one = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(&d.decompress(&one, 100).unwrap()[..], b"Hello");
        assert_eq!(
            &d.decompress(&[0xf2, 0x00, 0x11, 0x00, 0x00], 100).unwrap()[..],
            b"Hello"
        );
        // 7.2.3.3: a stored (uncompressed) block.
        let (_, mut d) = transform(params(true), Role::Client, &Options::default());
        let stored = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(&d.decompress(&stored, 100).unwrap()[..], b"Hello");
    }

    #[test]
    fn round_trips_large_and_empty_messages() {
        let (mut tx, _) = transform(params(false), Role::Server, &Options::default());
        let (_, mut rx) = transform(params(false), Role::Client, &Options::default());
        let big: Vec<u8> = (0..3_000_000u32)
            .map(|i| (i % 7 + i / 1000 % 13) as u8)
            .collect();
        for msg in [&big[..], b"", b"x", &big[..1000]] {
            let packed = tx.compress(msg);
            assert_eq!(&rx.decompress(&packed, big.len()).unwrap()[..], msg);
        }
    }

    /// What a peer with one zlib stream per direction (as zlib's own users keep)
    /// does with our output, and sends us.
    fn private_inflate(inflate: &mut Inflate, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut message = payload.to_vec();
        message.extend_from_slice(&TRAILER);
        inflate_into(inflate, &message, &mut out, usize::MAX - 1).unwrap();
        out
    }

    fn private_deflate(deflate: &mut Deflate, payload: &[u8]) -> Bytes {
        deflate_message(deflate, payload)
    }

    /// Messages that repeat each other's words, so that context takeover refers
    /// back across messages, at sizes around the windows.
    fn messages() -> Vec<Vec<u8>> {
        (0..60u32)
            .map(|i| {
                let len = [10, 100, 500, 3000, 5000, 40_000][i as usize % 6];
                format!(
                    "message {i}: {}",
                    "lorem ipsum dolor sit amet ".repeat(i as usize % 7 + 1)
                )
                .into_bytes()
                .into_iter()
                .cycle()
                .take(len)
                .collect()
            })
            .collect()
    }

    #[test]
    fn shared_compressors_produce_what_a_private_stream_inflates() {
        for bits in [9, 12, 15] {
            for reset in [false, true] {
                let params = DeflateParams {
                    server_no_context_takeover: reset,
                    client_no_context_takeover: reset,
                    server_max_window_bits: bits,
                    client_max_window_bits: bits,
                };
                let (mut ours, _) = transform(params, Role::Server, &Options::default());
                let (mut other, _) = transform(params, Role::Server, &Options::default());
                let mut peer = Inflate::new(false, 15);
                let mut sent = 0;
                for (i, m) in messages().iter().enumerate() {
                    // Another connection on this thread uses the shared state in between.
                    other.compress(b"unrelated text, unrelated text");
                    let packed = ours.compress(m);
                    if reset {
                        peer.reset(false);
                    }
                    assert_eq!(
                        &private_inflate(&mut peer, &packed),
                        m,
                        "bits {bits}, message {i}"
                    );
                    sent += packed.len();
                }
                let total: usize = messages().iter().map(Vec::len).sum();
                assert!(sent < total / 4, "{sent} of {total}");
            }
        }
    }

    #[test]
    fn a_private_stream_inflates_through_the_shared_inflater() {
        for bits in [9, 12, 15] {
            let params = DeflateParams {
                server_no_context_takeover: false,
                client_no_context_takeover: false,
                server_max_window_bits: bits,
                client_max_window_bits: bits,
            };
            let (_, mut ours) = transform(params, Role::Client, &Options::default());
            let (_, mut other) = transform(params, Role::Client, &Options::default());
            let mut peer = Deflate::new_with_config(
                Compression {
                    level: 6,
                    bits,
                    mem_level: 8,
                }
                .zlib(),
            );
            let unrelated = private_deflate(
                &mut Deflate::new_with_config(
                    Compression {
                        level: 6,
                        bits,
                        mem_level: 8,
                    }
                    .zlib(),
                ),
                b"unrelated text, unrelated text",
            );
            for (i, m) in messages().iter().enumerate() {
                other.decompress(&unrelated, 1 << 20).unwrap();
                let packed = private_deflate(&mut peer, m);
                assert_eq!(
                    &ours.decompress(&packed, 1 << 20).unwrap()[..],
                    m,
                    "bits {bits}, message {i}"
                );
            }
        }
    }

    #[test]
    fn a_foreign_frame_realigns_the_context() {
        let params = DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 12,
            client_max_window_bits: 12,
        };
        let (mut ours, _) = transform(params, Role::Server, &Options::default());
        let mut peer = Inflate::new(false, 15);
        let shared = b"a message prepared once for many connections, many connections";
        for i in 0..20 {
            let own = format!("own message {i}: a message prepared once for many connections");
            let packed = ours.compress(own.as_bytes());
            assert_eq!(private_inflate(&mut peer, &packed), own.as_bytes());
            let prepared = compress_standalone(ours.settings(), shared);
            assert_eq!(private_inflate(&mut peer, &prepared), shared);
            ours.sent(shared);
        }
    }

    #[test]
    fn windows_are_allocated_on_first_use_and_bounded() {
        let params = DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: true,
            server_max_window_bits: 12,
            client_max_window_bits: 8,
        };
        let (mut d, i) = transform(params, Role::Server, &Options::default());
        let (_, mut client) = transform(params, Role::Client, &Options::default());
        assert_eq!(d.window.as_ref().unwrap().data.capacity(), 0);
        assert_eq!(client.window.as_ref().unwrap().data.capacity(), 0);
        assert!(i.window.is_none(), "no context takeover: nothing kept");
        for m in messages() {
            let packed = d.compress(&m);
            assert_eq!(client.decompress(&packed, 1 << 20).unwrap(), m);
            assert_eq!(d.window.as_ref().unwrap().data.capacity(), 4096);
            assert_eq!(client.window.as_ref().unwrap().data.capacity(), 4096);
        }
        let (_, i) = transform(
            DeflateParams {
                client_no_context_takeover: false,
                ..params
            },
            Role::Server,
            &Options::default(),
        );
        assert_eq!(i.window.unwrap().size, 512, "zlib's 8 bits are 9");
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let (mut tx, _) = transform(params(true), Role::Server, &Options::default());
        let bomb = tx.compress(&vec![0u8; 50 << 20]);
        assert!(bomb.len() < 100 << 10, "{}", bomb.len());
        let (_, mut rx) = transform(params(true), Role::Client, &Options::default());
        let err = rx.decompress(&bomb, 1 << 20).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooBig);
    }

    #[test]
    fn server_negotiation_follows_rfc7692_section_7() {
        let config = DeflateConfig::default();
        let n = |offer: &str| config.negotiate(std::iter::once(offer)).map(|(_, r)| r);
        // By default the server compresses with 4 KiB windows and says so, and
        // limits the client's window when the client offered that it can be.
        assert_eq!(
            n("permessage-deflate").as_deref(),
            Some("permessage-deflate; server_max_window_bits=12")
        );
        assert_eq!(
            n("permessage-deflate; client_max_window_bits").as_deref(),
            Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12")
        );
        let full = DeflateConfig::default()
            .server_max_window_bits(15)
            .client_max_window_bits(15);
        let (params, answer) = full
            .negotiate(std::iter::once(
                "permessage-deflate; client_max_window_bits",
            ))
            .unwrap();
        assert_eq!(
            (params, answer.as_str()),
            (super::tests::params(false), "permessage-deflate")
        );
        assert_eq!(
            n("permessage-deflate; server_max_window_bits=10; client_max_window_bits=12")
                .as_deref(),
            Some("permessage-deflate; server_max_window_bits=10; client_max_window_bits=12")
        );
        assert_eq!(
            n("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
                .as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12")
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
            Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=12")
        );
        // A window we cannot compress with is declined, not lied about.
        assert_eq!(n("permessage-deflate; server_max_window_bits=8"), None);
        assert_eq!(n("x-webkit-deflate-frame"), None);
    }

    #[test]
    fn client_checks_the_response() {
        let config = DeflateConfig::default();
        let r = |v: &str| config.accept_response(&[v.to_owned()]);
        // The server did not limit our window; we compress with 4 KiB anyway.
        assert_eq!(
            r("permessage-deflate").unwrap().unwrap(),
            DeflateParams {
                client_max_window_bits: 12,
                ..params(false)
            }
        );
        let p = r("permessage-deflate; server_no_context_takeover; client_max_window_bits=10")
            .unwrap()
            .unwrap();
        assert!(p.server_no_context_takeover);
        assert_eq!(p.client_max_window_bits, 10);
        assert!(r("permessage-deflate; client_max_window_bits=8").is_err());
        assert!(r("permessage-deflate; bogus").is_err());
        assert!(r("permessage-deflate, permessage-deflate").is_err());
        assert!(
            matches!(r("foo").unwrap_err(), e if e.kind() == ErrorKind::UnofferedExtension && e.name() == Some("foo"))
        );
        assert_eq!(config.offer(), "permessage-deflate; client_max_window_bits");
        // Asking the server for a window makes its answer carry one.
        let small = DeflateConfig::default()
            .server_max_window_bits(10)
            .client_max_window_bits(9);
        assert_eq!(
            small.offer(),
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9"
        );
        let r = |v: &str| small.accept_response(&[v.to_owned()]);
        assert!(r("permessage-deflate").is_err());
        assert!(r("permessage-deflate; server_max_window_bits=11").is_err());
        let p = r("permessage-deflate; server_max_window_bits=10")
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.server_max_window_bits, p.client_max_window_bits),
            (10, 9)
        );
    }
}
