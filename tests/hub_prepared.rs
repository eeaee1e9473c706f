//! Prepared messages through the core: the bytes each family gets, byte for
//! byte, and deflate peers (with and without context takeover) decoding shared
//! compressed frames interleaved with the connection's own messages.

mod core_support;

use core_support::*;
use websocket_protocol::protocol::{
    apply_mask, Driver, Event, Message, Options, PreparedMessage, Version,
};

fn hixie_request(hixie76: bool) -> http::Request<()> {
    let mut r = http::Request::get("/demo")
        .header("Host", "example.com")
        .header("Connection", "Upgrade")
        .header("Upgrade", "WebSocket")
        .header("Origin", "http://example.com");
    if hixie76 {
        r = r
            .header("Sec-WebSocket-Key1", "18x 6]8vM;54 *(5:  {   U1]8  z [  8")
            .header("Sec-WebSocket-Key2", "1_ tx7X d  <  nw  334J702) 7]o}` 0");
    }
    r.body(()).unwrap()
}

fn open_hixie(hixie76: bool) -> Driver {
    let options = Options::default().allow_drafts(true);
    let mut d = Driver::server(&hixie_request(hixie76), options).unwrap();
    d.start(std::time::Instant::now());
    if hixie76 {
        d.receive(b"^n:ds[4U", std::time::Instant::now());
    }
    drain(&mut d);
    assert_eq!(events(&mut d), vec![Event::Open]);
    d
}

fn hybi_request(version: &str) -> http::Request<()> {
    let mut r = upgrade_request();
    r.headers_mut()
        .insert("sec-websocket-version", version.parse().unwrap());
    r
}

/// What `send` puts on the wire and what `send_prepared` does, for one driver
/// state: they must be the same bytes.
fn both_ways(make: impl Fn() -> Driver, message: Message) -> (Vec<u8>, Vec<u8>) {
    let mut a = make();
    a.send(message.clone()).unwrap();
    let mut b = make();
    b.send_prepared(&PreparedMessage::new(message)).unwrap();
    (drain(&mut a).0, drain(&mut b).0)
}

#[test]
fn every_server_family_gets_the_bytes_send_would_write() {
    let opts = Options::default;
    for (version, v) in [
        ("7", Version::Hybi7),
        ("8", Version::Hybi8),
        ("13", Version::Hybi13),
    ] {
        let make = || {
            let mut d = Driver::server(&hybi_request(version), opts()).unwrap();
            d.start(std::time::Instant::now());
            drain(&mut d);
            events(&mut d);
            d
        };
        assert_eq!(make().version(), v);
        for message in [
            Message::text("Hello"),
            Message::text("x".repeat(200)),
            Message::binary(vec![1u8; 70_000]),
            Message::text(""),
        ] {
            let (sent, prepared) = both_ways(make, message.clone());
            assert_eq!(prepared, sent, "{v} {} bytes", message.len());
        }
        let (sent, _) = both_ways(make, Message::text("Hello"));
        assert_eq!(sent, b"\x81\x05Hello");
    }
    for hixie76 in [false, true] {
        let make = || open_hixie(hixie76);
        let (sent, prepared) = both_ways(make, Message::text("Hello"));
        assert_eq!(prepared, b"\x00Hello\xff");
        assert_eq!(prepared, sent);
        let err = make()
            .send_prepared(&PreparedMessage::binary(&b"no"[..]))
            .unwrap_err();
        assert!(err.to_string().contains("binary"), "{err}");
    }
}

#[test]
fn one_prepared_message_serves_every_family_from_shared_frames() {
    let p = PreparedMessage::text("shared");
    let mut hybi = open_server(Options::default());
    let mut hixie = open_hixie(true);
    for _ in 0..3 {
        hybi.send_prepared(&p).unwrap();
        hixie.send_prepared(&p).unwrap();
    }
    assert_eq!(drain(&mut hybi).0, b"\x81\x06shared".repeat(3));
    assert_eq!(drain(&mut hixie).0, b"\x00shared\xff".repeat(3));
    assert_eq!(
        p.frame(Version::Hybi13).unwrap().as_ptr(),
        p.frame(Version::Hybi7).unwrap().as_ptr()
    );
}

#[test]
fn a_client_masks_each_prepared_frame_itself() {
    let mut c = Driver::client("ws://localhost/", Options::default()).unwrap();
    c.start(std::time::Instant::now());
    let request = drain(&mut c).0;
    let mut s = Driver::server_from_bytes(&request, Options::default())
        .unwrap()
        .unwrap();
    s.start(std::time::Instant::now());
    c.receive(&drain(&mut s).0, std::time::Instant::now());
    events(&mut c);
    events(&mut s);
    let p = PreparedMessage::text("Hello");
    c.send_prepared(&p).unwrap();
    c.send_prepared(&p).unwrap();
    let wire = drain(&mut c).0;
    assert_eq!(wire.len(), 2 * (2 + 4 + 5));
    let (one, two) = wire.split_at(11);
    assert_ne!(one[2..6], two[2..6], "a fresh key per frame");
    for frame in [one, two] {
        assert_eq!(&frame[..2], &[0x81, 0x85]);
        let mut payload = frame[6..].to_vec();
        apply_mask(&mut payload, frame[2..6].try_into().unwrap(), 0);
        assert_eq!(payload, b"Hello");
    }
    s.receive(&wire, std::time::Instant::now());
    assert_eq!(
        events(&mut s),
        vec![
            Event::Message(Message::text("Hello")),
            Event::Message(Message::text("Hello"))
        ]
    );
}

#[cfg(feature = "deflate")]
mod deflate {
    use super::*;
    use websocket_protocol::protocol::DeflateConfig;

    fn pair(client: DeflateConfig, server: DeflateConfig) -> (Driver, Driver) {
        let mut c = Driver::client("ws://localhost/", Options::default().deflate(client)).unwrap();
        c.start(std::time::Instant::now());
        let request = drain(&mut c).0;
        let mut s = Driver::server_from_bytes(&request, Options::default().deflate(server))
            .unwrap()
            .unwrap();
        s.start(std::time::Instant::now());
        c.receive(&drain(&mut s).0, std::time::Instant::now());
        assert_eq!(events(&mut c), vec![Event::Open]);
        assert_eq!(events(&mut s), vec![Event::Open]);
        (c, s)
    }

    fn line(i: usize) -> String {
        format!("{{\"user\":\"guest-{}\",\"text\":\"message number {i} in the room, said to everyone present\"}}", i % 7)
    }

    /// Our server interleaves ordinary and prepared messages; our client (its own
    /// inflater keeps context when the server does) must read every one exactly.
    fn interleave(client: DeflateConfig, server: DeflateConfig, window: u8) {
        let (mut c, mut s) = pair(client.clone(), server.clone());
        assert_eq!(s.deflate_params().unwrap().server_max_window_bits, window);
        // A second connection with the same settings, which only ever gets the
        // shared frames: what it sends is the shared frame and nothing else.
        let (_, mut other) = pair(client, server);
        let mut expected = Vec::new();
        for i in 0..200 {
            let text = line(i);
            let shared = i % 3 != 0;
            if shared {
                let p = PreparedMessage::text(text.clone());
                s.send_prepared(&p).unwrap();
                other.send_prepared(&p).unwrap();
                let wire = drain(&mut s).0;
                assert_eq!(wire[0], 0xC1, "message {i}: FIN, RSV1, text");
                assert_eq!(wire, drain(&mut other).0, "message {i} is the shared frame");
                c.receive(&wire, std::time::Instant::now());
            } else {
                s.text(text.clone()).unwrap();
                c.receive(&drain(&mut s).0, std::time::Instant::now());
            }
            expected.push(Event::Message(Message::text(text)));
        }
        // Below the threshold: uncompressed, RSV1 clear, valid to any deflate peer.
        s.send_prepared(&PreparedMessage::text("hi")).unwrap();
        assert_eq!(drain(&mut s).0, b"\x81\x02hi");
        assert_eq!(events(&mut c), expected);
        assert!(events(&mut c).is_empty());
    }

    #[test]
    fn shared_compressed_frames_interleave_with_context_takeover() {
        // The server's default window: 12 bits.
        interleave(DeflateConfig::default(), DeflateConfig::default(), 12);
    }

    #[test]
    fn shared_compressed_frames_interleave_without_context_takeover() {
        interleave(
            DeflateConfig::default().server_no_context_takeover(true),
            DeflateConfig::default(),
            12,
        );
    }

    #[test]
    fn a_smaller_window_gets_its_own_compressed_frame() {
        interleave(
            DeflateConfig::default().server_max_window_bits(10),
            DeflateConfig::default(),
            10,
        );
    }

    #[test]
    fn a_shared_frame_enters_the_connections_window() {
        // The peer holds the shared message in its window, and so does the
        // connection: its next message of its own refers back into it.
        let (mut c, mut s) = pair(DeflateConfig::default(), DeflateConfig::default());
        let text = line(1).repeat(4);
        s.send_prepared(&PreparedMessage::text(text.clone()))
            .unwrap();
        let shared = drain(&mut s).0;
        s.text(text.clone()).unwrap();
        let own = drain(&mut s).0;
        assert!(
            own.len() * 4 < shared.len(),
            "{} vs {}",
            own.len(),
            shared.len()
        );
        c.receive(&shared, std::time::Instant::now());
        c.receive(&own, std::time::Instant::now());
        assert_eq!(
            events(&mut c),
            vec![
                Event::Message(Message::text(text.clone())),
                Event::Message(Message::text(text))
            ]
        );
    }
}
