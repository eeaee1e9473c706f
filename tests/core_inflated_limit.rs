//! `Options::max_inflated_message_size`: a compressed message is refused with
//! 1009 once inflated past the cap, below the message limit; one at the cap and
//! an uncompressed one past it pass.
#![cfg(feature = "deflate")]

use websocket_protocol::protocol::{
    CloseCode, DeflateConfig, Driver, Event, Message, Options, Transmit,
};

fn pump(from: &mut Driver, to: &mut Driver) {
    while let Some(t) = from.poll_transmit() {
        if let Transmit::Data(bytes) = t {
            to.receive(&bytes, std::time::Instant::now());
        }
    }
}

/// A client (compressing messages from `threshold` bytes) and a server with a
/// 1 KiB cap, deflate negotiated, open.
fn pair(threshold: usize) -> (Driver, Driver) {
    let client_options = Options::default().deflate(DeflateConfig::default().threshold(threshold));
    let mut client = Driver::client("ws://example.com/", client_options).unwrap();
    client.start(std::time::Instant::now());
    let Some(Transmit::Data(request)) = client.poll_transmit() else {
        unreachable!()
    };
    let server_options = Options::default()
        .deflate(DeflateConfig::default())
        .max_inflated_message_size(1024);
    let mut server = Driver::server_from_bytes(&request, server_options)
        .unwrap()
        .unwrap();
    server.start(std::time::Instant::now());
    pump(&mut server, &mut client);
    assert_eq!(server.poll_event(), Some(Event::Open));
    assert_eq!(client.poll_event(), Some(Event::Open));
    assert!(server.deflate_params().is_some());
    (client, server)
}

#[test]
fn compressed_messages_past_the_cap_close_with_1009() {
    let (mut client, mut server) = pair(0);
    client.binary(vec![0u8; 1024]).unwrap();
    pump(&mut client, &mut server);
    assert_eq!(
        server.poll_event(),
        Some(Event::Message(Message::binary(vec![0u8; 1024])))
    );
    client.binary(vec![0u8; 1025]).unwrap();
    pump(&mut client, &mut server);
    assert!(matches!(server.poll_event(), Some(Event::Error(_))));
    let Some(Event::Close(frame)) = server.poll_event() else {
        panic!("no close")
    };
    assert_eq!(frame.code, CloseCode::TOO_BIG);
}

#[test]
fn the_cap_leaves_uncompressed_messages_to_the_message_limit() {
    let (mut client, mut server) = pair(8192);
    client.binary(vec![7u8; 4096]).unwrap();
    pump(&mut client, &mut server);
    assert_eq!(
        server.poll_event(),
        Some(Event::Message(Message::binary(vec![7u8; 4096])))
    );
}
