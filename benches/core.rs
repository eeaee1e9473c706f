//! Micro-benchmarks of the sans-IO core: masking, frame parsing (large and tiny
//! frames) and UTF-8 validation, each next to a baseline.
//!
//! Run briefly: `cargo bench --bench core -- --warm-up-time 1 --measurement-time 2`.
//!
//! tungstenite's own `apply_mask` is private (`protocol::frame::mask`), so the
//! masking baseline is a naive byte loop; tungstenite appears instead in the
//! parsing benchmarks, reading the same bytes through its blocking `WebSocket`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::io::{Read, Write};
use std::time::Instant;
use tokio_tungstenite::tungstenite::protocol::{Role as TRole, WebSocket, WebSocketConfig};
use websocket_protocol::protocol::{apply_mask, Driver, Event, Options, Utf8Bytes};

const MIB: usize = 1 << 20;
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn naive_mask(buf: &mut [u8], key: [u8; 4]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

/// A masked client frame (final, with `opcode`) around `payload`.
fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&KEY);
    let start = out.len();
    out.extend_from_slice(payload);
    naive_mask(&mut out[start..], KEY);
    out
}

/// An open server driver with limits large enough for the benchmarks.
fn server() -> Driver {
    let req = http::Request::get("/")
        .header("Host", "bench")
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("Sec-WebSocket-Version", "13")
        .body(())
        .unwrap();
    let options = Options::default()
        .max_frame_size(4 * MIB)
        .max_message_size(4 * MIB);
    let mut d = Driver::server(&req, options).unwrap();
    d.start(Instant::now());
    while d.poll_transmit().is_some() {}
    while d.poll_event().is_some() {}
    d
}

/// Feeds `wire` to the driver and consumes the messages; returns their count.
fn feed(d: &mut Driver, wire: &[u8]) -> usize {
    d.receive(wire, Instant::now());
    let mut n = 0;
    while let Some(e) = d.poll_event() {
        if let Event::Message(m) = e {
            black_box(m);
            n += 1;
        }
    }
    n
}

/// A stream that reads `data` over and over and swallows writes: tungstenite's
/// blocking socket reading from memory.
struct Repeat {
    data: Vec<u8>,
    pos: usize,
}

impl Read for Repeat {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos = (self.pos + n) % self.data.len();
        Ok(n)
    }
}

impl Write for Repeat {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn tungstenite_server(wire: Vec<u8>) -> WebSocket<Repeat> {
    let config = WebSocketConfig::default()
        .max_frame_size(Some(4 * MIB))
        .max_message_size(Some(4 * MIB));
    WebSocket::from_raw_socket(Repeat { data: wire, pos: 0 }, TRole::Server, Some(config))
}

fn masking(c: &mut Criterion) {
    let mut g = c.benchmark_group("mask_1MiB");
    g.throughput(Throughput::Bytes(MIB as u64));
    let mut buf = vec![0x5Au8; MIB];
    g.bench_function("ours", |b| {
        b.iter(|| apply_mask(black_box(&mut buf), black_box(KEY), 0))
    });
    g.bench_function("naive_byte_loop", |b| {
        b.iter(|| naive_mask(black_box(&mut buf), black_box(KEY)))
    });
    // Unaligned start and an odd offset: the piecewise case of a payload that
    // arrives in several reads.
    g.bench_function("ours_unaligned", |b| {
        b.iter(|| apply_mask(black_box(&mut buf[3..]), black_box(KEY), 3))
    });
    g.finish();
}

fn parse_large(c: &mut Criterion) {
    let payload: Vec<u8> = (0..MIB).map(|i| (i % 251) as u8).collect();
    let wire = masked_frame(0x2, &payload);
    let mut g = c.benchmark_group("parse_1MiB_frame");
    g.throughput(Throughput::Bytes(wire.len() as u64));
    let mut d = server();
    g.bench_function("ours_driver", |b| {
        b.iter(|| assert_eq!(feed(&mut d, black_box(&wire)), 1))
    });
    // Reading straight into the driver's buffer, as an I/O layer does: no copy in
    // `receive`, only the copy a socket read would make anyway.
    let mut d = server();
    g.bench_function("ours_driver_input_chunk", |b| {
        b.iter(|| {
            let now = Instant::now();
            let mut rest = black_box(&wire[..]);
            while !rest.is_empty() {
                let chunk = d.input_chunk(rest.len());
                let n = chunk.len();
                chunk.copy_from_slice(&rest[..n]);
                d.commit(n, now);
                rest = &rest[n..];
            }
            black_box(d.poll_event());
        })
    });
    let mut ws = tungstenite_server(wire.clone());
    g.bench_function("tungstenite", |b| b.iter(|| black_box(ws.read().unwrap())));
    g.finish();
}

fn parse_small(c: &mut Criterion) {
    // 16-byte frames: a 6-byte masked header and 10 bytes of payload.
    let count = MIB / 16;
    let one = masked_frame(0x2, b"0123456789");
    assert_eq!(one.len(), 16);
    let wire = one.repeat(count);
    let mut g = c.benchmark_group("parse_64Ki_16B_frames");
    g.throughput(Throughput::Bytes(wire.len() as u64));
    let mut d = server();
    g.bench_function("ours_driver", |b| {
        b.iter(|| assert_eq!(feed(&mut d, black_box(&wire)), count))
    });
    let mut ws = tungstenite_server(wire.clone());
    g.bench_function("tungstenite", |b| {
        b.iter(|| {
            for _ in 0..count {
                black_box(ws.read().unwrap());
            }
        })
    });
    g.finish();
}

fn utf8(c: &mut Criterion) {
    // Mostly ASCII with some two-, three- and four-byte code points.
    let unit = "WebSocket text: café, ünïcödé, 日本語, 𝄞 and plenty of ASCII around it. ";
    let mut text = unit.repeat(MIB / unit.len() + 1);
    let mut end = MIB;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    let bytes = text.as_bytes();
    let mut g = c.benchmark_group("utf8_1MiB");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("std_from_utf8", |b| {
        b.iter(|| std::str::from_utf8(black_box(bytes)).unwrap().len())
    });
    g.bench_function("simdutf8_compat", |b| {
        b.iter(|| simdutf8::compat::from_utf8(black_box(bytes)).unwrap().len())
    });
    // Through the driver: the same bytes as a text frame and, for the cost of
    // everything but validation, as a binary frame.
    let text_wire = masked_frame(0x1, bytes);
    let binary_wire = masked_frame(0x2, bytes);
    let mut d = server();
    g.bench_function("ours_driver_text_frame", |b| {
        b.iter(|| assert_eq!(feed(&mut d, black_box(&text_wire)), 1))
    });
    let mut d = server();
    g.bench_function("ours_driver_binary_frame", |b| {
        b.iter(|| assert_eq!(feed(&mut d, black_box(&binary_wire)), 1))
    });
    // `Utf8Bytes::as_str` skips validation because its constructors validated
    // (its one `unsafe`); a safe accessor would pay `from_utf8` on every call.
    let held = Utf8Bytes::try_from(bytes::Bytes::copy_from_slice(bytes)).unwrap();
    g.bench_function("utf8bytes_as_str", |b| {
        b.iter(|| black_box(&held).as_str().len())
    });
    g.bench_function("utf8bytes_as_str_if_revalidated", |b| {
        b.iter(|| {
            simdutf8::basic::from_utf8(black_box(&held).as_bytes())
                .unwrap()
                .len()
        })
    });
    g.finish();
}

criterion_group!(benches, masking, parse_large, parse_small, utf8);
criterion_main!(benches);
