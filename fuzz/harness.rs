//! What every fuzz target does, shared by the cargo-fuzz targets (`fuzz_targets/`)
//! and the stable replay of the corpus (`tests/fuzz_corpus.rs`), so both run the
//! same code on the same bytes.
//!
//! Every call into the driver's API is in [`Conn`] and [`server_request`]: when the
//! API changes, only those change.
//!
//! Each target checks, after every input, what holds whatever the peer sends:
//! - no panic, and no event after [`Event::Close`]; an [`Event::Error`] is followed
//!   at once by the `Close` it caused; `Open` comes at most once, first;
//! - the close codes reported and sent are ones a close frame may carry (or
//!   1005/1006 in the report), and reasons fit a control frame;
//! - the bytes written are a valid frame sequence for the role and version
//!   (masking, opcodes, control frame rules, RSV1 only with deflate, nothing after
//!   a close frame), and no data follows [`Transmit::Shutdown`];
//! - messages are within the configured limit, and the memory allocated while
//!   the driver reads (counted by this binary's global allocator) is within the
//!   limits plus a constant.
#![allow(dead_code)]

use arbitrary::{Arbitrary, Unstructured};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
#[cfg(feature = "deflate")]
use websocket_protocol::protocol::DeflateConfig;
use websocket_protocol::protocol::{
    accept_key, Chunk, CloseCode, Driver, Event, Message, MessageKind, Options, Transmit, Version,
};

/// The limits every target runs with: small, so that the fuzzer reaches them.
pub const MAX_FRAME: usize = 4 << 10;
pub const MAX_MESSAGE: usize = 16 << 10;
pub const MAX_HANDSHAKE: usize = 4 << 10;

/// What a driver may allocate while reading beyond the frame and message being
/// read: events, a close frame, buffer rounding; and with deflate the
/// connection's windows, plus, the first time a set of settings is used on this
/// thread, the thread's shared zlib compressor (~260 KiB) and inflater (46 KiB),
/// which every later connection of the thread reuses.
const SLACK: usize = 8 << 10;
#[cfg(feature = "deflate")]
const DEFLATE_SLACK: usize = (96 + 320) << 10;
#[cfg(not(feature = "deflate"))]
const DEFLATE_SLACK: usize = 0;
/// What negotiating permessage-deflate allocates once per connection: the
/// compressor's window and hash chains and the inflater's window (~420 KiB with
/// the default level and 15-bit windows).
const DEFLATE_STATE: usize = 512 << 10;

// ---- memory ------------------------------------------------------------------

#[path = "../tests/alloc_support/mod.rs"]
mod alloc_support;
use alloc_support::{Counting, LIVE, PEAK};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns what it returned and the peak of live bytes above those
/// live before it.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let out = f();
    (out, PEAK.load(Relaxed).saturating_sub(base))
}

// ---- options and requests ----------------------------------------------------

fn options(deflate: bool) -> Options {
    let options = Options::default()
        .max_frame_size(MAX_FRAME)
        .max_message_size(MAX_MESSAGE)
        .max_handshake_size(MAX_HANDSHAKE)
        .protocols(["chat", "superchat"])
        .allow_drafts(true)
        .close_timeout(Duration::from_secs(5))
        .keepalive(Duration::from_secs(20))
        .idle_timeout(Duration::from_secs(60));
    // Servers accept deflate unless told not to: say which is wanted.
    #[cfg(feature = "deflate")]
    return if deflate {
        options.deflate(DeflateConfig::default().threshold(0))
    } else {
        options.deflate(None)
    };
    #[cfg(not(feature = "deflate"))]
    {
        let _ = deflate;
        options
    }
}

/// The handshakes the frame targets start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum Kind {
    Hybi13,
    Hybi13Deflate,
    Hybi8,
    Hixie76,
    Hixie75,
}

impl Kind {
    fn deflate(self) -> bool {
        cfg!(feature = "deflate") && self == Kind::Hybi13Deflate
    }

    fn request(self) -> Vec<u8> {
        let head: &str = match self {
            Kind::Hybi13 => {
                "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Sec-WebSocket-Version: 13\r\n\r\n"
            }
            Kind::Hybi13Deflate => {
                "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Sec-WebSocket-Version: 13\r\n\
                 Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
            }
            Kind::Hybi8 => {
                "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Sec-WebSocket-Version: 8\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
            }
            Kind::Hixie76 => {
                "GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\nUpgrade: WebSocket\r\n\
                 Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\nOrigin: http://example.com\r\n\r\n"
            }
            Kind::Hixie75 => {
                "GET /demo HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\
                 Host: example.com\r\nOrigin: http://example.com\r\n\r\n"
            }
        };
        head.as_bytes().to_vec()
    }
}

// ---- the driver, as the targets drive it --------------------------------------

/// A driver and the checks on everything it hands out. All calls into the
/// driver's API are here.
pub struct Conn {
    d: Driver,
    now: Instant,
    events: EventCheck,
    wire: WireCheck,
    /// Live bytes right after the handshake, for the retained-memory check.
    base: usize,
    /// Messages are taken in pieces (`poll_chunk`), not whole.
    pieces: Option<PieceCheck>,
}

impl Conn {
    /// An open server for `kind`'s request, its response head taken.
    pub fn server(kind: Kind) -> Conn {
        let d = Driver::server_from_bytes(&kind.request(), options(kind.deflate()))
            .expect("the sample request is valid")
            .expect("the sample request is complete");
        Conn::started(d, kind.deflate())
    }

    fn started(mut d: Driver, deflate: bool) -> Conn {
        let version = d.version();
        let role_client = false;
        #[cfg(feature = "deflate")]
        let deflate = deflate && d.deflate_params().is_some();
        let now = Instant::now();
        d.start(now);
        let mut conn = Conn {
            wire: WireCheck::new(version, role_client, cfg!(feature = "deflate") && deflate),
            d,
            now,
            events: EventCheck::default(),
            base: 0,
            pieces: None,
        };
        conn.d.handle_timeout(conn.now);
        conn.drain();
        conn.base = LIVE.load(Relaxed);
        conn
    }

    /// An open client (deflate negotiated when asked), the server's 101 fed.
    pub fn client(deflate: bool) -> Conn {
        let mut conn = Conn::client_awaiting_response(deflate);
        let response = conn.sample_response(deflate);
        conn.receive(&response);
        assert!(conn.events.opened, "the sample response opens");
        conn.base = LIVE.load(Relaxed);
        conn
    }

    /// A client that has sent its request and waits for the response.
    pub fn client_awaiting_response(deflate: bool) -> Conn {
        let mut d = Driver::client("ws://example.com/chat", options(deflate)).expect("valid URL");
        let now = Instant::now();
        d.start(now);
        let mut conn = Conn {
            wire: WireCheck::new(Version::Hybi13, true, deflate),
            d,
            now,
            events: EventCheck::default(),
            base: 0,
            pieces: None,
        };
        conn.d.handle_timeout(conn.now);
        conn.drain();
        conn.base = LIVE.load(Relaxed);
        conn
    }

    /// The status line and the accept header that match the request sent; the
    /// caller adds the other headers and the blank line.
    fn response_start(&self) -> Vec<u8> {
        let key = self
            .wire
            .request_key
            .as_deref()
            .expect("a client request was sent");
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: {}\r\n",
            accept_key(key.as_bytes())
        )
        .into_bytes()
    }

    fn sample_response(&self, deflate: bool) -> Vec<u8> {
        let mut r = self.response_start();
        r.extend_from_slice(b"Upgrade: websocket\r\nConnection: Upgrade\r\n");
        if deflate {
            r.extend_from_slice(b"Sec-WebSocket-Extensions: permessage-deflate\r\n");
        }
        r.extend_from_slice(b"\r\n");
        r
    }

    /// Feeds `data` as one read, then tells the time, then checks the outputs.
    pub fn receive(&mut self, data: &[u8]) {
        let was_open = self.events.opened;
        let ((), peak) = peak_during(|| {
            self.d.receive(data, self.now);
            self.d.handle_timeout(self.now);
        });
        // The read that opens a client allocates the negotiated deflate state.
        let state = if was_open { 0 } else { DEFLATE_STATE };
        let bound = bound(data.len(), self.wire.deflate) + state;
        assert!(
            peak <= bound,
            "{peak} bytes allocated reading {} bytes (bound {bound})",
            data.len()
        );
        let before = self.wire.total;
        self.drain();
        if !was_open {
            self.base = LIVE.load(Relaxed);
        }
        // What we write in answer is bounded by what came in: a pong per ping
        // (a client masks, +4 bytes on a 2-byte header), one close frame, the
        // hixie-76 answer. (Opening also writes the messages queued before.)
        let wrote = self.wire.total - before;
        assert!(
            !was_open || wrote <= 3 * data.len() + 256,
            "wrote {wrote} bytes after reading {}",
            data.len()
        );
        let retained = LIVE.load(Relaxed).saturating_sub(self.base);
        let bound = 2 * MAX_MESSAGE + MAX_FRAME + data.len() + SLACK + DEFLATE_SLACK;
        assert!(
            retained <= bound,
            "{retained} bytes held after a read (bound {bound})"
        );
    }

    /// From now on, messages are taken in pieces as they arrive.
    pub fn in_pieces(mut self) -> Conn {
        self.pieces = Some(PieceCheck::default());
        self
    }

    pub fn eof(&mut self) {
        self.d.receive_eof(self.now);
        self.d.handle_timeout(self.now);
        self.drain();
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.d.handle_timeout(self.now);
        self.drain();
    }

    /// A command from the user; its result is checked against the state.
    pub fn command(&mut self, command: &Command) {
        let closed = self.events.closed || self.events.close_sent_or_started;
        let result = match command {
            Command::Text(t) => self.d.text(t.clone()),
            Command::Binary(b) => self.d.binary(b.clone()),
            Command::Ping(p) => self.d.ping(p.clone()),
            Command::Close(code, reason) => {
                let r = self.d.close(*code, reason, self.now);
                let sendable = CloseCode::from(*code).is_sendable() && reason.len() <= 123;
                assert_eq!(r.is_ok(), sendable, "close({code}, {} bytes)", reason.len());
                if r.is_ok() {
                    self.events.close_sent_or_started = true;
                }
                r
            }
        };
        if closed && !matches!(command, Command::Close(..)) {
            assert!(result.is_err(), "{command:?} accepted after close");
        }
        self.d.handle_timeout(self.now);
        self.drain();
    }

    /// Takes every output and event, checking each.
    fn drain(&mut self) {
        while let Some(t) = self.d.poll_transmit() {
            match t {
                Transmit::Data(bytes) => self.wire.feed(&bytes),
                Transmit::Shutdown => {
                    assert!(!self.wire.shutdown, "a second Shutdown");
                    self.wire.shutdown = true;
                }
            }
        }
        match &mut self.pieces {
            None => {
                while let Some(e) = self.d.poll_event() {
                    self.events.feed(e);
                }
            }
            Some(pieces) => {
                while let Some(chunk) = self.d.poll_chunk() {
                    if let Some(event) = pieces.feed(chunk) {
                        self.events.feed(event);
                    }
                }
            }
        }
    }
}

/// The most a driver may allocate while reading one chunk.
fn bound(chunk: usize, deflate: bool) -> usize {
    // The frame being read (the chunk, or the frame the input buffer is sized
    // to), a fragmented message joined, and with deflate its compressed form and
    // the inflated message.
    let messages = if deflate {
        3 * MAX_MESSAGE
    } else {
        MAX_MESSAGE
    };
    2 * chunk + MAX_FRAME + messages + SLACK + if deflate { DEFLATE_SLACK } else { 0 }
}

/// What a user may do between reads.
#[derive(Debug, Clone, Arbitrary)]
pub enum Command {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Close(u16, String),
}

// ---- checks ------------------------------------------------------------------

#[derive(Default)]
struct EventCheck {
    opened: bool,
    closed: bool,
    /// An `Error` was the last event: a `Close` must come next.
    error_pending: bool,
    /// `close()` succeeded: sending must now fail.
    close_sent_or_started: bool,
    any: bool,
    /// The code of the `Close` event.
    last_close: Option<u16>,
}

impl EventCheck {
    fn feed(&mut self, event: Event) {
        assert!(!self.closed, "{event:?} after Close");
        if self.error_pending {
            assert!(matches!(event, Event::Close(_)), "{event:?} after an Error");
        }
        match event {
            Event::Open => {
                assert!(!self.any, "Open after other events");
                self.opened = true;
            }
            Event::Message(m) => {
                assert!(self.opened, "a message before Open");
                assert!(m.len() <= MAX_MESSAGE, "a {}-byte message", m.len());
                if let Message::Text(t) = &m {
                    assert!(std::str::from_utf8(t.as_bytes()).is_ok());
                }
            }
            Event::Ping(p) | Event::Pong(p) => assert!(p.len() <= 125),
            Event::Error(_) => self.error_pending = true,
            Event::Close(frame) => {
                let code = frame.code;
                assert!(
                    code.is_sendable()
                        || code == CloseCode::NO_STATUS
                        || code == CloseCode::ABNORMAL,
                    "Close with code {code}"
                );
                assert!(frame.reason.len() <= 123);
                self.closed = true;
                self.error_pending = false;
                self.last_close = Some(u16::from(code));
            }
        }
        self.any = true;
    }
}

/// Checks the order and sizes of messages taken in pieces, and passes the other
/// events on.
#[derive(Default)]
struct PieceCheck {
    /// The message being handed out, and its bytes so far.
    open: Option<(MessageKind, usize)>,
}

impl PieceCheck {
    fn feed(&mut self, chunk: Chunk) -> Option<Event> {
        let piece = match chunk {
            Chunk::Start(kind) => {
                assert!(self.open.is_none(), "a message starts inside another");
                self.open = Some((kind, 0));
                return None;
            }
            Chunk::Text(t) => (MessageKind::Text, t.len()),
            Chunk::Binary(b) => (MessageKind::Binary, b.len()),
            Chunk::End => {
                assert!(self.open.take().is_some(), "End with no message");
                return None;
            }
            Chunk::Event(event) => {
                assert!(!matches!(event, Event::Message(_)), "a whole message");
                if matches!(event, Event::Close(_) | Event::Error(_)) {
                    self.open = None; // cut short
                }
                return Some(event);
            }
        };
        let Some((kind, total)) = &mut self.open else {
            panic!("a piece outside a message");
        };
        assert_eq!(*kind, piece.0, "a piece of the other kind");
        assert!(piece.1 > 0, "an empty piece");
        *total += piece.1;
        assert!(
            *total <= MAX_MESSAGE,
            "{total} bytes handed out of one message"
        );
        None
    }
}

/// Parses what the driver writes, as the peer would, and checks it.
struct WireCheck {
    version: Version,
    /// We are the client: our frames are masked, our head is a request.
    client: bool,
    deflate: bool,
    buf: Vec<u8>,
    state: Wire,
    /// Inside a fragmented message of ours.
    fragmented: bool,
    close_sent: bool,
    shutdown: bool,
    total: usize,
    request_key: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
enum Wire {
    Head,
    Hixie76Answer,
    Frames,
}

impl WireCheck {
    fn new(version: Version, client: bool, deflate: bool) -> Self {
        WireCheck {
            version,
            client,
            deflate,
            buf: Vec::new(),
            state: Wire::Head,
            fragmented: false,
            close_sent: false,
            shutdown: false,
            total: 0,
            request_key: None,
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        assert!(!self.shutdown, "data after Shutdown");
        assert!(!bytes.is_empty(), "an empty Transmit::Data");
        self.total += bytes.len();
        self.buf.extend_from_slice(bytes);
        loop {
            let used = match self.state {
                Wire::Head => {
                    let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        return;
                    };
                    let head = std::str::from_utf8(&self.buf[..end]).expect("an ASCII head");
                    if self.client {
                        assert!(head.starts_with("GET /chat HTTP/1.1\r\n"), "{head}");
                        let key = head
                            .lines()
                            .find_map(|l| l.strip_prefix("sec-websocket-key: "))
                            .or_else(|| {
                                head.lines()
                                    .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
                            })
                            .expect("a key");
                        self.request_key = Some(key.to_owned());
                    } else {
                        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
                    }
                    self.state = if self.version == Version::Hixie76 {
                        Wire::Hixie76Answer
                    } else {
                        Wire::Frames
                    };
                    end + 4
                }
                Wire::Hixie76Answer => {
                    if self.buf.len() < 16 {
                        return;
                    }
                    self.state = Wire::Frames;
                    16
                }
                Wire::Frames if self.version.is_draft() => match self.hixie_frame() {
                    Some(n) => n,
                    None => return,
                },
                Wire::Frames => match self.hybi_frame() {
                    Some(n) => n,
                    None => return,
                },
            };
            self.buf.drain(..used);
            if self.buf.is_empty() {
                // Hold nothing between outputs, for the retained-memory check.
                self.buf = Vec::new();
            }
        }
    }

    /// Checks the hixie frame at the front; its length once complete.
    fn hixie_frame(&mut self) -> Option<usize> {
        let first = *self.buf.first()?;
        assert!(!self.close_sent, "bytes after the hixie close");
        match first {
            0x00 => {
                let end = self.buf.iter().position(|&b| b == 0xFF)?;
                assert!(
                    std::str::from_utf8(&self.buf[1..end]).is_ok(),
                    "hixie text not UTF-8"
                );
                Some(end + 1)
            }
            0xFF => {
                assert_eq!(self.version, Version::Hixie76, "a hixie-75 close frame");
                let second = *self.buf.get(1)?;
                assert_eq!(second, 0x00, "hixie close is 0xFF 0x00");
                self.close_sent = true;
                Some(2)
            }
            other => panic!("hixie frame type {other:#x}"),
        }
    }

    /// Checks the hybi frame at the front; its length once complete.
    fn hybi_frame(&mut self) -> Option<usize> {
        let b = &self.buf;
        assert!(
            b.is_empty() || !self.close_sent,
            "bytes after our close frame"
        );
        if b.len() < 2 {
            return None;
        }
        let fin = b[0] & 0x80 != 0;
        let rsv = b[0] & 0x70;
        let opcode = b[0] & 0x0F;
        let masked = b[1] & 0x80 != 0;
        assert_eq!(masked, self.client, "masking of our frames");
        let (len, mut at) = match b[1] & 0x7F {
            126 => (
                u16::from_be_bytes(b.get(2..4)?.try_into().unwrap()) as usize,
                4,
            ),
            127 => {
                let len = u64::from_be_bytes(b.get(2..10)?.try_into().unwrap());
                assert!(len >> 63 == 0, "length's top bit set");
                (len as usize, 10)
            }
            n => (n as usize, 2),
        };
        let mut key = [0u8; 4];
        if masked {
            key.copy_from_slice(b.get(at..at + 4)?);
            at += 4;
        }
        let payload: Vec<u8> = b
            .get(at..at + len)?
            .iter()
            .enumerate()
            .map(|(i, x)| x ^ key[i % 4])
            .collect();
        match opcode {
            0x0 => assert!(self.fragmented, "a continuation with no message"),
            0x1 | 0x2 => assert!(!self.fragmented, "a new message inside a fragmented one"),
            0x8..=0xA => {
                assert!(fin, "a fragmented control frame");
                assert!(len <= 125, "a {len}-byte control frame");
            }
            _ => panic!("opcode {opcode:#x}"),
        }
        if rsv != 0 {
            assert!(self.deflate && rsv == 0x40, "RSV {rsv:#x}");
            assert!(matches!(opcode, 0x1 | 0x2), "RSV1 on opcode {opcode:#x}");
        }
        if opcode < 0x8 {
            self.fragmented = !fin;
        }
        if opcode == 0x1 && rsv == 0 {
            assert!(
                std::str::from_utf8(&payload).is_ok() || !fin,
                "text not UTF-8"
            );
        }
        if opcode == 0x8 {
            match payload.len() {
                0 => {}
                1 => panic!("a 1-byte close payload"),
                _ => {
                    let code = CloseCode::from(u16::from_be_bytes([payload[0], payload[1]]));
                    assert!(code.is_sendable(), "we sent close code {code}");
                    assert!(
                        std::str::from_utf8(&payload[2..]).is_ok(),
                        "close reason not UTF-8"
                    );
                }
            }
            self.close_sent = true;
        }
        Some(at + len)
    }
}

// ---- the targets ---------------------------------------------------------------

/// Splits `data` into reads: each chunk is led by a length byte (0 means 256),
/// so the fuzzer controls where reads cut frames and handshakes.
fn chunks(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let (&len, tail) = rest.split_first()?;
        let len = if len == 0 { 256 } else { len as usize };
        let (chunk, tail) = tail.split_at(len.min(tail.len()));
        rest = tail;
        Some(chunk)
    })
}

/// Raw bytes as a server's connection would receive them, to
/// `Driver::server_from_bytes` in the reads of [`chunks`], then the rest of the
/// connection through the driver.
pub fn server_request(data: &[u8]) {
    let mut buf = Vec::new();
    let mut reads = chunks(data);
    let driver = loop {
        let Some(read) = reads.next() else { return };
        buf.extend_from_slice(read);
        match Driver::server_from_bytes(&buf, options(true)) {
            Ok(Some(d)) => break d,
            Ok(None) => assert!(
                buf.len() <= MAX_HANDSHAKE,
                "still waiting for a head after {} bytes",
                buf.len()
            ),
            Err(e) => {
                let response = e
                    .response_bytes()
                    .expect("a refused request gets an answer");
                assert!(response.starts_with(b"HTTP/1.1 4"), "{e}");
                return;
            }
        }
    };
    let mut conn = Conn::started(driver, true);
    for read in reads {
        conn.receive(read);
    }
    conn.eof();
}

/// Bytes to a client that has sent its request: with the first byte's low bit
/// set, they follow a status line and the accept header that match the request,
/// so the fuzzer reaches the other headers and the frames after them.
pub fn client_response(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut conn = Conn::client_awaiting_response(flags & 2 != 0);
    let mut input = if flags & 1 != 0 {
        conn.response_start()
    } else {
        Vec::new()
    };
    input.extend_from_slice(rest);
    // The reads are cut at the positions the next byte picks, over the whole input.
    let cut = (flags >> 2) as usize + 1;
    for read in input.chunks(cut * 4) {
        conn.receive(read);
    }
    conn.eof();
}

/// Frames to an open hybi driver: the first byte picks the role, deflate, and
/// whether messages are taken whole or in pieces; the rest are reads as
/// [`chunks`] cuts them.
pub fn hybi(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let deflate = flags & 2 != 0;
    let conn = if flags & 1 == 0 {
        Conn::server(if deflate {
            Kind::Hybi13Deflate
        } else {
            Kind::Hybi13
        })
    } else {
        Conn::client(deflate)
    };
    read_all(conn, flags & 4 != 0, rest);
}

/// Bytes to an open hixie driver (hixie-76 when the first byte is even: its first
/// 8 bytes after that are the key bytes; messages in pieces when its bit 1 is set).
pub fn hixie(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let conn = Conn::server(if flags & 1 == 0 {
        Kind::Hixie76
    } else {
        Kind::Hixie75
    });
    read_all(conn, flags & 2 != 0, rest);
}

/// Feeds `rest` to an open `conn` as the reads [`chunks`] cuts, then the end of
/// the stream, taking messages whole or, with `pieces`, as they arrive.
fn read_all(mut conn: Conn, pieces: bool, rest: &[u8]) {
    if pieces {
        conn = conn.in_pieces();
    }
    for read in chunks(rest) {
        conn.receive(read);
    }
    conn.eof();
}

/// One close frame with an arbitrary payload (at most 125 bytes) to an open
/// server and client, checked against RFC 6455's rules computed here on their own.
pub fn close_frame(data: &[u8]) {
    let payload = &data[..data.len().min(125)];
    // What RFC 6455 sections 5.5.1 and 7.4 make of it.
    let expected: Result<Option<u16>, u16> = match payload {
        [] => Ok(None),
        [_] => Err(1002),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !CloseCode::from(code).is_sendable() {
                Err(1002)
            } else if std::str::from_utf8(reason).is_err() {
                Err(1007)
            } else {
                Ok(Some(code))
            }
        }
    };
    for client in [false, true] {
        let mut conn = if client {
            Conn::client(false)
        } else {
            Conn::server(Kind::Hybi13)
        };
        let mut frame = vec![0x88, payload.len() as u8];
        if !client {
            frame[1] |= 0x80;
            frame.extend_from_slice(&[0x37, 0xFA, 0x21, 0x3D]);
            frame.extend(
                payload
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ [0x37, 0xFA, 0x21, 0x3D][i % 4]),
            );
        } else {
            frame.extend_from_slice(payload);
        }
        conn.receive(&frame);
        match expected {
            Ok(code) => {
                let code = code.unwrap_or(1005);
                assert_eq!(conn.close_code(), Some(code), "a valid close frame");
            }
            Err(code) => assert_eq!(conn.close_code(), Some(code), "a bad close frame"),
        }
        // A valid close is echoed with its code (an empty one with an empty frame);
        // a bad one is answered with the error's code.
        assert!(conn.wire.close_sent, "no close frame sent");
    }
}

impl Conn {
    fn close_code(&self) -> Option<u16> {
        self.events.last_close
    }
}

/// An arbitrary payload as one compressed message (RSV1) to an open server and
/// client with deflate, whole or cut into fragments where the first byte says.
pub fn inflate(data: &[u8]) {
    if !cfg!(feature = "deflate") {
        return;
    }
    let Some((&flags, payload)) = data.split_first() else {
        return;
    };
    let fragment = (flags as usize >> 1) * 64;
    for client in [false, true] {
        let mut conn = if client {
            Conn::client(true)
        } else {
            Conn::server(Kind::Hybi13Deflate)
        };
        let mut wire = Vec::new();
        let pieces: Vec<&[u8]> = if fragment == 0 || payload.is_empty() {
            vec![payload]
        } else {
            payload.chunks(fragment).collect()
        };
        for (i, piece) in pieces.iter().enumerate() {
            let opcode = if i == 0 {
                if flags & 1 == 0 {
                    0x1
                } else {
                    0x2
                }
            } else {
                0x0
            };
            let rsv1 = if i == 0 { 0x40 } else { 0 };
            let fin = if i + 1 == pieces.len() { 0x80 } else { 0 };
            frame_into(&mut wire, fin | rsv1 | opcode, piece, !client);
        }
        for read in wire.chunks(1 << 12) {
            conn.receive(read);
        }
        // Whatever it inflated to, the message is within the limit, or the
        // connection closed with 1009, 1002 (corrupt data) or 1007 (text not UTF-8).
        if let Some(code) = conn.close_code() {
            assert!(matches!(code, 1002 | 1007 | 1009), "closed with {code}");
        }
        conn.eof();
    }
}

/// Appends one frame (masked with a fixed key when `mask`).
fn frame_into(out: &mut Vec<u8>, first: u8, payload: &[u8], mask: bool) {
    out.push(first);
    let m = if mask { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(m | n as u8),
        n @ 126..=0xFFFF => {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(m | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if mask {
        let key = [0xA1, 0x02, 0xC3, 0x44];
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
}

/// What the whole-driver target does, step by step.
#[derive(Debug, Arbitrary)]
pub struct Script {
    pub kind: Kind,
    pub client: bool,
    /// Bytes after the handshake, handshake included in the reads.
    pub input: Vec<u8>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Arbitrary)]
pub enum Step {
    /// The next `n` bytes of the input (0 means all that is left).
    Read(u16),
    Command(Command),
    /// Milliseconds pass.
    Wait(u32),
    Eof,
}

/// Arbitrary input in arbitrary reads, commands and time to a server or a client
/// of any version: the handshake (a valid one, cut by the reads like the rest)
/// then whatever the fuzzer sends.
pub fn driver(data: &[u8]) {
    let Ok(script) = Script::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    // A client reads the server's response in the same reads as what follows it;
    // a server is built from its request head (chunked heads are `server_request`'s).
    let (mut conn, mut input) = if script.client {
        let deflate = script.kind.deflate();
        let conn = Conn::client_awaiting_response(deflate);
        let response = conn.sample_response(deflate);
        (conn, response)
    } else {
        (Conn::server(script.kind), Vec::new())
    };
    input.extend_from_slice(&script.input);
    let mut at = 0;
    for step in &script.steps {
        match step {
            Step::Read(n) => {
                let n = if *n == 0 {
                    input.len() - at
                } else {
                    (*n as usize).min(input.len() - at)
                };
                conn.receive(&input[at..at + n]);
                at += n;
            }
            Step::Command(c) => conn.command(c),
            Step::Wait(ms) => conn.advance(Duration::from_millis(u64::from(*ms))),
            Step::Eof => {
                conn.eof();
                at = input.len();
            }
        }
    }
    if at < input.len() {
        conn.receive(&input[at..]);
    }
    // Time always ends a connection whose peer stops: close timeout, idle timeout.
    conn.advance(Duration::from_secs(120));
    conn.advance(Duration::from_secs(120));
    if conn.events.opened {
        assert!(conn.events.closed, "an open connection outlived its timers");
    }
}
