//! What the core's tests share: a sample upgrade request, the drains for a
//! driver's two outputs, and frames built and parsed byte by byte.
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

// ---- frames ------------------------------------------------------------------

/// The mask key of RFC 6455 section 5.7's examples.
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// One frame with the header bits in `first`, masked with `mask` when given.
pub fn frame(first: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![first];
    let bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(bit | n as u8),
        n if n <= 0xFFFF => {
            out.push(bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A frame as a client sends it (masked).
pub fn c(first: u8, payload: &[u8]) -> Vec<u8> {
    frame(first, payload, Some(KEY))
}

/// A frame as a server sends it (unmasked).
pub fn s(first: u8, payload: &[u8]) -> Vec<u8> {
    frame(first, payload, None)
}

pub fn cat(frames: &[Vec<u8>]) -> Vec<u8> {
    frames.concat()
}

/// A decoded frame of our own output: header byte, mask key, unmasked payload.
#[derive(Debug, PartialEq)]
pub struct Sent {
    pub first: u8,
    pub mask: Option<[u8; 4]>,
    pub payload: Vec<u8>,
}

pub fn parse_frames(mut buf: &[u8]) -> Vec<Sent> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let first = buf[0];
        let masked = buf[1] & 0x80 != 0;
        let (len, mut pos) = match buf[1] & 0x7F {
            126 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        let mask = masked.then(|| {
            let k: [u8; 4] = buf[pos..pos + 4].try_into().unwrap();
            pos += 4;
            k
        });
        let mut payload = buf[pos..pos + len].to_vec();
        if let Some(k) = mask {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= k[i % 4];
            }
        }
        out.push(Sent {
            first,
            mask,
            payload,
        });
        buf = &buf[pos + len..];
    }
    out
}
