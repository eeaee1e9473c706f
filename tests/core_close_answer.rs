//! The closing handshake behind events nobody took: while our close frame waits
//! for its answer, the driver decodes past untaken messages (the application
//! can send nothing more, so there is no reply to order); and a client whose
//! handshake is done takes the transport's end at once, whatever waits in the
//! queue. An I/O layer waiting in `close` sees the end without taking the
//! messages its application has not read.

mod core_support;

use core_support::*;
use std::time::Instant;
use websocket_protocol::protocol::{
    accept_key, CloseCause, CloseCode, CloseFrame, ConnectionState, Driver, Event, Message, Options,
};

fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    [&code.to_be_bytes()[..], reason.as_bytes()].concat()
}

#[test]
fn the_answer_to_our_close_is_seen_behind_untaken_messages() {
    let now = Instant::now();
    let mut d = open_server(Options::default());
    d.close(1001, "going", now).unwrap();
    let (out, _) = drain(&mut d);
    assert_eq!(out, s(0x88, &close_payload(1001, "going")));
    // Two messages, then the answer, in one read; nobody takes the messages.
    d.receive(
        &cat(&[
            c(0x81, b"one"),
            c(0x81, b"two"),
            c(0x88, &close_payload(1001, "going")),
        ]),
        now,
    );
    let answer = CloseFrame::new(CloseCode::GOING_AWAY, "going");
    assert_eq!(d.close_received(), Some(&answer));
    assert_eq!(
        d.state(),
        ConnectionState::Closed {
            frame: answer.clone(),
            cause: CloseCause::Clean
        }
    );
    // Nothing more to write, the transport to shut; the messages are kept, in order.
    assert_eq!(drain(&mut d), (Vec::new(), true));
    assert_eq!(
        events(&mut d),
        vec![
            Event::Message(Message::text("one")),
            Event::Message(Message::text("two")),
            Event::Close(answer),
        ]
    );
}

#[test]
fn while_open_decoding_still_waits_for_each_event() {
    let now = Instant::now();
    let mut d = open_server(Options::default());
    d.receive(
        &cat(&[c(0x81, b"one"), c(0x88, &close_payload(1000, ""))]),
        now,
    );
    // The close frame is not decoded until the message is taken.
    assert_eq!(d.close_received(), None);
    assert_eq!(d.poll_event(), Some(Event::Message(Message::text("one"))));
    assert!(matches!(d.poll_event(), Some(Event::Close(_))));
    assert!(d.close_received().is_some());
}

#[test]
fn a_client_whose_handshake_is_done_takes_the_end_of_stream_at_once() {
    let now = Instant::now();
    let mut d = Driver::client("ws://example.com/", Options::default()).unwrap();
    d.start(now);
    drain(&mut d);
    let key = d.client_request().unwrap().headers()["sec-websocket-key"]
        .to_str()
        .unwrap()
        .to_owned();
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key.as_bytes())
    );
    d.receive(response.as_bytes(), now);
    assert_eq!(d.poll_event(), Some(Event::Open));
    d.close(1000, "bye", now).unwrap();
    drain(&mut d);
    // A message, then the server's answer; nobody takes the message.
    d.receive(
        &cat(&[s(0x82, b"late"), s(0x88, &close_payload(1000, "bye"))]),
        now,
    );
    let answer = CloseFrame::new(CloseCode::NORMAL, "bye");
    assert_eq!(d.close_received(), Some(&answer));
    // RFC 6455 7.1.1: the server closes TCP first. Its end needs no event taken.
    d.receive_eof(now);
    assert_eq!(
        d.state(),
        ConnectionState::Closed {
            frame: answer.clone(),
            cause: CloseCause::Clean
        }
    );
    assert_eq!(drain(&mut d), (Vec::new(), true));
    assert_eq!(
        events(&mut d),
        vec![
            Event::Message(Message::binary(&b"late"[..])),
            Event::Close(answer),
        ]
    );
}
