//! What permessage-deflate costs a server per connection, measured with a
//! counting global allocator over many driver pairs: before anything is
//! compressed, after one compressed message each way, and while a deflate bomb
//! is refused. One test function only: the allocator counts the whole process.
#![cfg(feature = "deflate")]

mod core_support;

use core_support::*;

use std::sync::atomic::Ordering::Relaxed;
use websocket_protocol::protocol::{
    CloseCode, DeflateConfig, Driver, ErrorKind, Event, Message, Options,
};

mod alloc_support;
use alloc_support::{Counting, LIVE, PEAK};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const CONNECTIONS: usize = 200;

/// A chat line of about 0.5 KiB, different for each `i`.
fn chat_line(i: usize) -> String {
    let mut line =
        format!("{{\"type\":\"message\",\"room\":\"general\",\"user\":\"user{i}\",\"text\":\"");
    while line.len() < 500 {
        line.push_str(&format!("word{} ", (i * 7919 + line.len()) % 97));
    }
    line.push_str("\"}");
    line
}

/// Server bytes per connection, live after the handshake and after one message
/// each way, for `CONNECTIONS` servers whose clients use `client`.
fn server_cost(client: Options, server: Options) -> (usize, usize) {
    let mut clients: Vec<Driver> = Vec::new();
    let mut requests = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut c = Driver::client("ws://localhost/", client.clone()).unwrap();
        c.start(std::time::Instant::now());
        requests.push(drain(&mut c).0);
        clients.push(c);
    }
    let base = LIVE.load(Relaxed);
    let mut servers = Vec::new();
    let mut responses = Vec::new();
    for request in &requests {
        let mut s = Driver::server_from_bytes(request, server.clone())
            .unwrap()
            .unwrap();
        s.start(std::time::Instant::now());
        responses.push(drain(&mut s).0);
        assert_eq!(events(&mut s), vec![Event::Open]);
        servers.push(s);
    }
    let idle = LIVE.load(Relaxed) - base;
    // The clients' side is not what is measured: keep its allocations outside.
    let mut wires = Vec::new();
    for (i, (c, response)) in clients.iter_mut().zip(&responses).enumerate() {
        c.receive(response, std::time::Instant::now());
        assert_eq!(events(c), vec![Event::Open]);
        c.text(chat_line(i)).unwrap();
        wires.push(drain(c).0);
    }
    drop(responses);
    let before = LIVE.load(Relaxed);
    for (i, (s, wire)) in servers.iter_mut().zip(&wires).enumerate() {
        s.receive(wire, std::time::Instant::now());
        assert_eq!(events(s), vec![Event::Message(Message::text(chat_line(i)))]);
        s.text(chat_line(i + 1)).unwrap();
        drain(s);
    }
    let used = LIVE.load(Relaxed) - before + idle;
    (idle / CONNECTIONS, used / CONNECTIONS)
}

#[test]
fn deflate_costs_a_server_little_per_connection_and_a_bomb_stays_bounded() {
    let offer = || Options::default().deflate(DeflateConfig::default());
    // Warm this thread's shared compressor and inflater, which every later
    // connection on it uses: they are per thread, not per connection.
    server_cost(offer(), Options::default());

    let (plain_idle, plain_used) = server_cost(Options::default(), Options::default());
    let (idle, used) = server_cost(offer(), Options::default());
    // A client that cannot be asked for a smaller window may use 32 KiB.
    let (wide_idle, wide_used) = server_cost(
        offer(),
        Options::default().deflate(DeflateConfig::default().client_max_window_bits(15)),
    );
    let (reset_idle, reset_used) = server_cost(
        offer(),
        Options::default().deflate(
            DeflateConfig::default()
                .server_no_context_takeover(true)
                .client_no_context_takeover(true),
        ),
    );
    println!("server bytes per connection, after the handshake / after one message each way:");
    println!("  without deflate:             {plain_idle} / {plain_used}");
    println!("  deflate, defaults:           {idle} / {used}");
    println!("  deflate, client window 15:   {wide_idle} / {wide_used}");
    println!("  deflate, no context takeover: {reset_idle} / {reset_used}");

    // Issue 16's budget: at most 8 KiB more before anything is compressed, at
    // most 64 KiB more after.
    for (name, idle, used) in [
        ("defaults", idle, used),
        ("client window 15", wide_idle, wide_used),
        ("no context takeover", reset_idle, reset_used),
    ] {
        assert!(idle <= plain_idle + 8192, "{name}: {idle} idle");
        assert!(used <= plain_used + 65536, "{name}: {used} after a message");
    }
    // What each setting keeps: 4 KiB per direction; 32 + 4 KiB; nothing.
    let slack = 1024;
    // The negotiated parameters, the boxed handles on the shared compressor
    // and inflater, and the extension's response header (a fourth header
    // doubles the response's compact header map: 312 bytes).
    assert!(idle <= plain_idle + 640, "{idle}");
    assert!(used <= plain_used + 8192 + slack, "{used}");
    assert!(wide_used <= plain_used + 36864 + slack, "{wide_used}");
    assert!(reset_used <= plain_used + slack, "{reset_used}");

    // A bomb: 64 MiB of zeros, about 64 KiB compressed, refused with 1009 as
    // soon as the output passes the limit. The output grows by reallocation, which
    // this allocator counts as old and new block alive at once, so the bound is
    // twice the limit, plus the frame and one inflation step.
    let limit = 1 << 20;
    let mut c = Driver::client("ws://localhost/", offer()).unwrap();
    c.start(std::time::Instant::now());
    let request = drain(&mut c).0;
    let mut s = Driver::server_from_bytes(&request, Options::default().max_message_size(limit))
        .unwrap()
        .unwrap();
    s.start(std::time::Instant::now());
    c.receive(&drain(&mut s).0, std::time::Instant::now());
    events(&mut s);
    c.binary(vec![0u8; 64 << 20]).unwrap();
    let wire = drain(&mut c).0;
    drop(c);
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    s.receive(&wire, std::time::Instant::now());
    let ev = events(&mut s);
    let peak = PEAK.load(Relaxed) - base;
    assert!(
        matches!(&ev[0], Event::Error(e) if e.kind() == ErrorKind::TooBig),
        "{ev:?}"
    );
    assert!(matches!(&ev[1], Event::Close(f) if f.code == CloseCode::TOO_BIG));
    println!("peak while refusing a 64 MiB bomb with a 1 MiB limit: {peak}");
    assert!(peak <= 2 * limit + (192 << 10), "{peak}");
}
