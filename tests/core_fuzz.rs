//! Arbitrary bytes, in arbitrary chunks, into server, client and hixie drivers:
//! no panic, at most one close event and nothing after it, no data after the
//! shutdown, and memory bounded by the configured limits plus a small constant.

mod core_support;

use core_support::*;
use std::time::Instant;

use proptest::prelude::*;
use websocket_protocol::protocol::{accept_key, Driver, Event, Options, Transmit};

const MAX_FRAME: usize = 256;
const MAX_MESSAGE: usize = 1024;
/// Largest chunk fed at once.
const CHUNK: usize = 300;
/// Slack on top of the limits: a frame header, a close frame, a buffer's rounding.
const SLACK: usize = 256;

fn limits() -> Options {
    Options::default()
        .max_frame_size(MAX_FRAME)
        .max_message_size(MAX_MESSAGE)
        .max_handshake_size(2048)
}

/// Checks the invariants that hold after any input.
struct Watch {
    closed: bool,
    shutdown: bool,
}

impl Watch {
    fn new() -> Self {
        Watch {
            closed: false,
            shutdown: false,
        }
    }

    fn feed(&mut self, d: &mut Driver, chunk: &[u8], input_limit: usize) {
        d.receive(chunk, Instant::now());
        // Decoding is lazy: take the events first, then measure.
        self.take_events(d);
        // What is queued to write is bounded by what came in (one pong, one close).
        assert!(
            d.buffered_amount() <= chunk.len() + SLACK,
            "{} bytes queued after a {}-byte chunk",
            d.buffered_amount(),
            chunk.len()
        );
        // With every event taken, the input holds at most one incomplete frame.
        assert!(
            d.buffered_incoming() <= input_limit + SLACK,
            "input holds {}",
            d.buffered_incoming()
        );
        assert!(
            // Buffers this small grow by doubling, counting the space consumed
            // bytes leave at the front (tests/core_memory.rs checks that large
            // ones are sized to the frame exactly).
            d.input_capacity() <= 2 * (input_limit + 2 * CHUNK) + SLACK,
            "input capacity {}",
            d.input_capacity()
        );
        self.drain(d);
    }

    fn drain(&mut self, d: &mut Driver) {
        while let Some(t) = d.poll_transmit() {
            assert!(!self.shutdown, "output after Transmit::Shutdown");
            if t == Transmit::Shutdown {
                self.shutdown = true;
            }
        }
        self.take_events(d);
    }

    fn take_events(&mut self, d: &mut Driver) {
        while let Some(e) = d.poll_event() {
            assert!(!self.closed, "event after Close: {e:?}");
            if let Event::Close(_) = e {
                self.closed = true;
            }
        }
    }
}

fn server_driver(options: Options) -> Driver {
    let mut d = Driver::server(&upgrade_request(), options).unwrap();
    d.start(Instant::now());
    d
}

fn client_driver() -> (Driver, Vec<u8>) {
    let mut d = Driver::client("ws://x/", limits()).unwrap();
    d.start(Instant::now());
    let key = d.client_request().unwrap().headers()["sec-websocket-key"]
        .to_str()
        .unwrap()
        .to_owned();
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key.as_bytes())
    );
    (d, response.into_bytes())
}

fn hixie_driver(hixie76: bool) -> Driver {
    let mut req = http::Request::get("/")
        .header("Host", "x")
        .header("Upgrade", "WebSocket")
        .header("Connection", "Upgrade");
    if hixie76 {
        req = req
            .header("Sec-WebSocket-Key1", "1 2")
            .header("Sec-WebSocket-Key2", "3 4");
    }
    let mut d = Driver::server(&req.body(()).unwrap(), limits().allow_drafts(true)).unwrap();
    d.start(Instant::now());
    d
}

/// Chunks of arbitrary bytes.
fn chunks() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..CHUNK), 0..24)
}

/// Frames that are mostly well-formed, so that the fuzzing reaches past the
/// header checks: a header byte from the interesting ones, a length that may
/// lie, an optional mask, some payload. Joined, then cut at arbitrary points.
fn framed(masked: bool) -> impl Strategy<Value = Vec<Vec<u8>>> {
    let first = prop::sample::select(vec![
        0x81u8, 0x82, 0x01, 0x02, 0x00, 0x80, 0x88, 0x89, 0x8A, 0x09, 0xC1, 0x83, 0x8B,
    ]);
    let len = prop_oneof![
        0usize..130,
        125usize..300,
        Just(65_536),
        Just(usize::MAX >> 1)
    ];
    let frame = (
        first,
        len,
        prop::collection::vec(any::<u8>(), 0..300),
        any::<bool>(),
        any::<[u8; 4]>(),
    )
        .prop_map(move |(first, len, payload, flip_mask, key)| {
            let mut out = vec![first];
            let mask_bit = if masked != flip_mask { 0x80 } else { 0 };
            match len {
                n if n < 126 => out.push(mask_bit | n as u8),
                n if n <= 0xFFFF => {
                    out.push(mask_bit | 126);
                    out.extend_from_slice(&(n as u16).to_be_bytes());
                }
                n => {
                    out.push(mask_bit | 127);
                    out.extend_from_slice(&(n as u64).to_be_bytes());
                }
            }
            if mask_bit != 0 {
                out.extend_from_slice(&key);
            }
            out.extend_from_slice(&payload[..payload.len().min(len)]);
            out
        });
    (
        prop::collection::vec(frame, 0..12),
        prop::collection::vec(1usize..CHUNK, 1..8),
    )
        .prop_map(|(frames, cuts)| split(frames.concat(), &cuts))
}

/// Hixie-shaped input: text runs, length-prefixed frames, close frames.
fn hixie_framed() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let frame = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|mut t| {
            t.retain(|&b| b != 0xFF);
            let mut out = vec![0x00];
            out.extend(t);
            out.push(0xFF);
            out
        }),
        (0x80u8..=0xFF, prop::collection::vec(any::<u8>(), 0..6)).prop_map(|(kind, digits)| {
            let mut out = vec![kind];
            out.extend(digits);
            out
        }),
        Just(vec![0xFF, 0x00]),
        prop::collection::vec(any::<u8>(), 0..20),
    ];
    (
        prop::collection::vec(frame, 0..16),
        prop::collection::vec(1usize..CHUNK, 1..8),
    )
        .prop_map(|(frames, cuts)| split(frames.concat(), &cuts))
}

fn split(data: Vec<u8>, cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = &data[..];
    for &cut in cuts.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (a, b) = rest.split_at(cut.min(rest.len()));
        out.push(a.to_vec());
        rest = b;
    }
    out
}

proptest! {
    // A few seconds in CI; `PROPTEST_CASES=100000` for a longer hunt.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn server_after_handshake_arbitrary_bytes(chunks in chunks()) {
        let mut d = server_driver(limits());
        let mut w = Watch::new();
        w.drain(&mut d);
        for c in &chunks {
            w.feed(&mut d, c, MAX_FRAME);
        }
        d.receive_eof(Instant::now());
        w.drain(&mut d);
        prop_assert!(w.closed && w.shutdown);
    }

    #[test]
    fn server_after_handshake_framed(chunks in framed(true)) {
        let mut d = server_driver(limits());
        let mut w = Watch::new();
        w.drain(&mut d);
        for c in &chunks {
            w.feed(&mut d, c, MAX_FRAME);
        }
        d.receive_eof(Instant::now());
        w.drain(&mut d);
        prop_assert!(w.closed && w.shutdown);
    }

    #[test]
    fn server_from_raw_bytes(head in prop::collection::vec(any::<u8>(), 0..600), cut in 0usize..200) {
        // Arbitrary bytes, and a valid request prefix followed by arbitrary bytes.
        let valid = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                      Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
        let mut mixed = valid[..cut.min(valid.len())].to_vec();
        mixed.extend_from_slice(&head);
        for input in [&head, &mixed] {
            match Driver::server_from_bytes(input, limits().allow_drafts(true)) {
                Ok(Some(mut d)) => {
                    d.start(Instant::now());
                    let mut w = Watch::new();
                    w.drain(&mut d);
                }
                Ok(None) => prop_assert!(input.len() <= 2048),
                Err(e) => {
                    // Every refusal can be answered over HTTP.
                    prop_assert!(e.is_handshake());
                    prop_assert!(e.response_bytes().is_some());
                }
            }
        }
    }

    #[test]
    fn client_arbitrary_response(chunks in chunks()) {
        let (mut d, _) = client_driver();
        let mut w = Watch::new();
        w.drain(&mut d);
        for c in &chunks {
            w.feed(&mut d, c, 2048);
        }
        d.receive_eof(Instant::now());
        w.drain(&mut d);
        prop_assert!(w.closed && w.shutdown);
    }

    #[test]
    fn client_after_handshake_framed(chunks in framed(false)) {
        let (mut d, response) = client_driver();
        let mut w = Watch::new();
        w.feed(&mut d, &response, MAX_FRAME);
        for c in &chunks {
            w.feed(&mut d, c, MAX_FRAME);
        }
        d.receive_eof(Instant::now());
        w.drain(&mut d);
        prop_assert!(w.closed && w.shutdown);
    }

    #[test]
    fn hixie_arbitrary_bytes(chunks in chunks(), hixie76 in any::<bool>()) {
        let mut d = hixie_driver(hixie76);
        let mut w = Watch::new();
        w.drain(&mut d);
        for c in &chunks {
            w.feed(&mut d, c, MAX_MESSAGE);
        }
        d.receive_eof(Instant::now());
        w.drain(&mut d);
        prop_assert!(w.closed && w.shutdown);
    }

    #[test]
    fn hixie_framed_input(chunks in hixie_framed(), hixie76 in any::<bool>()) {
        let mut d = hixie_driver(hixie76);
        let mut w = Watch::new();
        w.drain(&mut d);
        for c in &chunks {
            w.feed(&mut d, c, MAX_MESSAGE);
        }
        d.receive_eof(Instant::now());
        w.drain(&mut d);
        prop_assert!(w.closed && w.shutdown);
    }

    #[test]
    fn chunking_never_changes_the_outcome(chunks in framed(true), hixie_chunks in hixie_framed()) {
        // The same bytes fed whole and in pieces give the same events and the
        // same output: incremental parsing has no seams.
        fn outcome(mut d: Driver, chunks: &[Vec<u8>]) -> (Vec<Event>, Vec<u8>) {
            let mut out = Vec::new();
            for c in chunks.iter().chain([&Vec::new()]) {
                d.receive(c, Instant::now());
                while let Some(t) = d.poll_transmit() {
                    if let Transmit::Data(b) = t {
                        out.extend_from_slice(&b);
                    }
                }
            }
            (std::iter::from_fn(|| d.poll_event()).collect(), out)
        }
        let whole = vec![chunks.concat()];
        prop_assert_eq!(outcome(server_driver(limits()), &chunks), outcome(server_driver(limits()), &whole));
        let whole = vec![hixie_chunks.concat()];
        prop_assert_eq!(outcome(hixie_driver(true), &hixie_chunks), outcome(hixie_driver(true), &whole));
    }
}
