//! Messages read in pieces with `Driver::poll_chunk`: bytes in, chunks and
//! bytes out, no I/O. The payload comes out as it arrives, even the middle of
//! a frame; text in whole code points; the protocol's rules (1007, 1009,
//! pings between fragments, a close in the middle) as for whole messages.

mod core_support;

use core_support::*;
use std::time::Instant;
use websocket_protocol::protocol::{
    Chunk, CloseCode, CloseFrame, Driver, Event, MessageKind, Options,
};

/// What a reader of chunks sees, pieces joined per kind.
#[derive(Debug, Default)]
struct Seen {
    chunks: Vec<Chunk>,
    data: Vec<u8>,
    largest: usize,
}

/// Takes every chunk the driver has now.
fn take(d: &mut Driver, seen: &mut Seen) {
    while let Some(chunk) = d.poll_chunk() {
        match &chunk {
            Chunk::Text(t) => {
                assert!(!t.is_empty(), "empty piece");
                seen.data.extend_from_slice(t.as_bytes());
                seen.largest = seen.largest.max(t.len());
            }
            Chunk::Binary(b) => {
                assert!(!b.is_empty(), "empty piece");
                seen.data.extend_from_slice(b);
                seen.largest = seen.largest.max(b.len());
            }
            _ => {}
        }
        seen.chunks.push(chunk);
    }
}

/// Feeds `wire` in pieces of `step` bytes, taking chunks after each.
fn feed(d: &mut Driver, wire: &[u8], step: usize) -> Seen {
    let mut seen = Seen::default();
    for piece in wire.chunks(step) {
        d.receive(piece, Instant::now());
        take(d, &mut seen);
    }
    seen
}

/// The chunks without the pieces: starts, ends and events.
fn shape(seen: &Seen) -> Vec<Chunk> {
    seen.chunks
        .iter()
        .filter(|c| !matches!(c, Chunk::Text(_) | Chunk::Binary(_)))
        .cloned()
        .collect()
}

#[test]
fn a_large_frame_comes_out_as_it_arrives_without_being_buffered() {
    let payload: Vec<u8> = (0..4 << 20).map(|i| (i * 7 % 251) as u8).collect();
    let wire = c(0x82, &payload);
    let mut d = open_server(Options::default());
    let mut seen = Seen::default();
    let mut most_buffered = 0;
    for piece in wire.chunks(16 << 10) {
        d.receive(piece, Instant::now());
        take(&mut d, &mut seen);
        most_buffered = most_buffered.max(d.input_capacity());
        // Each read is handed out before the next: nothing of the frame stays.
        assert!(d.buffered_incoming() < 16, "{}", d.buffered_incoming());
    }
    assert_eq!(seen.data, payload);
    assert_eq!(
        shape(&seen),
        vec![Chunk::Start(MessageKind::Binary), Chunk::End]
    );
    // The input never held the 4 MiB frame, only reads of it.
    assert!(most_buffered <= 128 << 10, "{most_buffered}");
    // The driver asks for no more than a piece's worth at a time.
    assert_eq!(d.read_hint(), 0);
}

#[test]
fn the_read_hint_asks_for_a_piece_not_the_frame() {
    let payload = vec![1u8; 1 << 20];
    let wire = c(0x82, &payload);
    let mut d = open_server(Options::default());
    d.receive(&wire[..100], Instant::now());
    assert_eq!(d.poll_chunk(), Some(Chunk::Start(MessageKind::Binary)));
    assert!(matches!(d.poll_chunk(), Some(Chunk::Binary(_))));
    assert_eq!(d.read_hint(), 64 << 10);
    assert!(d.input_chunk(usize::MAX).len() <= 64 << 10);
}

#[test]
fn text_pieces_are_whole_code_points_at_every_split() {
    let text = "a€b𝄞cé".as_bytes();
    // Every way to cut it into three fragments, fed one byte at a time and
    // all at once.
    for a in 0..=text.len() {
        for b in a..=text.len() {
            let wire = cat(&[
                c(0x01, &text[..a]),
                c(0x00, &text[a..b]),
                c(0x80, &text[b..]),
            ]);
            for step in [1, 3, wire.len()] {
                let mut d = open_server(Options::default());
                let seen = feed(&mut d, &wire, step);
                assert_eq!(seen.data, text, "{a} {b} {step}");
                assert_eq!(
                    shape(&seen),
                    vec![Chunk::Start(MessageKind::Text), Chunk::End],
                    "{a} {b} {step}"
                );
            }
        }
    }
}

/// The server's output and events for `wire`, read whole or in chunks.
fn outcome(wire: &[u8], step: usize, chunks: bool) -> (Vec<u8>, Vec<Event>) {
    let mut d = open_server(Options::default());
    let mut events = Vec::new();
    for piece in wire.chunks(step) {
        d.receive(piece, Instant::now());
        if chunks {
            while let Some(chunk) = d.poll_chunk() {
                if let Chunk::Event(e) = chunk {
                    events.push(e);
                }
            }
        } else {
            events.extend(core_support::events(&mut d));
        }
    }
    (drain(&mut d).0, events)
}

#[test]
fn invalid_utf8_split_across_pieces_fails_with_1007_as_a_whole_message_does() {
    // 0xF0 0x9F then 0x41: a four-byte sequence broken in its third byte, the
    // cut falling between fragments and between reads.
    let wire = cat(&[
        c(0x01, b"valid text \xf0"),
        c(0x00, b"\x9f"),
        c(0x80, b"A and more"),
    ]);
    for step in [1, 5, wire.len()] {
        let whole = outcome(&wire, step, false);
        let chunked = outcome(&wire, step, true);
        assert_eq!(chunked, whole, "{step}");
        let frames = parse_frames(&chunked.0);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].first, 0x88);
        assert_eq!(&frames[0].payload[..2], &1007u16.to_be_bytes());
    }
    // A message that ends inside a code point, too.
    let wire = cat(&[c(0x01, b"ab\xe2\x82"), c(0x80, b"")]);
    assert_eq!(outcome(&wire, 1, true), outcome(&wire, 1, false));
    assert_eq!(
        parse_frames(&outcome(&wire, 1, true).0)[0].payload[..2],
        1007u16.to_be_bytes()
    );
}

#[test]
fn pings_between_fragments_are_answered_and_reported_in_order() {
    let wire = cat(&[
        c(0x02, b"first "),
        c(0x89, b"are you there"),
        c(0x00, b"second "),
        c(0x8A, b"unsolicited"),
        c(0x80, b"last"),
    ]);
    let mut d = open_server(Options::default());
    let seen = feed(&mut d, &wire, wire.len());
    assert_eq!(seen.data, b"first second last");
    assert_eq!(
        shape(&seen),
        vec![
            Chunk::Start(MessageKind::Binary),
            Chunk::Event(Event::Ping("are you there".into())),
            Chunk::Event(Event::Pong("unsolicited".into())),
            Chunk::End,
        ]
    );
    let sent = parse_frames(&drain(&mut d).0);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].first, 0x8A);
    assert_eq!(sent[0].payload, b"are you there");
}

#[test]
fn a_close_in_the_middle_cuts_the_message_short() {
    let mut close = 1000u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"bye");
    let wire = cat(&[c(0x01, b"half a "), c(0x88, &close)]);
    let mut d = open_server(Options::default());
    let seen = feed(&mut d, &wire, 4);
    assert_eq!(seen.data, b"half a ");
    assert_eq!(
        shape(&seen),
        vec![
            Chunk::Start(MessageKind::Text),
            Chunk::Event(Event::Close(CloseFrame::new(CloseCode::NORMAL, "bye"))),
        ]
    );
    let (out, shutdown) = drain(&mut d);
    assert_eq!(out, s(0x88, &close));
    assert!(shutdown);
}

#[test]
fn the_message_limit_applies_to_the_total_unless_the_reader_raises_it() {
    let options = || Options::default().max_message_size(1000);
    let wire = cat(&[c(0x02, &[1; 600]), c(0x00, &[2; 600]), c(0x80, &[3; 600])]);
    // Past the limit: 1009 before anything past it comes out.
    let mut d = open_server(options());
    let seen = feed(&mut d, &wire, 100);
    assert!(seen.data.len() <= 1000, "{}", seen.data.len());
    assert!(seen
        .chunks
        .iter()
        .any(|c| matches!(c, Chunk::Event(Event::Close(f)) if f.code == CloseCode::TOO_BIG)));
    assert_eq!(
        &parse_frames(&drain(&mut d).0)[0].payload[..2],
        &1009u16.to_be_bytes()
    );

    // Raised for this message: it passes, and the next one has the old limit.
    let mut d = open_server(options());
    d.receive(&wire[..10], Instant::now());
    assert_eq!(d.poll_chunk(), Some(Chunk::Start(MessageKind::Binary)));
    d.set_message_limit(2000);
    let mut seen = feed(&mut d, &wire[10..], 100);
    assert_eq!(seen.data.len(), 1800);
    assert_eq!(shape(&seen), vec![Chunk::End]);
    d.receive(&c(0x82, &[4; 1001]), Instant::now());
    take(&mut d, &mut seen);
    assert!(matches!(
        seen.chunks.last(),
        Some(Chunk::Event(Event::Close(f))) if f.code == CloseCode::TOO_BIG
    ));

    // A single frame over the limit is caught too, once the reader had its say.
    // (The reader waits for pieces before the header arrives, as a socket's does.)
    let mut d = open_server(options());
    assert_eq!(d.poll_chunk(), None);
    d.receive(&c(0x82, &[5; 1500])[..200], Instant::now());
    assert_eq!(d.poll_chunk(), Some(Chunk::Start(MessageKind::Binary)));
    assert!(matches!(
        d.poll_chunk(),
        Some(Chunk::Event(Event::Error(_)))
    ));
    // Lowered: a message under the connection's limit is refused.
    let mut d = open_server(options());
    d.receive(&c(0x02, &[6; 100]), Instant::now());
    assert_eq!(d.poll_chunk(), Some(Chunk::Start(MessageKind::Binary)));
    d.set_message_limit(150);
    assert!(matches!(d.poll_chunk(), Some(Chunk::Binary(_))));
    d.receive(&c(0x80, &[6; 100]), Instant::now());
    assert!(matches!(
        d.poll_chunk(),
        Some(Chunk::Event(Event::Error(_)))
    ));
}

#[test]
fn a_discarded_message_is_dropped_as_it_arrives_and_the_next_one_is_whole() {
    let wire = cat(&[
        c(0x02, &[1; 5000]),
        c(0x89, b"p"),
        c(0x80, &[2; 5000]),
        c(0x81, b"next"),
    ]);
    let mut d = open_server(Options::default());
    d.receive(&wire[..3000], Instant::now());
    assert_eq!(d.poll_chunk(), Some(Chunk::Start(MessageKind::Binary)));
    assert!(matches!(d.poll_chunk(), Some(Chunk::Binary(_))));
    d.discard_message();
    d.receive(&wire[3000..], Instant::now());
    assert_eq!(
        events(&mut d),
        vec![
            Event::Ping("p".into()),
            Event::Message(websocket_protocol::protocol::Message::text("next"))
        ]
    );
    assert_eq!(d.buffered_incoming(), 0);
}

#[test]
fn a_message_begun_whole_or_already_complete_comes_out_in_pieces() {
    // Complete before anyone asked: Start, one piece, End.
    let mut d = open_server(Options::default());
    d.receive(&c(0x81, "héllo".as_bytes()), Instant::now());
    let seen = feed(&mut d, &[], 1);
    assert_eq!(seen.chunks.len(), 0);
    let mut seen = Seen::default();
    take(&mut d, &mut seen);
    assert_eq!(
        seen.chunks,
        vec![
            Chunk::Start(MessageKind::Text),
            Chunk::Text("héllo".into()),
            Chunk::End
        ]
    );
    // Begun by peek_event (fragments joined, a code point cut), then read in
    // pieces: what was joined comes first.
    let text = "joined €€ then streamed".as_bytes();
    let wire = cat(&[
        c(0x01, &text[..8]),
        c(0x00, &text[8..15]),
        c(0x80, &text[15..]),
    ]);
    let mut d = open_server(Options::default());
    d.receive(&wire[..wire.len() - 5], Instant::now());
    assert_eq!(d.peek_event(), None);
    let mut seen = Seen::default();
    take(&mut d, &mut seen);
    d.receive(&wire[wire.len() - 5..], Instant::now());
    take(&mut d, &mut seen);
    assert_eq!(seen.data, text);
    assert_eq!(
        shape(&seen),
        vec![Chunk::Start(MessageKind::Text), Chunk::End]
    );
}

#[test]
fn whole_messages_are_unchanged_around_a_chunked_one() {
    let wire = cat(&[c(0x81, b"one"), c(0x82, &[9; 70_000]), c(0x81, b"three")]);
    let mut d = open_server(Options::default());
    d.receive(&wire, Instant::now());
    assert_eq!(
        d.poll_event(),
        Some(Event::Message(websocket_protocol::protocol::Message::text(
            "one"
        )))
    );
    let mut seen = Seen::default();
    while seen.chunks.last() != Some(&Chunk::End) {
        seen.chunks.push(d.poll_chunk().unwrap());
    }
    assert_eq!(
        d.poll_event(),
        Some(Event::Message(websocket_protocol::protocol::Message::text(
            "three"
        )))
    );
}

#[test]
fn hixie_frames_come_out_whole_as_one_piece() {
    let request = b"GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\nOrigin: http://example.com\r\n\r\n";
    let mut d = Driver::server_from_bytes(request, Options::default().allow_drafts(true))
        .unwrap()
        .unwrap();
    d.start(Instant::now());
    drain(&mut d);
    let mut wire = vec![0x00];
    wire.extend_from_slice("héllo".as_bytes());
    wire.push(0xFF);
    let seen = feed(&mut d, &wire, 2);
    assert_eq!(
        seen.chunks,
        vec![
            Chunk::Event(Event::Open),
            Chunk::Start(MessageKind::Text),
            Chunk::Text("héllo".into()),
            Chunk::End
        ]
    );
}

#[cfg(feature = "deflate")]
mod deflate {
    use super::*;
    use websocket_protocol::protocol::{DeflateConfig, Transmit};

    fn pump(from: &mut Driver, to: &mut Driver) -> Vec<u8> {
        let mut wire = Vec::new();
        while let Some(t) = from.poll_transmit() {
            if let Transmit::Data(bytes) = t {
                wire.extend_from_slice(&bytes);
            }
        }
        let _ = to;
        wire
    }

    fn pair(server_options: Options) -> (Driver, Driver) {
        let client_options = Options::default().deflate(DeflateConfig::default());
        let mut client = Driver::client("ws://example.com/", client_options).unwrap();
        client.start(Instant::now());
        let Some(Transmit::Data(request)) = client.poll_transmit() else {
            unreachable!()
        };
        let mut server =
            Driver::server_from_bytes(&request, server_options.deflate(DeflateConfig::default()))
                .unwrap()
                .unwrap();
        server.start(Instant::now());
        let response = pump(&mut server, &mut client);
        client.receive(&response, Instant::now());
        assert_eq!(server.poll_event(), Some(Event::Open));
        assert_eq!(client.poll_event(), Some(Event::Open));
        (client, server)
    }

    /// Text that compresses well but not to nothing, with multibyte code points.
    fn sample(len: usize) -> String {
        let mut s = String::new();
        let mut i = 0u32;
        while s.len() < len {
            s.push_str(&format!(
                "{{\"id\":{i},\"name\":\"é€𝄞{}\"}},",
                i * 7919 % 1000
            ));
            i += 1;
        }
        s
    }

    #[test]
    fn a_compressed_message_is_inflated_piece_by_piece() {
        let (mut client, mut server) = pair(Options::default());
        for round in 0..2 {
            // The second refers back into the first (context takeover).
            let text = sample(3 << 20);
            client.text(text.clone()).unwrap();
            let wire = pump(&mut client, &mut server);
            assert!(wire.len() < text.len() / 3, "{}", wire.len());
            let seen = feed(&mut server, &wire, 8 << 10);
            assert_eq!(seen.data, text.as_bytes(), "{round}");
            assert!(seen.largest <= 64 << 10, "{}", seen.largest);
            assert_eq!(
                shape(&seen),
                vec![Chunk::Start(MessageKind::Text), Chunk::End]
            );
        }
        // And a whole one after, from the same window.
        client.text("after").unwrap();
        let wire = pump(&mut client, &mut server);
        server.receive(&wire, Instant::now());
        assert_eq!(
            server.poll_event(),
            Some(Event::Message(websocket_protocol::protocol::Message::text(
                "after"
            )))
        );
    }

    #[test]
    fn the_inflated_limit_applies_to_the_total_unless_raised() {
        let text = sample(1 << 20);
        for raise in [false, true] {
            let (mut client, mut server) =
                pair(Options::default().max_inflated_message_size(100 << 10));
            client.text(text.clone()).unwrap();
            let wire = pump(&mut client, &mut server);
            assert_eq!(server.poll_chunk(), None);
            server.receive(&wire[..20], Instant::now());
            assert_eq!(server.poll_chunk(), Some(Chunk::Start(MessageKind::Text)));
            if raise {
                server.set_message_limit(2 << 20);
            }
            let seen = feed(&mut server, &wire[20..], 4096);
            if raise {
                assert_eq!(seen.data, text.as_bytes());
            } else {
                assert!(seen.data.len() <= 100 << 10);
                assert!(matches!(
                    seen.chunks.last(),
                    Some(Chunk::Event(Event::Close(f))) if f.code == CloseCode::TOO_BIG
                ));
            }
        }
    }
}
