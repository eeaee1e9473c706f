//! Framing of the sans-IO core: RFC 6455 section 5.7's examples byte for byte,
//! every rule of section 5 with the close code it fails with, incremental input
//! at every split point, limits, and the hixie drafts' framing.

mod core_support;

use core_support::*;

use bytes::Bytes;
use std::time::{Duration, Instant};
use websocket_protocol::protocol::{
    accept_key, CloseCode, CloseFrame, Driver, ErrorKind, Event, Message, Options, ReadyState,
};

// ---- helpers ---------------------------------------------------------------------

fn server(options: Options) -> Driver {
    open_server(options)
}

fn client(options: Options) -> Driver {
    let mut d = Driver::client("ws://example.com/", options).unwrap();
    d.start(Instant::now());
    drain(&mut d);
    let key = d.client_request().unwrap().headers()["sec-websocket-key"]
        .to_str()
        .unwrap()
        .to_owned();
    let res = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key.as_bytes())
    );
    d.receive(res.as_bytes(), Instant::now());
    assert_eq!(events(&mut d), vec![Event::Open]);
    d
}

fn hixie(hixie76: bool, options: Options) -> Driver {
    let mut req = http::Request::get("/demo")
        .header("Host", "example.com")
        .header("Upgrade", "WebSocket")
        .header("Connection", "Upgrade");
    if hixie76 {
        req = req
            .header("Sec-WebSocket-Key1", "18x 6]8vM;54 *(5:  {   U1]8  z [  8")
            .header("Sec-WebSocket-Key2", "1_ tx7X d  <  nw  334J702) 7]o}` 0");
    }
    let mut d = Driver::server(&req.body(()).unwrap(), options.allow_drafts(true)).unwrap();
    d.start(Instant::now());
    if hixie76 {
        d.receive(b"Tm[K T2u", Instant::now());
    }
    drain(&mut d);
    assert_eq!(events(&mut d), vec![Event::Open]);
    d
}

/// Feeds `wire` split at every point, and one byte at a time, to fresh drivers
/// from `make`; each run must give `expected` events and the same output.
fn at_every_split(make: impl Fn() -> Driver, wire: &[u8], expected: &[Event]) -> Vec<u8> {
    let mut whole = make();
    whole.receive(wire, Instant::now());
    // Decoding is lazy: events first, then what they queued.
    assert_eq!(events(&mut whole), expected, "whole");
    let reference = drain(&mut whole);
    for split in 0..=wire.len() {
        let mut d = make();
        d.receive(&wire[..split], Instant::now());
        d.receive(&wire[split..], Instant::now());
        assert_eq!(events(&mut d), expected, "split at {split}");
        let out = drain(&mut d);
        assert_eq!(out.1, reference.1, "split at {split}");
        if whole.role() == websocket_protocol::protocol::Role::Server {
            assert_eq!(out.0, reference.0, "split at {split}");
        }
    }
    let mut d = make();
    for b in wire {
        d.receive(std::slice::from_ref(b), Instant::now());
    }
    assert_eq!(events(&mut d), expected, "byte at a time");
    reference.0
}

/// Feeds `wire` and checks that the connection failed with `code`: an error event
/// naming it, the close frame sent, the close event, and the transport shut.
fn fails_with(d: &mut Driver, wire: &[u8], code: u16) -> ErrorKind {
    d.receive(wire, Instant::now());
    let evs = events(d);
    let Some(Event::Error(err)) = evs.iter().find(|e| matches!(e, Event::Error(_))) else {
        panic!("no error for {wire:02x?}: {evs:?}");
    };
    assert_eq!(err.close_code(), Some(CloseCode::from(code)), "{err}");
    match evs.last() {
        Some(Event::Close(frame)) => assert_eq!(frame.code, CloseCode::from(code)),
        other => panic!("last event {other:?}"),
    }
    let (out, shutdown) = drain(d);
    let frames = parse_frames(&out);
    let close = frames.last().expect("a close frame is sent");
    assert_eq!(close.first, 0x88);
    assert_eq!(close.payload[..2], code.to_be_bytes());
    assert!(shutdown, "the transport is shut after failing");
    assert_eq!(d.ready_state(), ReadyState::Closed);
    assert!(d.text("more").unwrap_err().is_closed());
    err.kind().clone()
}

fn text(s: &'static str) -> Event {
    Event::Message(Message::text(s))
}

// ---- RFC 6455 section 5.7 --------------------------------------------------------

#[test]
fn rfc_single_frame_unmasked_text() {
    let wire = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let mut srv = server(Options::default());
    srv.text("Hello").unwrap();
    assert_eq!(drain(&mut srv).0, wire);
    at_every_split(|| client(Options::default()), &wire, &[text("Hello")]);
}

#[test]
fn rfc_single_frame_masked_text() {
    let wire = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    assert_eq!(c(0x81, b"Hello"), wire);
    at_every_split(|| server(Options::default()), &wire, &[text("Hello")]);
}

#[test]
fn rfc_fragmented_unmasked_text() {
    let wire = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    at_every_split(|| client(Options::default()), &wire, &[text("Hello")]);
    let masked = cat(&[c(0x01, b"Hel"), c(0x80, b"lo")]);
    at_every_split(|| server(Options::default()), &masked, &[text("Hello")]);
}

#[test]
fn rfc_ping_and_pong() {
    // The server's ping is the RFC's unmasked ping.
    let mut srv = server(Options::default());
    srv.ping(&b"Hello"[..]).unwrap();
    let ping = drain(&mut srv).0;
    assert_eq!(ping, [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    // The client answers with a masked pong carrying the same payload.
    let mut cli = client(Options::default());
    cli.receive(&ping, Instant::now());
    assert_eq!(
        events(&mut cli),
        vec![Event::Ping(Bytes::from_static(b"Hello"))]
    );
    let pong = parse_frames(&drain(&mut cli).0);
    assert_eq!(pong.len(), 1);
    assert_eq!(pong[0].first, 0x8A);
    assert!(pong[0].mask.is_some());
    assert_eq!(pong[0].payload, b"Hello");
    // The RFC's masked pong reaches the server as a pong event.
    let rfc_pong = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let out = at_every_split(
        || server(Options::default()),
        &rfc_pong,
        &[Event::Pong(Bytes::from_static(b"Hello"))],
    );
    assert_eq!(out, b"", "a pong is not answered");
}

#[test]
fn rfc_256_byte_and_64_kib_binary_headers() {
    let mut srv = server(Options::default());
    let small: Vec<u8> = (0..=255).collect();
    srv.binary(small.clone()).unwrap();
    let out = drain(&mut srv).0;
    assert_eq!(out[..4], [0x82, 0x7E, 0x01, 0x00]);
    assert_eq!(out[4..], small[..]);

    let big: Vec<u8> = (0..65536u32).map(|i| (i * 7) as u8).collect();
    srv.binary(big.clone()).unwrap();
    let out = drain(&mut srv).0;
    assert_eq!(
        out[..10],
        [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]
    );
    assert_eq!(out[10..], big[..]);

    // And both decode, at every split of their headers and payload boundaries.
    let wire = c(0x82, &small);
    at_every_split(
        || server(Options::default()),
        &wire,
        &[Event::Message(Message::binary(small.clone()))],
    );
    let wire = s(0x82, &big);
    let mut cli = client(Options::default());
    for piece in wire.chunks(1000) {
        cli.receive(piece, Instant::now());
    }
    assert_eq!(events(&mut cli), vec![Event::Message(Message::binary(big))]);
}

// ---- lengths -----------------------------------------------------------------------

#[test]
fn seven_sixteen_and_sixty_four_bit_lengths() {
    for len in [0usize, 1, 125, 126, 127, 65535, 65536, 100_000] {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let expected = vec![Event::Message(Message::binary(payload.clone()))];
        let wire = c(0x82, &payload);
        let header = wire.len() - len;
        assert_eq!(
            header,
            match len {
                0..=125 => 6,
                126..=65535 => 8,
                _ => 14,
            }
        );
        // Every split inside the header and around it, then one byte at a time.
        for split in 0..header + 2 {
            let mut d = server(Options::default());
            d.receive(&wire[..split.min(wire.len())], Instant::now());
            d.receive(&wire[split.min(wire.len())..], Instant::now());
            assert_eq!(events(&mut d), expected, "len {len} split {split}");
        }
        if len <= 65536 {
            let mut d = server(Options::default());
            for b in &wire {
                d.receive(std::slice::from_ref(b), Instant::now());
            }
            assert_eq!(events(&mut d), expected, "len {len} byte at a time");
        }
        // Our own encoder picks the same size.
        let mut srv = server(Options::default());
        srv.binary(payload).unwrap();
        assert_eq!(drain(&mut srv).0.len(), header - 4 + len);
    }
}

#[test]
fn sixty_four_bit_length_with_the_top_bit_set_is_1002() {
    let mut wire = vec![0x82, 0xFF];
    wire.extend_from_slice(&(1u64 << 63).to_be_bytes());
    wire.extend_from_slice(&KEY);
    let kind = fails_with(&mut server(Options::default()), &wire, 1002);
    assert!(matches!(kind, ErrorKind::Protocol(_)));
    let mut wire = vec![0x82, 0x7F];
    wire.extend_from_slice(&u64::MAX.to_be_bytes());
    fails_with(&mut client(Options::default()), &wire, 1002);
}

// ---- masking -------------------------------------------------------------------------

#[test]
fn client_masks_every_frame_with_a_fresh_key() {
    let mut cli = client(Options::default());
    cli.text("same").unwrap();
    cli.text("same").unwrap();
    cli.binary(vec![0u8; 70_000]).unwrap();
    cli.ping(&b"p"[..]).unwrap();
    cli.close(1000, "bye", Instant::now()).unwrap();
    let frames = parse_frames(&drain(&mut cli).0);
    assert_eq!(frames.len(), 5);
    let keys: std::collections::HashSet<[u8; 4]> =
        frames.iter().map(|f| f.mask.expect("masked")).collect();
    assert_eq!(keys.len(), 5, "a fresh key per frame");
    assert_eq!(frames[0].payload, b"same");
    assert_eq!(frames[1].payload, b"same");
    assert_eq!(frames[2].payload, vec![0u8; 70_000]);
    assert_eq!(frames[4].payload, b"\x03\xe8bye");

    // Two equal sends give different bytes on the wire.
    let mut cli = client(Options::default());
    cli.text("Hello, world").unwrap();
    let a = drain(&mut cli).0;
    cli.text("Hello, world").unwrap();
    let b = drain(&mut cli).0;
    assert_ne!(a, b);
}

#[test]
fn server_fails_unmasked_frames_and_client_fails_masked_ones() {
    fails_with(&mut server(Options::default()), &s(0x81, b"Hello"), 1002);
    fails_with(&mut client(Options::default()), &c(0x81, b"Hello"), 1002);
    // The server's close frame is unmasked, the client's masked.
    let mut srv = server(Options::default());
    srv.receive(&s(0x81, b"x"), Instant::now());
    assert!(parse_frames(&drain(&mut srv).0)[0].mask.is_none());
    let mut cli = client(Options::default());
    cli.receive(&c(0x81, b"x"), Instant::now());
    assert!(parse_frames(&drain(&mut cli).0)[0].mask.is_some());
}

// ---- header rules --------------------------------------------------------------------

#[test]
fn rsv_bits_are_1002() {
    for rsv in [0x40, 0x20, 0x10, 0x70] {
        fails_with(&mut server(Options::default()), &c(0x81 | rsv, b"x"), 1002);
        fails_with(&mut client(Options::default()), &s(0x82 | rsv, b"x"), 1002);
    }
}

#[test]
fn reserved_opcodes_are_1002() {
    for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        fails_with(&mut server(Options::default()), &c(0x80 | op, b""), 1002);
        fails_with(&mut client(Options::default()), &s(0x80 | op, b"abc"), 1002);
    }
}

#[test]
fn control_frames_over_125_bytes_or_fragmented_are_1002() {
    for op in [0x8u8, 0x9, 0xA] {
        fails_with(
            &mut server(Options::default()),
            &c(0x80 | op, &[b'a'; 126]),
            1002,
        );
        fails_with(&mut server(Options::default()), &c(op, b"a"), 1002);
        fails_with(&mut client(Options::default()), &s(op, b""), 1002);
    }
    // 125 is fine.
    let mut srv = server(Options::default());
    srv.receive(&c(0x89, &[b'a'; 125]), Instant::now());
    assert_eq!(
        events(&mut srv),
        vec![Event::Ping(Bytes::from(vec![b'a'; 125]))]
    );
    // Our own control frames obey the same limit.
    assert!(srv.ping(vec![0u8; 126]).is_err());
    assert!(srv.close(1000, &"r".repeat(124), Instant::now()).is_err());
    assert!(srv.close(1005, "", Instant::now()).is_err());
    assert_eq!(drain(&mut srv).0, s(0x8A, &[b'a'; 125]));
}

// ---- fragmentation --------------------------------------------------------------------

#[test]
fn fragments_reassemble_with_interleaved_control_frames() {
    let wire = cat(&[
        c(0x01, b"Hel"),
        c(0x89, b"ping"),
        c(0x00, b""),
        c(0x8A, b"pong"),
        c(0x80, b"lo"),
        c(0x02, &[1, 2]),
        c(0x89, b""),
        c(0x80, &[3]),
    ]);
    let out = at_every_split(
        || server(Options::default()),
        &wire,
        &[
            Event::Ping(Bytes::from_static(b"ping")),
            Event::Pong(Bytes::from_static(b"pong")),
            text("Hello"),
            Event::Ping(Bytes::new()),
            Event::Message(Message::binary(vec![1, 2, 3])),
        ],
    );
    // Both pings came before any output was taken: only the newer one is
    // answered (RFC 6455 section 5.5.3).
    assert_eq!(out, s(0x8A, b""));
}

#[test]
fn continuation_without_a_message_is_1002() {
    fails_with(&mut server(Options::default()), &c(0x80, b"x"), 1002);
    fails_with(&mut server(Options::default()), &c(0x00, b"x"), 1002);
    // After a message completes, a continuation is again out of place.
    let wire = cat(&[c(0x01, b"a"), c(0x80, b"b"), c(0x80, b"c")]);
    let mut srv = server(Options::default());
    srv.receive(&wire, Instant::now());
    let evs = events(&mut srv);
    assert_eq!(evs[0], text("ab"));
    assert!(
        matches!(&evs[1], Event::Error(e) if e.close_code() == Some(CloseCode::PROTOCOL_ERROR))
    );
}

#[test]
fn new_data_frame_inside_a_fragmented_message_is_1002() {
    for op in [0x81u8, 0x82, 0x01, 0x02] {
        let wire = cat(&[c(0x01, b"a"), c(op, b"b")]);
        fails_with(&mut server(Options::default()), &wire, 1002);
    }
}

// ---- UTF-8 --------------------------------------------------------------------------

#[test]
fn invalid_utf8_fails_fast_mid_message() {
    // The final fragment never arrives: the error does not wait for it.
    let mut srv = server(Options::default());
    let kind = fails_with(&mut srv, &c(0x01, b"ok\xff"), 1007);
    assert_eq!(kind, ErrorKind::InvalidUtf8);
    // Inside one frame whose payload has not fully arrived.
    let payload = [b"abc\xc0\xaf".as_slice(), &[b'x'; 1000]].concat();
    let wire = c(0x81, &payload);
    fails_with(&mut server(Options::default()), &wire[..20], 1007);
    // A code point that can never be valid fails at its second byte.
    let wire = c(0x81, b"\xf4\x90\x80\x80");
    fails_with(&mut server(Options::default()), &wire[..6 + 2], 1007);
    // From server to client too.
    fails_with(
        &mut client(Options::default()),
        &s(0x81, b"\xed\xa0\x80"),
        1007,
    );
}

#[test]
fn code_points_split_across_fragments_are_valid() {
    let euro = "€".as_bytes(); // e2 82 ac
    let pile = "𝄞".as_bytes(); // f0 9d 84 9e
    let wire = cat(&[
        c(0x01, &[b"a", &euro[..1]].concat()),
        c(0x00, &euro[1..2]),
        c(0x89, b""),
        c(0x00, &[&euro[2..], &pile[..3]].concat()),
        c(0x80, &[&pile[3..], b"z"].concat()),
    ]);
    at_every_split(
        || server(Options::default()),
        &wire,
        &[Event::Ping(Bytes::new()), text("a€𝄞z")],
    );
}

#[test]
fn split_code_point_that_goes_wrong_or_stops_short_is_1007() {
    let wire = cat(&[c(0x01, b"\xe2\x82"), c(0x80, b"A")]);
    fails_with(&mut server(Options::default()), &wire, 1007);
    let wire = cat(&[c(0x01, b"a"), c(0x80, b"\xe2\x82")]);
    fails_with(&mut server(Options::default()), &wire, 1007);
    fails_with(
        &mut server(Options::default()),
        &c(0x81, b"\xf0\x9f\x98"),
        1007,
    );
    // Binary is not validated.
    let mut srv = server(Options::default());
    srv.receive(&c(0x82, b"\xff\xfe"), Instant::now());
    assert_eq!(
        events(&mut srv),
        vec![Event::Message(Message::binary(vec![0xff, 0xfe]))]
    );
}

// ---- close ------------------------------------------------------------------------

#[test]
fn empty_close_is_echoed_empty() {
    let mut srv = server(Options::default());
    srv.receive(&c(0x88, b""), Instant::now());
    assert_eq!(
        events(&mut srv),
        vec![Event::Close(CloseFrame::new(CloseCode::NO_STATUS, ""))]
    );
    assert_eq!(drain(&mut srv), (vec![0x88, 0x00], true));
}

#[test]
fn close_payload_rules() {
    fails_with(&mut server(Options::default()), &c(0x88, &[0x03]), 1002);
    for code in [
        0u16, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        let kind = fails_with(
            &mut server(Options::default()),
            &c(0x88, &code.to_be_bytes()),
            1002,
        );
        assert!(matches!(kind, ErrorKind::Protocol(_)), "{code}");
    }
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ] {
        let mut srv = server(Options::default());
        let payload = [&code.to_be_bytes()[..], "ünïcode".as_bytes()].concat();
        srv.receive(&c(0x88, &payload), Instant::now());
        assert_eq!(
            events(&mut srv),
            vec![Event::Close(CloseFrame::new(code, "ünïcode"))],
            "{code}"
        );
        assert_eq!(drain(&mut srv), (s(0x88, &payload), true), "{code}");
    }
    let kind = fails_with(
        &mut server(Options::default()),
        &c(0x88, b"\x03\xe8bad \xff reason"),
        1007,
    );
    assert_eq!(kind, ErrorKind::InvalidUtf8);
}

#[test]
fn close_is_echoed_once_and_nothing_follows() {
    let mut srv = server(Options::default());
    let wire = cat(&[
        c(0x88, b"\x03\xe8"),
        c(0x88, b"\x03\xe9"),
        c(0x89, b"late ping"),
        c(0x81, b"late text"),
    ]);
    srv.receive(&wire, Instant::now());
    assert_eq!(
        events(&mut srv),
        vec![Event::Close(CloseFrame::new(1000, ""))]
    );
    assert_eq!(drain(&mut srv), (s(0x88, b"\x03\xe8"), true));
    assert!(srv.text("x").unwrap_err().is_closed());
    assert!(srv.ping(&b""[..]).unwrap_err().is_closed());
    srv.close(1000, "again", Instant::now()).unwrap();
    srv.receive(&c(0x89, b"more"), Instant::now());
    assert_eq!(drain(&mut srv), (vec![], false));
    assert_eq!(events(&mut srv), vec![]);
    assert!(srv.is_finished());
}

#[test]
fn server_shuts_the_transport_once_the_closing_handshake_completes() {
    // Client starts: the server echoes and shuts at once.
    let mut srv = server(Options::default());
    srv.receive(&c(0x88, b"\x03\xe8"), Instant::now());
    assert!(drain(&mut srv).1);
    // Server starts: it shuts only when the client's close arrives.
    let mut srv = server(Options::default());
    srv.close(1001, "going", Instant::now()).unwrap();
    assert_eq!(srv.ready_state(), ReadyState::Closing);
    assert_eq!(drain(&mut srv), (s(0x88, b"\x03\xe9going"), false));
    srv.receive(&c(0x81, b"still arriving"), Instant::now());
    assert_eq!(events(&mut srv), vec![text("still arriving")]);
    srv.receive(&c(0x89, b"ping"), Instant::now());
    assert_eq!(
        events(&mut srv),
        vec![Event::Ping(Bytes::from_static(b"ping"))]
    );
    assert_eq!(drain(&mut srv), (vec![], false), "no pong after our close");
    srv.receive(&c(0x88, b"\x03\xe9"), Instant::now());
    assert_eq!(
        events(&mut srv),
        vec![Event::Close(CloseFrame::new(1001, ""))]
    );
    assert_eq!(drain(&mut srv), (vec![], true), "no second close frame");
    assert_eq!(srv.ready_state(), ReadyState::Closed);
}

#[test]
fn client_shuts_the_transport_only_after_eof_or_the_close_timeout() {
    let t0 = Instant::now();
    // Server starts; the client echoes and waits for the server to close TCP.
    let mut cli = client(Options::default());
    cli.receive(&s(0x88, b"\x03\xe8bye"), Instant::now());
    assert_eq!(
        events(&mut cli),
        vec![Event::Close(CloseFrame::new(1000, "bye"))]
    );
    let (out, shutdown) = drain(&mut cli);
    assert!(!shutdown);
    let echo = parse_frames(&out);
    assert_eq!(echo[0].first, 0x88);
    assert_eq!(echo[0].payload, b"\x03\xe8bye");
    cli.handle_timeout(t0);
    assert_eq!(drain(&mut cli), (vec![], false));
    cli.receive_eof(Instant::now());
    assert_eq!(drain(&mut cli), (vec![], true));
    assert_eq!(events(&mut cli), vec![], "one close event only");

    // The same, with a server that never closes TCP: the close timeout ends it.
    let mut cli = client(Options::default().close_timeout(Duration::from_secs(2)));
    let t0 = Instant::now();
    cli.receive(&s(0x88, b""), t0);
    events(&mut cli);
    drain(&mut cli);
    // Armed by the input itself: no handle_timeout needed.
    let deadline = cli.poll_timeout().expect("armed");
    assert_eq!(deadline, t0 + Duration::from_secs(2));
    cli.handle_timeout(t0 + Duration::from_millis(1999));
    assert_eq!(drain(&mut cli), (vec![], false));
    cli.handle_timeout(deadline);
    assert_eq!(drain(&mut cli), (vec![], true));

    // Client starts: the server's echo does not shut the transport either.
    let mut cli = client(Options::default());
    cli.close(1000, "done", Instant::now()).unwrap();
    let (out, shutdown) = drain(&mut cli);
    assert!(!shutdown);
    assert_eq!(parse_frames(&out)[0].payload, b"\x03\xe8done");
    cli.receive(&s(0x88, b"\x03\xe8done"), Instant::now());
    assert_eq!(
        events(&mut cli),
        vec![Event::Close(CloseFrame::new(1000, "done"))]
    );
    assert_eq!(drain(&mut cli), (vec![], false), "no echo of an echo");
    cli.receive_eof(Instant::now());
    assert_eq!(drain(&mut cli), (vec![], true));
}

// ---- ping / pong ---------------------------------------------------------------------

#[test]
fn ping_gets_a_pong_with_the_same_payload() {
    for payload in [&b""[..], b"x", &[0xFFu8; 125]] {
        let out = at_every_split(
            || server(Options::default()),
            &c(0x89, payload),
            &[Event::Ping(Bytes::copy_from_slice(payload))],
        );
        assert_eq!(out, s(0x8A, payload));
    }
}

#[test]
fn unsolicited_pong_is_ignored() {
    let mut srv = server(Options::default());
    srv.receive(&c(0x8A, b"who asked"), Instant::now());
    assert_eq!(
        events(&mut srv),
        vec![Event::Pong(Bytes::from_static(b"who asked"))]
    );
    assert_eq!(drain(&mut srv), (vec![], false));
    assert_eq!(srv.ready_state(), ReadyState::Open);
    srv.receive(&c(0x81, b"still open"), Instant::now());
    assert_eq!(events(&mut srv), vec![text("still open")]);
}

// ---- limits --------------------------------------------------------------------------

#[test]
fn max_frame_size_is_1009_from_the_header_alone() {
    let options = Options::default().max_frame_size(100);
    let mut srv = server(options.clone());
    srv.receive(&c(0x82, &[0; 100]), Instant::now());
    assert_eq!(events(&mut srv).len(), 1);
    let wire = c(0x82, &[0; 101]);
    // Only the header is needed to refuse it.
    let kind = fails_with(&mut server(options.clone()), &wire[..8], 1009);
    assert_eq!(kind, ErrorKind::TooBig);
    // A huge declared length is refused without reading (or allocating) it.
    let mut wire = vec![0x82, 0xFF];
    wire.extend_from_slice(&(1u64 << 40).to_be_bytes());
    wire.extend_from_slice(&KEY);
    let mut srv = server(Options::default());
    fails_with(&mut srv, &wire, 1009);
    assert!(srv.input_capacity() < 1 << 20);
    fails_with(&mut client(options), &s(0x81, &[b'a'; 101]), 1009);
}

#[test]
fn max_message_size_is_1009_including_many_small_fragments() {
    let options = Options::default().max_message_size(10);
    let mut srv = server(options.clone());
    srv.receive(&c(0x82, &[0; 10]), Instant::now());
    assert_eq!(events(&mut srv).len(), 1);
    fails_with(&mut server(options.clone()), &c(0x82, &[0; 11]), 1009);
    // Ten one-byte fragments fit, the eleventh does not.
    let mut wire = c(0x02, b"a");
    for _ in 0..9 {
        wire.extend(c(0x00, b"a"));
    }
    let mut ok = wire.clone();
    ok.extend(c(0x80, b""));
    let mut srv = server(options.clone());
    srv.receive(&ok, Instant::now());
    assert_eq!(
        events(&mut srv),
        vec![Event::Message(Message::binary(vec![b'a'; 10]))]
    );
    wire.extend(c(0x00, b"a"));
    let mut srv = server(options.clone());
    let kind = fails_with(&mut srv, &wire, 1009);
    assert_eq!(kind, ErrorKind::TooBig);
    // Control frames in between do not count.
    let mut wire = c(0x01, b"aaaaa");
    wire.extend(c(0x89, &[b'p'; 125]));
    wire.extend(c(0x80, b"aaaaa"));
    let mut srv = server(options);
    srv.receive(&wire, Instant::now());
    assert_eq!(events(&mut srv).last(), Some(&text("aaaaaaaaaa")));
}

// ---- hixie -----------------------------------------------------------------------------

#[test]
fn hixie_text_frames() {
    for hixie76 in [false, true] {
        let wire = b"\x00hello\xff\x00\xff\x00caf\xc3\xa9\xff";
        at_every_split(
            || hixie(hixie76, Options::default()),
            wire,
            &[text("hello"), text(""), text("café")],
        );
        let mut d = hixie(hixie76, Options::default());
        d.text("héllo").unwrap();
        assert_eq!(drain(&mut d).0, b"\x00h\xc3\xa9llo\xff");
    }
}

#[test]
fn hixie_length_prefixed_and_sentinel_frames_are_skipped() {
    for hixie76 in [false, true] {
        let mut wire = b"\x80\x03abc".to_vec();
        // Two length digits: 1 * 128 + 1 = 129 bytes.
        wire.extend_from_slice(b"\x80\x81\x01");
        wire.extend_from_slice(&[0xAB; 129]);
        wire.extend_from_slice(b"\x00hi\xff");
        // A sentinel frame of another type, read to its 0xFF and dropped.
        wire.extend_from_slice(b"\x05dropped\xff\x00there\xff");
        at_every_split(
            || hixie(hixie76, Options::default()),
            &wire,
            &[text("hi"), text("there")],
        );
    }
}

#[test]
fn hixie76_closes_with_ff_00() {
    // The peer closes: we answer 0xFF 0x00 and shut.
    let mut d = hixie(true, Options::default());
    d.receive(b"\x00bye\xff\xff\x00\x00ignored\xff", Instant::now());
    assert_eq!(
        events(&mut d),
        vec![text("bye"), Event::Close(CloseFrame::new(1000, ""))]
    );
    assert_eq!(drain(&mut d), (vec![0xFF, 0x00], true));
    // We close: 0xFF 0x00 and shut.
    let mut d = hixie(true, Options::default());
    d.close(1000, "", Instant::now()).unwrap();
    assert_eq!(drain(&mut d), (vec![0xFF, 0x00], true));
    assert!(d.text("x").unwrap_err().is_closed());
}

#[test]
fn hixie75_has_no_closing_handshake() {
    // 0xFF 0x00 is only an empty length-prefixed frame in hixie-75.
    let mut d = hixie(false, Options::default());
    d.receive(b"\xff\x00\x00still here\xff", Instant::now());
    assert_eq!(events(&mut d), vec![text("still here")]);
    assert_eq!(drain(&mut d), (vec![], false));
    // close() ends the connection at once, with nothing on the wire.
    d.close(1000, "", Instant::now()).unwrap();
    assert_eq!(drain(&mut d), (vec![], true));
    assert_eq!(
        events(&mut d),
        vec![Event::Close(CloseFrame::new(1000, ""))]
    );
    // The end of the stream is a normal close.
    let mut d = hixie(false, Options::default());
    d.receive_eof(Instant::now());
    assert_eq!(
        events(&mut d),
        vec![Event::Close(CloseFrame::new(1000, ""))]
    );
    assert_eq!(drain(&mut d), (vec![], true));
}

#[test]
fn hixie_binary_and_ping_are_unsupported() {
    for hixie76 in [false, true] {
        let mut d = hixie(hixie76, Options::default());
        assert!(matches!(
            d.binary(vec![1]).unwrap_err().kind(),
            ErrorKind::Unsupported(_)
        ));
        assert!(matches!(
            d.ping(&b""[..]).unwrap_err().kind(),
            ErrorKind::Unsupported(_)
        ));
        assert_eq!(d.ready_state(), ReadyState::Open);
        assert_eq!(drain(&mut d), (vec![], false));
    }
}

#[test]
fn hixie_invalid_utf8_closes() {
    let mut d = hixie(true, Options::default());
    d.receive(b"\x00\xc0\xaf\xff", Instant::now());
    let evs = events(&mut d);
    assert!(matches!(&evs[0], Event::Error(e) if e.kind() == &ErrorKind::InvalidUtf8));
    assert_eq!(
        evs[1],
        Event::Close(CloseFrame::new(1007, "text is not valid UTF-8"))
    );
    assert_eq!(drain(&mut d), (vec![0xFF, 0x00], true));
}

fn hixie_too_big(d: &mut Driver, wire: &[u8]) {
    d.receive(wire, Instant::now());
    let evs = events(d);
    assert!(
        matches!(&evs[..], [Event::Error(e), Event::Close(f)]
            if e.kind() == &ErrorKind::TooBig && f.code == CloseCode::TOO_BIG),
        "{evs:?}"
    );
    assert!(drain(d).1);
    assert!(d.input_capacity() <= 4096, "{}", d.input_capacity());
}

#[test]
fn hixie_lengths_are_bound_by_the_max_message_size() {
    for hixie76 in [false, true] {
        let options = Options::default().max_message_size(1000);
        // A length prefix over the limit fails on its digits, before any payload.
        let mut d = hixie(hixie76, options.clone());
        hixie_too_big(&mut d, b"\x80\x87\x69"); // 7 * 128 + 105 = 1001
                                                // Exactly at the limit is skipped.
        let mut d = hixie(hixie76, options.clone());
        let mut wire = b"\x80\x87\x68".to_vec(); // 1000
        wire.extend_from_slice(&[0; 1000]);
        wire.extend_from_slice(b"\x00ok\xff");
        d.receive(&wire, Instant::now());
        assert_eq!(events(&mut d), vec![text("ok")]);
        // A text run with no end fails once it passes the limit.
        let mut d = hixie(hixie76, options.clone());
        d.receive(b"\x00", Instant::now());
        for _ in 0..10 {
            d.receive(&[b'a'; 100], Instant::now());
        }
        assert_eq!(events(&mut d), vec![], "1000 bytes are allowed");
        hixie_too_big(&mut d, b"a");
        // Huge prefixes: many 0xFF digits cannot overflow.
        for kind in [0x80u8, 0xFF] {
            let mut d = hixie(hixie76, options.clone());
            let mut wire = vec![kind];
            wire.extend_from_slice(&[0xFF; 64]);
            hixie_too_big(&mut d, &wire);
            let mut d = hixie(hixie76, Options::default());
            let mut wire = vec![kind];
            wire.extend_from_slice(&[0xFF; 4096]);
            hixie_too_big(&mut d, &wire);
        }
    }
}

#[test]
fn hixie_length_prefix_cannot_overflow_even_without_a_limit() {
    // With no practical limit the digits overflow usize before passing it:
    // checked arithmetic turns that into the same error.
    let mut d = hixie(true, Options::default().max_message_size(usize::MAX));
    let mut wire = vec![0x80];
    wire.extend_from_slice(&[0xFF; 20]);
    hixie_too_big(&mut d, &wire);
    // And a 64-bit hybi length near the top is refused, not allocated.
    let mut d = server(
        Options::default()
            .max_frame_size(usize::MAX)
            .max_message_size(usize::MAX),
    );
    let mut wire = vec![0x82, 0xFF];
    wire.extend_from_slice(&(u64::MAX >> 1).to_be_bytes());
    wire.extend_from_slice(&KEY);
    wire.extend_from_slice(b"some payload");
    d.receive(&wire, Instant::now());
    assert!(d.input_capacity() < 1 << 20);
    assert_eq!(
        d.ready_state(),
        ReadyState::Open,
        "waits for the rest of the frame"
    );
}

#[test]
fn input_chunk_and_commit_feed_the_driver_in_place() {
    let mut d = server(Options::default());
    let wire = c(0x81, b"Hello");
    for piece in wire.chunks(3) {
        let chunk = d.input_chunk(piece.len());
        assert_eq!(chunk.len(), piece.len());
        chunk.copy_from_slice(piece);
        d.commit(piece.len(), Instant::now());
    }
    assert_eq!(events(&mut d), vec![text("Hello")]);
    // A small read is offered when no frame is in flight, at most `max`.
    assert_eq!(d.input_chunk(100_000).len(), 8 << 10);
    assert_eq!(d.input_chunk(5).len(), 5);
    // While a payload is being read, the chunk is the rest of that frame.
    let big = c(0x82, &vec![7; 100_000]);
    let chunk = d.input_chunk(14);
    chunk.copy_from_slice(&big[..14]);
    d.commit(14, Instant::now());
    assert_eq!(d.read_hint(), 100_000);
    assert_eq!(d.input_chunk(usize::MAX).len(), d.read_hint());
}

#[test]
fn committing_bytes_never_written_is_harmless() {
    // A caller that commits without writing feeds the chunk's bytes as they
    // were (zeros the first time): garbage in, a protocol error out, never
    // uninitialized memory or a panic.
    let mut d = server(Options::default());
    d.input_chunk(2);
    d.commit(2, Instant::now());
    let events = events(&mut d);
    assert!(
        matches!(events.last(), Some(Event::Close(f)) if f.code == CloseCode::PROTOCOL_ERROR),
        "{events:?}"
    );
}

#[test]
#[should_panic(expected = "larger than the chunk")]
fn committing_more_than_the_chunk_panics() {
    let mut d = server(Options::default());
    let n = d.input_chunk(4).len();
    d.commit(n + 1, Instant::now());
}
