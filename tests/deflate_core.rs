//! permessage-deflate through the core: negotiation, RFC 7692's example frames,
//! limits, and a client and a server driver talking compressed.
#![cfg(feature = "deflate")]

mod core_support;

use core_support::*;
use std::time::Instant;

use websocket_protocol::protocol::{
    CloseCode, DeflateConfig, DeflateParams, Driver, ErrorKind, Event, Message, Options,
};

/// A connected client/server pair with the given deflate settings on each side.
fn pair(
    client: Option<DeflateConfig>,
    server: Option<DeflateConfig>,
    server_opts: Options,
) -> (Driver, Driver) {
    let mut copts = Options::default();
    if let Some(c) = client {
        copts = copts.deflate(c);
    }
    let mut sopts = server_opts;
    if let Some(s) = server {
        sopts = sopts.deflate(s);
    }
    let mut c = Driver::client("ws://localhost/", copts).unwrap();
    c.start(Instant::now());
    let request = drain(&mut c).0;
    let mut s = Driver::server_from_bytes(&request, sopts).unwrap().unwrap();
    s.start(Instant::now());
    c.receive(&drain(&mut s).0, Instant::now());
    assert_eq!(events(&mut c), vec![Event::Open]);
    assert_eq!(events(&mut s), vec![Event::Open]);
    (c, s)
}

#[test]
fn negotiated_both_ways_and_messages_are_compressed() {
    let (mut c, mut s) = pair(
        Some(DeflateConfig::default()),
        Some(DeflateConfig::default()),
        Options::default(),
    );
    let expected = DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };
    assert_eq!(c.deflate_params(), Some(expected));
    assert_eq!(s.deflate_params(), Some(expected));
    let text = "{\"id\": 1, \"name\": \"websocket\", \"tags\": [\"a\", \"b\"]} ".repeat(200);
    for _ in 0..3 {
        s.text(text.clone()).unwrap();
        let wire = drain(&mut s).0;
        assert_eq!(wire[0], 0xC1, "FIN + RSV1 + text");
        assert!(
            wire.len() < text.len() / 10,
            "{} bytes on the wire",
            wire.len()
        );
        c.receive(&wire, Instant::now());
        assert_eq!(
            events(&mut c),
            vec![Event::Message(Message::text(text.clone()))]
        );
        c.binary(text.clone().into_bytes()).unwrap();
        let wire = drain(&mut c).0;
        assert_eq!(wire[0], 0xC2, "FIN + RSV1 + binary");
        s.receive(&wire, Instant::now());
        assert_eq!(
            events(&mut s),
            vec![Event::Message(Message::binary(text.clone().into_bytes()))]
        );
    }
    // Below the threshold a message goes uncompressed; control frames never are.
    s.text("hi").unwrap();
    s.ping(&b"p"[..]).unwrap();
    assert_eq!(drain(&mut s).0, [0x81, 0x02, b'h', b'i', 0x89, 0x01, b'p']);
}

#[test]
fn not_negotiated_unless_both_sides_enable_it() {
    let (c, s) = pair(Some(DeflateConfig::default()), None, Options::default());
    assert_eq!((c.deflate_params(), s.deflate_params()), (None, None));
    let (c, s) = pair(None, Some(DeflateConfig::default()), Options::default());
    assert_eq!((c.deflate_params(), s.deflate_params()), (None, None));
}

#[test]
fn rfc7692_example_frames_decode() {
    let (mut c, _) = pair(
        Some(DeflateConfig::default()),
        Some(DeflateConfig::default()),
        Options::default(),
    );
    // 7.2.3.1: "Hello" in one compressed frame, then in two fragments.
    c.receive(
        &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
        Instant::now(),
    );
    c.receive(
        &[
            0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
        ],
        Instant::now(),
    );
    // 7.2.3.2: the second message refers back into the shared window.
    c.receive(&[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00], Instant::now());
    // 7.2.3.3: a stored block.
    c.receive(
        &[
            0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ],
        Instant::now(),
    );
    let hello = Event::Message(Message::text("Hello"));
    assert_eq!(
        events(&mut c),
        vec![hello.clone(), hello.clone(), hello.clone(), hello]
    );
}

#[test]
fn rsv1_is_only_valid_on_the_first_frame_of_a_data_message() {
    for bad in [
        &[0xc9, 0x00][..],                         // ping with RSV1
        &[0x41, 0x01, b'a', 0xc0, 0x01, b'b'][..], // continuation with RSV1
    ] {
        let (mut c, _) = pair(
            Some(DeflateConfig::default()),
            Some(DeflateConfig::default()),
            Options::default(),
        );
        c.receive(bad, Instant::now());
        let ev = events(&mut c);
        assert!(
            matches!(&ev[0], Event::Error(e) if matches!(e.kind(), ErrorKind::Protocol(_))),
            "{ev:?}"
        );
        assert!(matches!(&ev[1], Event::Close(f) if f.code == CloseCode::PROTOCOL_ERROR));
    }
}

#[test]
fn a_deflate_bomb_closes_with_1009() {
    let limit = 1 << 20;
    let (mut c, mut s) = pair(
        Some(DeflateConfig::default()),
        Some(DeflateConfig::default()),
        Options::default().max_message_size(limit),
    );
    // 64 MiB of zeros deflates to about 64 KiB: small on the wire, far over the limit.
    c.binary(vec![0u8; 64 << 20]).unwrap();
    let wire = drain(&mut c).0;
    assert!(wire.len() < limit, "{}", wire.len());
    s.receive(&wire, Instant::now());
    let ev = events(&mut s);
    assert!(
        matches!(&ev[0], Event::Error(e) if e.kind() == &ErrorKind::TooBig),
        "{ev:?}"
    );
    assert!(matches!(&ev[1], Event::Close(f) if f.code == CloseCode::TOO_BIG));
    let close = drain(&mut s).0;
    assert_eq!(
        &close[..4],
        &[0x88, close[1], 0x03, 0xf1],
        "close frame with 1009"
    );
}

#[test]
fn invalid_utf8_inside_a_compressed_text_message_is_1007() {
    let (mut c, mut s) = pair(
        Some(DeflateConfig::default()),
        Some(DeflateConfig::default()),
        Options::default(),
    );
    // Compress invalid UTF-8 by sending it as binary, then flip the opcode to text.
    let mut payload = vec![b'a'; 100];
    payload.push(0xff);
    c.binary(payload).unwrap();
    let mut wire = drain(&mut c).0;
    wire[0] = 0xC1;
    s.receive(&wire, Instant::now());
    let ev = events(&mut s);
    assert!(
        matches!(&ev[1], Event::Close(f) if f.code == CloseCode::INVALID_PAYLOAD),
        "{ev:?}"
    );
}
