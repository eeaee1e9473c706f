//! Messages sent in fragments through the core, byte for byte: the frames, the
//! misuse rules (each an `Err` that leaves the connection usable), text
//! validated across pieces, close and abort mid-message, permessage-deflate
//! across fragments, hixie.

mod core_support;

use core_support::*;
use std::time::Instant;
use websocket_protocol::protocol::{
    CloseCode, CloseFrame, Driver, ErrorKind, Event, Message, MessageKind, Options, PreparedMessage,
};

/// `options` without permessage-deflate (which servers accept by default).
fn no_deflate(options: Options) -> Options {
    #[cfg(feature = "deflate")]
    let options = options.deflate(None);
    options
}

fn now() -> Instant {
    Instant::now()
}

#[test]
fn a_binary_message_in_three_frames_with_a_ping_between() {
    let mut d = open_server(Options::default());
    let mut m = d.start_message(MessageKind::Binary).unwrap();
    assert_eq!(d.sending_message(), Some(MessageKind::Binary));
    // Nothing is queued before the first piece, nor for an empty one.
    d.send_fragment(&mut m, &b""[..]).unwrap();
    assert_eq!(d.buffered_amount(), 0);
    d.send_fragment(&mut m, &b"ab"[..]).unwrap();
    d.ping(&b"p"[..]).unwrap();
    d.send_fragment(&mut m, &b"cd"[..]).unwrap();
    d.finish_message(m, &b"ef"[..]).unwrap();
    assert_eq!(d.sending_message(), None);
    assert_eq!(
        drain(&mut d).0,
        cat(&[
            s(0x02, b"ab"), // binary, no FIN
            s(0x89, b"p"),  // the ping, between fragments
            s(0x00, b"cd"), // continuation
            s(0x80, b"ef"), // continuation, FIN
        ])
    );
    // The connection goes on as before.
    d.text("next").unwrap();
    assert_eq!(drain(&mut d).0, s(0x81, b"next"));
}

#[test]
fn finishing_with_nothing_sends_an_empty_final_frame() {
    let mut d = open_server(Options::default());
    let mut m = d.start_message(MessageKind::Text).unwrap();
    d.send_fragment(&mut m, &b"hello"[..]).unwrap();
    d.finish_message(m, &b""[..]).unwrap();
    assert_eq!(drain(&mut d).0, cat(&[s(0x01, b"hello"), s(0x80, b"")]));
    // A message finished in its first frame is an ordinary one.
    let m = d.start_message(MessageKind::Binary).unwrap();
    d.finish_message(m, &b"whole"[..]).unwrap();
    assert_eq!(drain(&mut d).0, s(0x82, b"whole"));
    let m = d.start_message(MessageKind::Text).unwrap();
    d.finish_message(m, &b""[..]).unwrap();
    assert_eq!(drain(&mut d).0, s(0x81, b""));
}

#[test]
fn another_data_message_while_one_is_open_is_refused_and_harmless() {
    let mut d = open_server(Options::default());
    let mut m = d.start_message(MessageKind::Binary).unwrap();
    d.send_fragment(&mut m, &b"12"[..]).unwrap();
    let kind = |r: Result<(), websocket_protocol::protocol::Error>| r.unwrap_err().kind();
    assert_eq!(kind(d.text("no")), ErrorKind::MessageInProgress);
    assert_eq!(kind(d.binary(&b"no"[..])), ErrorKind::MessageInProgress);
    assert_eq!(
        kind(d.send_prepared(&PreparedMessage::text("no"))),
        ErrorKind::MessageInProgress
    );
    let err = d.start_message(MessageKind::Text).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MessageInProgress);
    assert!(err.is_invalid_input());
    // Control frames go between fragments.
    d.ping(&b""[..]).unwrap();
    d.finish_message(m, &b"34"[..]).unwrap();
    d.text("after").unwrap();
    assert_eq!(
        drain(&mut d).0,
        cat(&[
            s(0x02, b"12"),
            s(0x89, b""),
            s(0x80, b"34"),
            s(0x81, b"after")
        ])
    );
    assert_eq!(
        d.state(),
        websocket_protocol::protocol::ConnectionState::Open
    );
}

#[test]
fn a_token_of_another_connection_is_refused() {
    let mut a = open_server(Options::default());
    let mut b = open_server(Options::default());
    let mut theirs = b.start_message(MessageKind::Binary).unwrap();
    let ours = a.start_message(MessageKind::Binary).unwrap();
    let err = a.send_fragment(&mut theirs, &b"x"[..]).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidFragment(_)));
    assert_eq!(drain(&mut a).0, b"");
    a.finish_message(ours, &b"x"[..]).unwrap();
    assert_eq!(drain(&mut a).0, s(0x82, b"x"));
}

#[test]
fn text_is_validated_across_pieces_and_a_bad_piece_leaves_the_message_open() {
    let mut d = open_server(Options::default());
    let mut m = d.start_message(MessageKind::Text).unwrap();
    let euro = "€".as_bytes(); // e2 82 ac
    d.send_fragment(&mut m, &euro[..1]).unwrap();
    // An impossible continuation: refused, nothing queued for it.
    let before = d.buffered_amount();
    let err = d.send_fragment(&mut m, &b"\xff"[..]).unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::InvalidFragment("the text is not valid UTF-8")
    );
    assert_eq!(d.buffered_amount(), before);
    d.send_fragment(&mut m, &euro[1..2]).unwrap();
    // Ending inside the code point: refused, and the message comes back.
    let unfinished = d.finish_message(m, &b""[..]).unwrap_err();
    assert_eq!(
        unfinished.error().kind(),
        ErrorKind::InvalidFragment("the text ends inside a code point")
    );
    let (m, _) = unfinished.into_parts();
    d.finish_message(m, &euro[2..]).unwrap();
    let wire = drain(&mut d).0;
    assert_eq!(
        wire,
        cat(&[
            s(0x01, &euro[..1]),
            s(0x00, &euro[1..2]),
            s(0x80, &euro[2..])
        ])
    );
    // And the peer's decoder takes the three frames as one valid message.
    let mut peer = Driver::client("ws://example.com/", Options::default()).unwrap();
    open_client_for(&mut peer);
    peer.receive(&wire, now());
    assert_eq!(events(&mut peer), vec![Event::Message(Message::text("€"))]);
}

/// Opens a client driver with a hand-written server response.
fn open_client_for(d: &mut Driver) {
    d.start(now());
    let request = drain(d).0;
    let mut server = Driver::server_from_bytes(&request, no_deflate(Options::default()))
        .unwrap()
        .unwrap();
    server.start(now());
    d.receive(&drain(&mut server).0, now());
    assert_eq!(events(d), vec![Event::Open]);
}

#[test]
fn close_while_open_ends_everything() {
    let mut d = open_server(Options::default());
    let mut m = d.start_message(MessageKind::Binary).unwrap();
    d.send_fragment(&mut m, &b"part"[..]).unwrap();
    d.close(CloseCode::NORMAL, "bye", now()).unwrap();
    assert_eq!(d.sending_message(), None);
    let err = d.send_fragment(&mut m, &b"more"[..]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    let unfinished = d.finish_message(m, &b""[..]).unwrap_err();
    assert_eq!(unfinished.error().kind(), ErrorKind::Closed);
    let mut close = vec![0x03, 0xe8];
    close.extend_from_slice(b"bye");
    assert_eq!(drain(&mut d).0, cat(&[s(0x02, b"part"), s(0x88, &close)]));
}

#[test]
fn the_peer_closing_mid_message_ends_it_too() {
    let mut d = open_server(Options::default());
    let mut m = d.start_message(MessageKind::Binary).unwrap();
    d.send_fragment(&mut m, &b"part"[..]).unwrap();
    d.receive(&c(0x88, &[0x03, 0xe8]), now());
    let evs = events(&mut d);
    assert_eq!(
        evs,
        vec![Event::Close(CloseFrame::new(CloseCode::NORMAL, ""))]
    );
    assert_eq!(
        d.send_fragment(&mut m, &b"x"[..]).unwrap_err().kind(),
        ErrorKind::Closed
    );
    assert_eq!(
        drain(&mut d).0,
        cat(&[s(0x02, b"part"), s(0x88, &[0x03, 0xe8])])
    );
}

#[test]
fn abort_fails_the_connection_with_1011_between_fragments() {
    let mut d = open_server(Options::default());
    let mut m = d.start_message(MessageKind::Text).unwrap();
    d.send_fragment(&mut m, &b"half a"[..]).unwrap();
    d.abort_message(m, now());
    let (wire, shutdown) = drain(&mut d);
    let reason = "a message sent in fragments was abandoned before its end";
    let mut close = vec![0x03, 0xf3];
    close.extend_from_slice(reason.as_bytes());
    assert_eq!(wire, cat(&[s(0x01, b"half a"), s(0x88, &close)]));
    assert!(shutdown);
    let evs = events(&mut d);
    assert!(
        matches!(&evs[0], Event::Error(e) if e.kind() == ErrorKind::MessageAbandoned),
        "{evs:?}"
    );
    assert!(
        matches!(&evs[1], Event::Close(f) if f.code == CloseCode::INTERNAL_ERROR),
        "{evs:?}"
    );
    // What the peer sees: the close, never the message.
    let mut peer = Driver::client("ws://example.com/", Options::default()).unwrap();
    open_client_for(&mut peer);
    peer.receive(&wire, now());
    let evs = events(&mut peer);
    assert!(
        matches!(&evs[..], [Event::Close(f)] if f.code == CloseCode::INTERNAL_ERROR),
        "{evs:?}"
    );
}

#[test]
fn client_fragments_are_masked_each_with_its_own_key_and_seeded() {
    let run = || {
        let mut d = Driver::client("ws://example.com/", Options::default().rng_seed(7)).unwrap();
        open_client_for(&mut d);
        let mut m = d.start_message(MessageKind::Binary).unwrap();
        d.send_fragment(&mut m, vec![1u8; 300]).unwrap();
        d.ping(&b"p"[..]).unwrap();
        d.finish_message(m, &b"end"[..]).unwrap();
        drain(&mut d).0
    };
    let wire = run();
    assert_eq!(wire, run(), "the seed fixes the bytes");
    // Byte for byte: the same seed gives the same mask keys, one per frame,
    // in order, so a client sending the frames as whole messages shows them.
    let keys: Vec<[u8; 4]> = {
        let mut d = Driver::client("ws://example.com/", Options::default().rng_seed(7)).unwrap();
        open_client_for(&mut d);
        d.binary(vec![1u8; 300]).unwrap();
        d.ping(&b"p"[..]).unwrap();
        d.binary(&b"end"[..]).unwrap();
        parse_frames(&drain(&mut d).0)
            .iter()
            .map(|f| f.mask.unwrap())
            .collect()
    };
    assert_eq!(
        wire,
        cat(&[
            frame(0x02, &[1u8; 300], Some(keys[0])),
            frame(0x89, b"p", Some(keys[1])),
            frame(0x80, b"end", Some(keys[2])),
        ])
    );
    let frames = parse_frames(&wire);
    assert_eq!(
        frames.iter().map(|f| f.first).collect::<Vec<_>>(),
        [0x02, 0x89, 0x80]
    );
    assert_eq!(frames[0].payload, vec![1u8; 300]);
    assert_eq!(frames[2].payload, b"end");
    assert!(frames.iter().all(|f| f.mask.is_some()));
    assert_ne!(frames[0].mask, frames[2].mask);
    // The server reassembles it.
    let mut server = open_server(Options::default());
    server.receive(&wire, now());
    let mut expected = vec![1u8; 300];
    expected.extend_from_slice(b"end");
    assert_eq!(
        events(&mut server),
        vec![
            Event::Ping(bytes::Bytes::from_static(b"p")),
            Event::Message(Message::binary(expected))
        ]
    );
}

#[test]
fn before_the_handshake_fragments_wait_with_the_messages() {
    let mut d = Driver::client("ws://example.com/", no_deflate(Options::default())).unwrap();
    d.start(now());
    let request = drain(&mut d).0;
    let mut m = d.start_message(MessageKind::Binary).unwrap();
    d.send_fragment(&mut m, &b"early"[..]).unwrap();
    let mut server = Driver::server_from_bytes(&request, Options::default())
        .unwrap()
        .unwrap();
    server.start(now());
    d.receive(&drain(&mut server).0, now());
    assert_eq!(events(&mut d), vec![Event::Open]);
    d.finish_message(m, &b" late"[..]).unwrap();
    server.receive(&drain(&mut d).0, now());
    assert_eq!(
        events(&mut server),
        vec![
            Event::Open,
            Event::Message(Message::binary(&b"early late"[..]))
        ]
    );
}

#[test]
fn hixie_refuses_streaming() {
    let req = http::Request::get("/demo")
        .header("Host", "example.com")
        .header("Upgrade", "WebSocket")
        .header("Connection", "Upgrade")
        .body(())
        .unwrap();
    let mut d = Driver::server(&req, Options::default().allow_drafts(true)).unwrap();
    d.start(now());
    drain(&mut d);
    let err = d.start_message(MessageKind::Text).unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Unsupported("messages sent in fragments")
    );
    d.text("still fine").unwrap();
    assert_eq!(drain(&mut d).0, b"\x00still fine\xff");
}

#[cfg(feature = "deflate")]
mod deflate {
    use super::*;
    use flate2::{Decompress, FlushDecompress};
    use websocket_protocol::protocol::DeflateConfig;

    /// A connected pair with deflate on both sides.
    fn pair(config: DeflateConfig) -> (Driver, Driver) {
        let mut c = Driver::client(
            "ws://localhost/",
            Options::default().deflate(config.clone()),
        )
        .unwrap();
        c.start(now());
        let request = drain(&mut c).0;
        let mut s = Driver::server_from_bytes(&request, Options::default().deflate(config))
            .unwrap()
            .unwrap();
        s.start(now());
        c.receive(&drain(&mut s).0, now());
        assert_eq!(events(&mut c), vec![Event::Open]);
        assert_eq!(events(&mut s), vec![Event::Open]);
        (c, s)
    }

    /// Inflates `data` into `out`, as a peer with its own zlib stream does.
    fn inflate(z: &mut Decompress, data: &[u8], out: &mut Vec<u8>) {
        let mut input = data;
        loop {
            out.reserve(64 << 10);
            let (before_in, before_out) = (z.total_in(), z.total_out());
            z.decompress_vec(input, out, FlushDecompress::Sync).unwrap();
            input = &input[(z.total_in() - before_in) as usize..];
            if input.is_empty() && z.total_out() == before_out {
                break;
            }
        }
    }

    fn pieces() -> Vec<Vec<u8>> {
        (0..5u32)
            .map(|i| {
                format!(
                    "piece {i}: {}",
                    "lorem ipsum dolor sit amet ".repeat(100 + i as usize)
                )
                .into_bytes()
            })
            .collect()
    }

    #[test]
    fn one_compressed_stream_across_frames_each_inflatable_as_it_comes() {
        for config in [
            DeflateConfig::default(),
            DeflateConfig::default().server_no_context_takeover(true),
        ] {
            let (mut c, mut s) = pair(config);
            let mut peer = Decompress::new(false);
            for round in 0..3 {
                if s.deflate_params().unwrap().server_no_context_takeover {
                    peer.reset(false);
                }
                let pieces = pieces();
                let mut m = s.start_message(MessageKind::Text).unwrap();
                let mut frames = Vec::new();
                for p in &pieces[..4] {
                    s.send_fragment(&mut m, p.clone()).unwrap();
                    frames.push(drain(&mut s).0);
                }
                s.finish_message(m, pieces[4].clone()).unwrap();
                frames.push(drain(&mut s).0);
                let parsed: Vec<Sent> = frames.iter().flat_map(|f| parse_frames(f)).collect();
                assert_eq!(
                    parsed.iter().map(|f| f.first).collect::<Vec<_>>(),
                    [0x41, 0x00, 0x00, 0x00, 0x80],
                    "RSV1 on the first frame only, round {round}"
                );
                // Each fragment inflates to its piece as soon as it arrives.
                for (i, f) in parsed.iter().enumerate() {
                    let mut out = Vec::new();
                    inflate(&mut peer, &f.payload, &mut out);
                    if i == 4 {
                        inflate(&mut peer, &[0, 0, 0xff, 0xff], &mut out);
                    }
                    assert_eq!(out, pieces[i], "round {round}, fragment {i}");
                }
                // The trailer is stripped once: only the last frame lacks it,
                // the others carry the one before them.
                assert!(!parsed[4].payload.ends_with(&[0, 0, 0xff, 0xff]));
                assert!(parsed[1].payload.starts_with(&[0, 0, 0xff, 0xff]));
                let total: usize = parsed.iter().map(|f| f.payload.len()).sum();
                assert!(total < pieces.concat().len() / 10, "{total} bytes");
                // Our own client decodes it, and a whole message after it.
                c.receive(&frames.concat(), now());
                s.text(String::from_utf8(pieces[0].clone()).unwrap())
                    .unwrap();
                let whole = drain(&mut s).0;
                let mut out = Vec::new();
                let p = parse_frames(&whole);
                inflate(&mut peer, &p[0].payload, &mut out);
                inflate(&mut peer, &[0, 0, 0xff, 0xff], &mut out);
                assert_eq!(out, pieces[0], "the context goes on after the stream");
                c.receive(&whole, now());
                let text = String::from_utf8(pieces.concat()).unwrap();
                assert_eq!(
                    events(&mut c),
                    vec![
                        Event::Message(Message::text(text)),
                        Event::Message(Message::text(
                            String::from_utf8(pieces[0].clone()).unwrap()
                        ))
                    ]
                );
            }
        }
    }

    #[test]
    fn streaming_compresses_as_well_as_a_whole_message() {
        let json: String = (0..20_000)
            .map(|i| {
                format!(
                    "{{\"id\": {i}, \"name\": \"user{}\", \"tags\": [\"a\", \"b\"]}},",
                    i % 97
                )
            })
            .collect();
        let data = json.as_bytes();
        let wire_bytes = |streamed: bool| {
            let (_, mut s) = pair(DeflateConfig::default());
            if streamed {
                let mut m = s.start_message(MessageKind::Text).unwrap();
                let mut chunks = data.chunks(64 << 10).peekable();
                while let Some(chunk) = chunks.next() {
                    if chunks.peek().is_some() {
                        s.send_fragment(&mut m, chunk.to_vec()).unwrap();
                    } else {
                        s.finish_message(m, chunk.to_vec()).unwrap();
                        break;
                    }
                }
            } else {
                s.text(json.clone()).unwrap();
            }
            drain(&mut s).0.len()
        };
        let (whole, streamed) = (wire_bytes(false), wire_bytes(true));
        eprintln!(
            "{} bytes: {whole} on the wire whole, {streamed} in 64 KiB fragments",
            data.len()
        );
        // Each fragment restarts the compressor on the window: a few bytes of
        // flush and header per fragment, and no loss of ratio.
        let fragments = data.len().div_ceil(64 << 10);
        assert!(
            streamed <= whole + whole / 50 + fragments * 16,
            "{streamed} against {whole}"
        );
    }

    #[test]
    fn edge_cases_empty_and_small_and_trailing_empty() {
        let (mut c, mut s) = pair(DeflateConfig::default());
        // A small message ending in its first frame: uncompressed, as a whole one.
        let m = s.start_message(MessageKind::Binary).unwrap();
        s.finish_message(m, &b"tiny"[..]).unwrap();
        assert_eq!(drain(&mut s).0, super::s(0x82, b"tiny"));
        // A compressed one ending with an empty frame: the trailer goes nowhere.
        let big = vec![b'z'; 5000];
        let mut m = s.start_message(MessageKind::Binary).unwrap();
        s.send_fragment(&mut m, big.clone()).unwrap();
        s.finish_message(m, &b""[..]).unwrap();
        let wire = drain(&mut s).0;
        let f = parse_frames(&wire);
        assert_eq!((f[0].first, f[1].first), (0x42, 0x80));
        assert!(f[1].payload.is_empty());
        // Client side, masked, and a second message referring back.
        let mut m = c.start_message(MessageKind::Binary).unwrap();
        c.send_fragment(&mut m, big.clone()).unwrap();
        c.send_fragment(&mut m, big.clone()).unwrap();
        c.finish_message(m, &b"!"[..]).unwrap();
        let mut expected = big.repeat(2);
        expected.push(b'!');
        s.receive(&drain(&mut c).0, now());
        c.receive(&wire, now());
        assert!(events(&mut c) == vec![Event::Message(Message::binary(big.clone()))]);
        assert!(events(&mut s) == vec![Event::Message(Message::binary(expected))]);
        // A control frame between compressed fragments passes uncompressed.
        let mut m = s.start_message(MessageKind::Binary).unwrap();
        s.send_fragment(&mut m, big.clone()).unwrap();
        s.ping(&b"p"[..]).unwrap();
        s.finish_message(m, big.clone()).unwrap();
        let f = parse_frames(&drain(&mut s).0);
        assert_eq!(
            f.iter().map(|f| f.first).collect::<Vec<_>>(),
            [0x42, 0x89, 0x80]
        );
        assert_eq!(f[1].payload, b"p");
    }
}
