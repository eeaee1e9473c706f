//! What the core's tests share: a sample upgrade request and the drains for a
//! driver's two outputs.
#![allow(dead_code)]

use std::time::Instant;
use websocket_protocol::protocol::{Driver, Event, Transmit};

/// The key of RFC 6455 section 1.3's sample handshake.
pub const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A valid RFC 6455 upgrade request (version 13, the RFC's sample key).
pub fn upgrade_request() -> http::Request<()> {
    http::Request::get("/")
        .header("Host", "example.com")
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Key", RFC_KEY)
        .header("Sec-WebSocket-Version", "13")
        .body(())
        .unwrap()
}

/// Every byte queued so far, and whether a shutdown was asked for.
pub fn drain(d: &mut Driver) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut shutdown = false;
    while let Some(t) = d.poll_transmit() {
        match t {
            Transmit::Data(b) => {
                assert!(!shutdown, "data after Transmit::Shutdown");
                out.extend_from_slice(&b)
            }
            Transmit::Shutdown => shutdown = true,
        }
    }
    (out, shutdown)
}

/// Every event queued so far.
pub fn events(d: &mut Driver) -> Vec<Event> {
    std::iter::from_fn(|| d.poll_event()).collect()
}

/// A server driver for [`upgrade_request`], started, its response taken, open.
pub fn open_server(options: websocket_protocol::protocol::Options) -> Driver {
    let mut d = Driver::server(&upgrade_request(), options).unwrap();
    d.start(Instant::now());
    drain(&mut d);
    assert_eq!(events(&mut d), vec![Event::Open]);
    d
}
