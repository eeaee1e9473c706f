//! The order of what the core sends: decoding is lazy, one event at a time, so
//! the application's answer to a message goes out before anything a later frame
//! causes (a pong, or the close frame of a protocol error further on in the same
//! read); and at most one automatic pong waits to be sent.

mod core_support;

use core_support::*;

use std::time::Instant;
use websocket_protocol::protocol::{
    CloseCause, ConnectionState, Driver, ErrorKind, Event, Message, Options,
};

/// An echo application: takes every event, sending each message straight back.
fn echo(d: &mut Driver) -> Vec<Event> {
    let mut seen = Vec::new();
    while let Some(event) = d.poll_event() {
        if let Event::Message(m) = &event {
            // After a failure the driver refuses; the app would see an error.
            let _ = d.send(m.clone());
        }
        seen.push(event);
    }
    seen
}

/// The close frame a server sends for `code` and `reason`.
fn close_frame(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    s(0x88, &payload)
}

/// Feeds a good "Hello" and then `bad` (and a ping after it, which is never
/// reached) in one `receive` to an echo server, and checks the exact bytes out:
/// the echo of "Hello", then the close frame with `code` and `reason`.
fn hello_then(options: Options, bad: &[u8], code: u16, reason: &str) -> ErrorKind {
    let mut d = open_server(options);
    let wire = cat(&[c(0x81, b"Hello"), bad.to_vec(), c(0x89, b"never")]);
    d.receive(&wire, Instant::now());
    let events = echo(&mut d);
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[0], Event::Message(Message::text("Hello")));
    let Event::Error(error) = &events[1] else {
        panic!("{events:?}")
    };
    assert_eq!(events[2], Event::Close(close_frame_value(code, reason)));
    let (out, shutdown) = drain(&mut d);
    assert_eq!(out, cat(&[s(0x81, b"Hello"), close_frame(code, reason)]));
    assert!(shutdown);
    match d.state() {
        ConnectionState::Closed {
            cause: CloseCause::Error(e),
            ..
        } => assert_eq!(&e, error),
        other => panic!("{other:?}"),
    }
    error.kind().clone()
}

fn close_frame_value(code: u16, reason: &str) -> websocket_protocol::protocol::CloseFrame {
    websocket_protocol::protocol::CloseFrame::new(code, reason.to_owned())
}

const RSV: &str = "protocol error: RSV bits set without a negotiated extension";

#[test]
fn rsv_bits_after_a_good_message() {
    for first in [0xC1, 0xA1, 0x91] {
        let kind = hello_then(Options::default(), &c(first, b"x"), 1002, RSV);
        assert_eq!(
            kind,
            ErrorKind::Protocol("RSV bits set without a negotiated extension")
        );
    }
}

#[test]
fn reserved_opcodes_after_a_good_message() {
    // Data opcode 3 and control opcode 0xB.
    for first in [0x83, 0x8B] {
        hello_then(
            Options::default(),
            &c(first, b""),
            1002,
            "protocol error: reserved opcode",
        );
    }
}

#[test]
fn stray_continuation_after_a_good_message() {
    hello_then(
        Options::default(),
        &c(0x80, b"x"),
        1002,
        "protocol error: continuation frame with no message started",
    );
}

#[test]
fn new_data_frame_inside_a_fragmented_message_after_a_good_message() {
    hello_then(
        Options::default(),
        &cat(&[c(0x01, b"a"), c(0x81, b"b")]),
        1002,
        "protocol error: new data frame inside a fragmented message",
    );
}

#[test]
fn invalid_utf8_in_a_later_message() {
    hello_then(
        Options::default(),
        &c(0x81, &[b'o', b'k', 0xFF]),
        1007,
        "text is not valid UTF-8",
    );
}

#[test]
fn an_oversized_later_frame() {
    hello_then(
        Options::default().max_frame_size(10),
        &c(0x82, &[0; 11]),
        1009,
        "frame or message exceeds the configured maximum",
    );
}

#[test]
fn the_echo_goes_before_the_pong_of_a_later_ping() {
    let mut d = open_server(Options::default());
    d.receive(&cat(&[c(0x81, b"Hello"), c(0x89, b"hi")]), Instant::now());
    echo(&mut d);
    assert_eq!(drain(&mut d).0, cat(&[s(0x81, b"Hello"), s(0x8A, b"hi")]));
}

#[test]
fn nothing_is_decoded_until_the_event_before_it_is_taken() {
    let mut d = open_server(Options::default());
    d.receive(
        &cat(&[c(0x81, b"one"), c(0x89, b"p"), c(0x88, b"\x03\xe8")]),
        Instant::now(),
    );
    // The ping and the close wait behind the message: no pong, no echo yet.
    assert_eq!(d.buffered_amount(), 0);
    assert_eq!(d.state(), ConnectionState::Open);
    assert_eq!(d.peek_event(), Some(&Event::Message(Message::text("one"))));
    assert_eq!(d.peek_event(), Some(&Event::Message(Message::text("one"))));
    assert_eq!(d.buffered_amount(), 0);
    // The input behind the message counts as held.
    assert_eq!(d.buffered_incoming(), 3 + 7 + 8);
    assert_eq!(d.poll_event(), Some(Event::Message(Message::text("one"))));
    // Taking it decodes nothing; the next look does.
    assert_eq!(d.buffered_amount(), 0);
    assert_eq!(
        d.peek_event(),
        Some(&Event::Ping(bytes::Bytes::from_static(b"p")))
    );
    assert_eq!(drain(&mut d).0, s(0x8A, b"p"));
    d.poll_event();
    assert_eq!(
        d.poll_event(),
        Some(Event::Close(close_frame_value(1000, "")))
    );
    assert_eq!(drain(&mut d), (s(0x88, b"\x03\xe8"), true));
    assert_eq!(d.poll_event(), None);
}

#[test]
fn a_close_frame_then_eof_behind_unread_messages_closes_cleanly() {
    let mut d = open_server(Options::default());
    let now = Instant::now();
    d.receive(&cat(&[c(0x81, b"unread"), c(0x88, b"\x03\xe8")]), now);
    d.receive_eof(now);
    assert_eq!(d.state(), ConnectionState::Open, "the EOF waits its turn");
    assert_eq!(
        events(&mut d),
        vec![
            Event::Message(Message::text("unread")),
            Event::Close(close_frame_value(1000, ""))
        ]
    );
    assert!(matches!(
        d.state(),
        ConnectionState::Closed {
            cause: CloseCause::Clean,
            ..
        }
    ));
}

#[test]
fn a_hundred_thousand_pings_leave_one_pong() {
    let mut d = open_server(Options::default());
    let wire: Vec<u8> = (0..100_000)
        .flat_map(|i: u32| c(0x89, i.to_string().as_bytes()))
        .collect();
    d.receive(&wire, Instant::now());
    // The application takes every event; nobody takes the output.
    let mut pings = 0;
    while let Some(event) = d.poll_event() {
        assert!(matches!(event, Event::Ping(_)), "{event:?}");
        pings += 1;
    }
    assert_eq!(pings, 100_000);
    let pong = s(0x8A, b"99999");
    assert_eq!(d.buffered_amount(), pong.len());
    assert_eq!(drain(&mut d), (pong, false));
    // A pong already taken is not replaced: the next ping gets its own.
    d.receive(&c(0x89, b"next"), Instant::now());
    events(&mut d);
    assert_eq!(drain(&mut d).0, s(0x8A, b"next"));
}

#[test]
fn a_newer_pong_takes_the_older_ones_place_before_later_messages() {
    let mut d = open_server(Options::default());
    d.receive(&c(0x89, b"1"), Instant::now());
    events(&mut d);
    d.text("between").unwrap();
    d.receive(&c(0x89, b"2"), Instant::now());
    events(&mut d);
    assert_eq!(drain(&mut d).0, cat(&[s(0x8A, b"2"), s(0x81, b"between")]));
}
