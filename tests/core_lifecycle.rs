//! The core's lifecycle and inputs of time and randomness: the state and why it
//! closed, timers right after any call (no `handle_timeout` needed to arm
//! them), and a client whose every byte is fixed by a seed.

mod core_support;

use core_support::*;

use std::time::{Duration, Instant};
use websocket_protocol::protocol::{
    accept_key, CloseCause, CloseFrame, ConnectionState, Driver, ErrorKind, Event, Options,
    ReadyState, Side, Transmit, KEEPALIVE_PAYLOAD,
};

/// A client driver, started at `now` and opened by a matching 101.
fn open_client(options: Options, now: Instant) -> Driver {
    let mut d = Driver::client("ws://example.com/", options).unwrap();
    d.start(now);
    drain(&mut d);
    d.receive(&response_for(&d), now);
    assert_eq!(events(&mut d), vec![Event::Open]);
    d
}

fn response_for(d: &Driver) -> Vec<u8> {
    let key = d.client_request().unwrap().headers()["sec-websocket-key"]
        .to_str()
        .unwrap()
        .to_owned();
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key.as_bytes())
    )
    .into_bytes()
}

fn closed(frame: CloseFrame, cause: CloseCause) -> ConnectionState {
    ConnectionState::Closed { frame, cause }
}

// ---- timers are right after any call -------------------------------------------------

#[test]
fn close_alone_arms_the_close_timeout() {
    let mut d = open_server(Options::default().close_timeout(Duration::from_secs(3)));
    let now = Instant::now() + Duration::from_secs(1);
    d.close(1000, "bye", now).unwrap();
    assert_eq!(d.poll_timeout(), Some(now + Duration::from_secs(3)));
    assert_eq!(d.state(), ConnectionState::Closing { by: Side::Local });
    assert_eq!(d.ready_state(), ReadyState::Closing);
    assert_eq!(d.close_sent(), Some(&CloseFrame::new(1000, "bye")));
    // Default: 5 s.
    let mut d = open_server(Options::default());
    d.close(1000, "", now).unwrap();
    assert_eq!(d.poll_timeout(), Some(now + Duration::from_secs(5)));
}

#[test]
fn the_close_timeout_ends_a_close_the_peer_never_answers() {
    let mut d = open_server(Options::default());
    let now = Instant::now();
    d.close(1000, "", now).unwrap();
    drain(&mut d);
    d.handle_timeout(now + Duration::from_millis(4999));
    assert_eq!(d.state(), ConnectionState::Closing { by: Side::Local });
    d.handle_timeout(now + Duration::from_secs(5));
    let events = events(&mut d);
    assert!(
        matches!(&events[..], [Event::Error(e), Event::Close(f)]
            if e.kind() == &ErrorKind::CloseTimeout && f.code == 1006.into()),
        "{events:?}"
    );
    assert_eq!(
        d.state(),
        closed(CloseFrame::new(1006, ""), CloseCause::Timeout)
    );
    assert_eq!(drain(&mut d), (vec![], true));
}

#[test]
fn the_servers_close_arms_the_clients_wait_for_eof() {
    let t0 = Instant::now();
    let mut d = open_client(Options::default().close_timeout(Duration::from_secs(2)), t0);
    let t1 = t0 + Duration::from_secs(7);
    d.receive(&s(0x88, b"\x03\xe8bye"), t1);
    assert_eq!(
        events(&mut d),
        vec![Event::Close(CloseFrame::new(1000, "bye"))]
    );
    // Decoded inside poll_event, at the time the bytes came with.
    assert_eq!(d.poll_timeout(), Some(t1 + Duration::from_secs(2)));
    assert_eq!(d.state(), ConnectionState::Closing { by: Side::Remote });
    assert_eq!(d.ready_state(), ReadyState::Closed);
    assert_eq!(d.close_received(), Some(&CloseFrame::new(1000, "bye")));
    assert_eq!(d.close_sent(), Some(&CloseFrame::new(1000, "bye")));
    let (out, shutdown) = drain(&mut d);
    assert!(!shutdown, "the client waits for the server to close first");
    assert_eq!(parse_frames(&out)[0].payload, b"\x03\xe8bye");
    d.receive_eof(t1);
    assert_eq!(
        d.state(),
        closed(CloseFrame::new(1000, "bye"), CloseCause::Clean)
    );
    assert_eq!(drain(&mut d), (vec![], true));
    assert_eq!(d.poll_timeout(), None);
}

#[test]
fn keepalive_and_idle_count_from_start_and_from_each_receive() {
    let options = Options::default()
        .keepalive(Duration::from_secs(20))
        .idle_timeout(Duration::from_secs(60));
    let t0 = Instant::now();
    let mut d = Driver::server(&upgrade_request(), options).unwrap();
    d.start(t0);
    assert_eq!(d.poll_timeout(), Some(t0 + Duration::from_secs(20)));
    events(&mut d);
    drain(&mut d);
    let t1 = t0 + Duration::from_secs(15);
    d.receive(&c(0x8A, b""), t1);
    assert_eq!(d.poll_timeout(), Some(t1 + Duration::from_secs(20)));
    // The ping goes out when due; the idle timer is then the next.
    let t2 = t1 + Duration::from_secs(20);
    d.handle_timeout(t2);
    assert_eq!(drain(&mut d).0, s(0x89, KEEPALIVE_PAYLOAD));
    assert_eq!(d.poll_timeout(), Some(t2 + Duration::from_secs(20)));
    // Idle only: the timer is an idle timeout from the opening.
    let mut d = Driver::server(
        &upgrade_request(),
        Options::default().idle_timeout(Duration::from_secs(60)),
    )
    .unwrap();
    d.start(t0);
    assert_eq!(d.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    d.handle_timeout(t0 + Duration::from_secs(60));
    let events = events(&mut d);
    assert!(
        matches!(&events[1], Event::Error(e) if e.kind() == &ErrorKind::IdleTimeout),
        "{events:?}"
    );
    assert!(matches!(
        d.state(),
        ConnectionState::Closed { cause: CloseCause::Error(e), .. } if e.kind() == &ErrorKind::IdleTimeout
    ));
}

#[test]
fn a_client_opening_through_finish_handshake_starts_its_timers_then() {
    let t0 = Instant::now();
    let mut d = Driver::client(
        "ws://example.com/",
        Options::default().keepalive(Duration::from_secs(5)),
    )
    .unwrap();
    let key = d.client_request().unwrap().headers()["sec-websocket-key"]
        .to_str()
        .unwrap()
        .to_owned();
    let response = http::Response::builder()
        .status(101)
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-accept", accept_key(key.as_bytes()))
        .body(())
        .unwrap();
    d.finish_handshake(&response, t0).unwrap();
    assert_eq!(d.state(), ConnectionState::Open);
    assert_eq!(d.poll_timeout(), Some(t0 + Duration::from_secs(5)));
}

// ---- how it closed -------------------------------------------------------------------

#[test]
fn the_state_says_how_the_connection_ended() {
    let now = Instant::now();
    // The peer closes: clean, the peer's frame.
    let mut d = open_server(Options::default());
    d.receive(&c(0x88, b"\x0f\xa0done"), now);
    events(&mut d);
    assert_eq!(
        d.state(),
        closed(CloseFrame::new(4000, "done"), CloseCause::Clean)
    );
    // We close and the peer answers.
    let mut d = open_server(Options::default());
    d.close(1001, "away", now).unwrap();
    d.receive(&c(0x88, b"\x03\xe9"), now);
    events(&mut d);
    assert_eq!(
        d.state(),
        closed(CloseFrame::new(1001, ""), CloseCause::Clean)
    );
    assert_eq!(d.close_sent(), Some(&CloseFrame::new(1001, "away")));
    // The transport ends without a close frame.
    let mut d = open_server(Options::default());
    d.receive_eof(now);
    events(&mut d);
    assert_eq!(
        d.state(),
        closed(CloseFrame::new(1006, ""), CloseCause::Eof)
    );
    // The peer breaks the protocol.
    let mut d = open_server(Options::default());
    d.receive(&s(0x81, b"unmasked"), now);
    events(&mut d);
    match d.state() {
        ConnectionState::Closed {
            frame,
            cause: CloseCause::Error(e),
        } => {
            assert_eq!(frame.code, 1002.into());
            assert_eq!(e.kind(), &ErrorKind::Protocol("client frame is not masked"));
        }
        other => panic!("{other:?}"),
    }
    // Closed before the handshake finished.
    let mut d = Driver::client("ws://example.com/", Options::default()).unwrap();
    d.start(now);
    d.close(1000, "", now).unwrap();
    assert_eq!(
        d.state(),
        closed(CloseFrame::new(1006, ""), CloseCause::Abandoned)
    );
    // The server's answer is refused.
    let mut d = Driver::client("ws://example.com/", Options::default()).unwrap();
    d.start(now);
    d.receive(b"HTTP/1.1 403 Forbidden\r\n\r\n", now);
    events(&mut d);
    assert!(matches!(
        d.state(),
        ConnectionState::Closed { cause: CloseCause::Handshake(e), .. } if e.is_handshake()
    ));
}

// ---- randomness ---------------------------------------------------------------------

/// Every byte a seeded client sends: its request, then a masked "Hello".
fn seeded_client_bytes(seed: u64) -> (Vec<u8>, Vec<u8>) {
    let now = Instant::now();
    let mut d = Driver::client("ws://example.com/chat", Options::default().rng_seed(seed)).unwrap();
    d.start(now);
    let (request, _) = drain(&mut d);
    d.receive(&response_for(&d), now);
    events(&mut d);
    d.text("Hello").unwrap();
    let Some(Transmit::Data(frame)) = d.poll_transmit() else {
        panic!()
    };
    (request, frame.to_vec())
}

#[test]
fn a_seeded_client_sends_the_same_bytes_every_time() {
    let (request, frame) = seeded_client_bytes(42);
    assert_eq!(
        String::from_utf8(request).unwrap(),
        "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: omN9E9Fxsnjq36ij++g3mw==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    assert_eq!(frame, FRAME42);
    assert_eq!(parse_frames(&frame)[0].payload, b"Hello");
    assert_eq!(seeded_client_bytes(42), (seeded_client_bytes(42).0, frame));
    assert_ne!(seeded_client_bytes(43).1, FRAME42);
}

/// FIN + text, masked, length 5; the key the seed gives; "Hello" masked with it.
const FRAME42: &[u8] = &[
    0x81, 0x85, 0x5e, 0x47, 0x1e, 0x1f, 0x16, 0x22, 0x72, 0x73, 0x31,
];
