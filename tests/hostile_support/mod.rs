//! Peers that misbehave on purpose, against one of the real server paths, with
//! the memory each attack makes the server hold measured by this binary's
//! counting global allocator (not RSS, not timing).
//!
//! Each `hostile_*.rs` binary runs every attack of [`run`] against one path, one
//! at a time (the count is process-wide), and reports every attack that broke
//! its bound before failing, so that one failure hides no other. The bounds are
//! the README's "Limits" table: each names the setting that sets it.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use websocket_protocol::{Config, WebSocket};

// ---- memory ------------------------------------------------------------------

#[path = "../alloc_support/mod.rs"]
mod alloc_support;
use alloc_support::{Counting, LIVE, PEAK};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// Waiting for anything the server must do in these tests (a close frame, a
/// closed connection) gives up after this long: a hang is a failure, not a wait.
const PATIENCE: Duration = Duration::from_secs(15);

// ---- the server paths ----------------------------------------------------------

/// Which of the library's server paths the attacks go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// `WebSocket::accept` on a raw TCP stream.
    Raw,
    /// `WsLayer` on hyper, served through `server::serve_connection_with`.
    Hyper,
    /// `WsUpgrade` in an axum `Router`, served through
    /// `server::serve_connection_with` (plain `axum::serve` has no head timeout).
    Axum,
}

/// What the server's handler does with its socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handler {
    /// Reads messages and sends each back.
    Echo,
    /// Starts the closing handshake at once, then waits for the end.
    CloseNow,
}

async fn handle<IO>(mut ws: WebSocket<IO>, handler: Handler)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match handler {
        Handler::Echo => {
            while let Some(Ok(message)) = ws.recv().await {
                if ws.send(message).await.is_err() {
                    break;
                }
            }
        }
        Handler::CloseNow => {
            let _ = ws.close(1000u16, "bye").await;
        }
    }
}

/// Starts a server on a loopback port for one attack.
async fn serve(path: Path, config: Config, handler: Handler) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    match path {
        Path::Raw => {
            tokio::spawn(async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    let config = config.clone();
                    tokio::spawn(async move {
                        if let Ok(ws) = WebSocket::accept(tcp, config).await {
                            handle(ws, handler).await;
                        }
                    });
                }
            });
        }
        Path::Hyper => {
            use websocket_protocol::server::{RequestInfo, ServerSocket, WsLayer};
            let layer = WsLayer::new(move |ws: ServerSocket, _: RequestInfo| handle(ws, handler))
                .config(config.clone());
            let fallback = tower::service_fn(|_req: http::Request<hyper::body::Incoming>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(String::from("not ws")))
            });
            let service = tower::Layer::layer(&layer, fallback);
            // The config's handshake timeout bounds the wait for the head too.
            tokio::spawn(async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    let (service, config) = (service.clone(), config.clone());
                    tokio::spawn(async move {
                        let _ = websocket_protocol::server::serve_connection_with(
                            tcp, service, &config,
                        )
                        .await;
                    });
                }
            });
        }
        Path::Axum => serve_axum(listener, config, handler),
    }
    addr
}

#[cfg(feature = "axum")]
fn serve_axum(listener: TcpListener, config: Config, handler: Handler) {
    use axum::routing::get;
    use websocket_protocol::server::WsUpgrade;
    let route_config = config.clone();
    let app = axum::Router::new().route(
        "/",
        get(move |ws: WsUpgrade| {
            let config = route_config.clone();
            async move { ws.config(config).on_upgrade(move |ws| handle(ws, handler)) }
        }),
    );
    // Served as the server docs advise for a bounded handshake: plain
    // `axum::serve` gives hyper no timer, so a silent connection would stay.
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (app, config) = (app.clone(), config.clone());
            tokio::spawn(async move {
                let _ = websocket_protocol::server::serve_connection_with(tcp, app, &config).await;
            });
        }
    });
}

#[cfg(not(feature = "axum"))]
fn serve_axum(_: TcpListener, _: Config, _: Handler) {
    unreachable!("the axum binary requires the axum feature")
}

// ---- the attacker's side ---------------------------------------------------------

const KEY: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

/// The upgrade request, with extra header lines.
fn request(extra: &str) -> Vec<u8> {
    format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
    .into_bytes()
}

/// A masked client frame.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&KEY);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    out
}

/// Connects and completes the handshake; the 101 head is read byte by byte so
/// that nothing after it is consumed.
async fn open(addr: SocketAddr, extra: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    tcp.write_all(&request(extra)).await.unwrap();
    let mut head = Vec::with_capacity(512);
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(PATIENCE, tcp.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        assert!(n == 1, "connection closed during the handshake");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    tcp
}

/// What the server did in the end.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// It sent a close frame with this code (then closed, or not within patience).
    Close(Option<u16>),
    /// It closed the connection without a close frame.
    Eof,
    /// Nothing within patience.
    Hang,
}

/// Reads frames from the server, skipping data and pongs, until its close frame
/// or the end of the stream. Returns the end and the payload bytes of the data
/// frames skipped.
async fn read_to_close(tcp: &mut TcpStream) -> (End, usize) {
    // Small: the attacker's own allocations count in the measure too.
    let mut buf = vec![0u8; 2 * KIB];
    let mut have = 0;
    let mut data = 0;
    let end = loop {
        // Parse what is there.
        let mut at = 0;
        let mut close = None;
        while have - at >= 2 {
            let b = &buf[at..have];
            let (len, head) = match b[1] & 0x7F {
                126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
                127 if b.len() >= 10 => (
                    u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
                    10,
                ),
                126 | 127 => break,
                n => (n as usize, 2),
            };
            if b[0] & 0x0F == 0x8 {
                if b.len() < head + len {
                    break;
                }
                close = Some(match len {
                    0 => None,
                    _ => Some(u16::from_be_bytes([b[head], b[head + 1]])),
                });
                break;
            }
            // Skip data frames as their bytes arrive.
            let take = (head + len).min(b.len());
            if take < head + len {
                // Count and drop the partial payload; keep a header for the rest.
                data += take - head;
                let left = head + len - take;
                // Rewrite what remains as an unmasked binary frame of `left` bytes.
                let hdr = header(0x82, left);
                buf[..hdr.len()].copy_from_slice(&hdr);
                have = hdr.len();
                at = 0;
                break;
            }
            data += len;
            at += take;
        }
        if let Some(code) = close {
            break End::Close(code);
        }
        if at > 0 {
            buf.copy_within(at..have, 0);
            have -= at;
        }
        match tokio::time::timeout(PATIENCE, tcp.read(&mut buf[have..])).await {
            Err(_) => break End::Hang,
            Ok(Ok(0)) | Ok(Err(_)) => break End::Eof,
            Ok(Ok(n)) => have += n,
        }
    };
    (end, data)
}

fn header(first: u8, len: usize) -> Vec<u8> {
    let mut out = vec![first];
    match len {
        0..=125 => out.push(len as u8),
        126..=0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out
}

/// Whether the server closes the connection (EOF or reset) within patience,
/// reading and dropping whatever it sends.
async fn closed_by_server(tcp: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(PATIENCE, tcp.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

// ---- the attacks -------------------------------------------------------------------

/// One attack's outcome: what it measured against its bound.
struct Outcome {
    name: &'static str,
    /// Peak heap above the idle server's, per attacking connection.
    peak: usize,
    bound: usize,
    /// What the server had to do, and whether it did.
    behaviour: Result<(), String>,
}

/// Runs `attack` on `conns` connections of a fresh server and measures the peak
/// heap above what the idle server held.
async fn measure<F, Fut>(
    path: Path,
    config: Config,
    handler: Handler,
    conns: usize,
    attack: F,
) -> (usize, Vec<Result<(), String>>)
where
    F: Fn(SocketAddr) -> Fut,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let addr = serve(path, config, handler).await;
    // Let the runtime's first-connection allocations happen before the baseline.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let tasks: Vec<_> = (0..conns).map(|_| tokio::spawn(attack(addr))).collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(
            t.await
                .unwrap_or_else(|e| Err(format!("attacker panicked: {e}"))),
        );
    }
    let peak = PEAK.load(Relaxed).saturating_sub(base);
    // Give the server's tasks time to drop what they held before the next attack.
    tokio::time::sleep(Duration::from_millis(200)).await;
    (peak / conns, results)
}

fn all_ok(results: Vec<Result<(), String>>) -> Result<(), String> {
    results.into_iter().find(|r| r.is_err()).unwrap_or(Ok(()))
}

/// The close code a malformed frame must get, and the frame.
fn malformed_frames() -> Vec<(&'static str, Vec<u8>, u16)> {
    let mut v: Vec<(&'static str, Vec<u8>, u16)> = vec![
        ("unmasked frame", vec![0x82, 0x01, b'x'], 1002),
        ("RSV1 without an extension", frame(0xC2, b"x"), 1002),
        ("RSV2", frame(0xA2, b"x"), 1002),
        ("RSV3", frame(0x92, b"x"), 1002),
        ("fragmented ping", frame(0x09, b"x"), 1002),
        ("126-byte ping", frame(0x89, &[0; 126]), 1002),
        (
            "126-byte close",
            frame(0x88, &[0x03, 0xE8].repeat(63)),
            1002,
        ),
        ("continuation first", frame(0x80, b"x"), 1002),
        (
            "text inside a fragmented message",
            [frame(0x01, b"a"), frame(0x81, b"b")].concat(),
            1002,
        ),
        ("invalid UTF-8 text", frame(0x81, &[0xC3, 0x28]), 1007),
        (
            "UTF-8 split invalid across fragments",
            [frame(0x01, &[0xE2, 0x82]), frame(0x80, &[0x28])].concat(),
            1007,
        ),
        ("1-byte close payload", frame(0x88, &[0x03]), 1002),
        (
            "close reason not UTF-8",
            frame(0x88, &[0x03, 0xE8, 0xFF]),
            1007,
        ),
        (
            "length with the top bit set (2^63)",
            {
                let mut f = vec![0x82, 0xFF];
                f.extend_from_slice(&(1u64 << 63).to_be_bytes());
                f.extend_from_slice(&KEY);
                f
            },
            1002,
        ),
        (
            "2^63 - 1 bytes announced",
            {
                let mut f = vec![0x82, 0xFF];
                f.extend_from_slice(&(u64::MAX >> 1).to_be_bytes());
                f.extend_from_slice(&KEY);
                f
            },
            1009,
        ),
    ];
    for opcode in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        v.push(("reserved opcode", frame(0x80 | opcode, b"x"), 1002));
    }
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        v.push((
            "reserved close code",
            frame(0x88, &code.to_be_bytes()),
            1002,
        ));
    }
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
    ] {
        // A valid code is echoed.
        v.push((
            "valid close code (echoed)",
            frame(0x88, &code.to_be_bytes()),
            code,
        ));
    }
    v
}

/// Every malformed frame and close code, each on its own connection: the right
/// close code back, then the connection closed.
async fn malformed(path: Path) -> Outcome {
    let cases = malformed_frames();
    let mut worst = 0;
    let mut behaviour = Ok(());
    for (what, bytes, code) in cases {
        let bytes = std::sync::Arc::new(bytes);
        let (peak, results) = measure(path, Config::default(), Handler::Echo, 1, move |addr| {
            let bytes = bytes.clone();
            async move {
                let mut tcp = open(addr, "").await;
                tcp.write_all(&bytes).await.unwrap();
                match read_to_close(&mut tcp).await.0 {
                    End::Close(Some(c)) if c == code => {}
                    other => return Err(format!("{what}: {other:?}, expected close {code}")),
                }
                if !closed_by_server(&mut tcp).await {
                    return Err(format!("{what}: not closed after the close frame"));
                }
                Ok(())
            }
        })
        .await;
        worst = worst.max(peak);
        if behaviour.is_ok() {
            behaviour = all_ok(results);
        }
    }
    Outcome {
        name: "every malformed frame and close code",
        peak: worst,
        bound: 64 * KIB,
        behaviour,
    }
}

/// A peer that writes 64 KiB messages to an echo handler and never reads: the
/// server must stop reading once its write buffer and its unread-message bound
/// are full, instead of buffering what it cannot send.
async fn write_flood(path: Path) -> Outcome {
    const CONNS: usize = 4;
    let message = std::sync::Arc::new(frame(0x82, &[7; 64 * KIB]).repeat(16)); // 1 MiB
    let (peak, results) = measure(path, Config::default(), Handler::Echo, CONNS, move |addr| {
        let message = message.clone();
        async move {
            let mut tcp = open(addr, "").await;
            let mut sent = 0;
            // Until the server stops reading (a write stalls), at most 64 MiB.
            while sent < 64 * MIB {
                match tokio::time::timeout(Duration::from_secs(2), tcp.write_all(&message)).await {
                    Ok(Ok(())) => sent += message.len(),
                    Ok(Err(e)) => return Err(format!("write failed after {sent} bytes: {e}")),
                    Err(_) => return Ok(()),
                }
            }
            Err(format!(
                "the server read {sent} bytes without our reading a byte"
            ))
        }
    })
    .await;
    // The write buffer (128 KiB default), the unread messages (64 KiB default,
    // issue 10), the message being read and the one being written, and the
    // kernel-sized reads: 512 KiB.
    Outcome {
        name: "write flood, never reading",
        peak,
        bound: 512 * KIB,
        behaviour: all_ok(results),
    }
}

/// A peer that pings without pause and never reads the pongs.
async fn ping_flood(path: Path) -> Outcome {
    const CONNS: usize = 4;
    let pings = std::sync::Arc::new(frame(0x89, &[1; 125]).repeat(8 * KIB)); // ~1 MiB
    let (peak, results) = measure(path, Config::default(), Handler::Echo, CONNS, move |addr| {
        let pings = pings.clone();
        async move {
            let mut tcp = open(addr, "").await;
            // The server may keep reading: it holds one pong at most, the
            // newest (RFC 6455 5.5.3), so what it holds is bounded either way.
            // Or it may stop once its writes back up. Both are fine; the
            // memory bound below is the assertion.
            let mut sent = 0;
            while sent < 64 * MIB {
                match tokio::time::timeout(Duration::from_secs(2), tcp.write_all(&pings)).await {
                    Ok(Ok(())) => sent += pings.len(),
                    Ok(Err(e)) => return Err(format!("write failed after {sent} bytes: {e}")),
                    Err(_) => return Ok(()),
                }
            }
            Ok(())
        }
    })
    .await;
    // At most one pending pong, the bytes already handed to the transport,
    // and the read in progress: 256 KiB.
    Outcome {
        name: "ping flood, pongs never read",
        peak,
        bound: 256 * KIB,
        behaviour: all_ok(results),
    }
}

/// A message of a million one-byte fragments: joined within the message limit,
/// in one buffer, and echoed.
async fn million_fragments(path: Path) -> Outcome {
    const N: usize = 1_000_000;
    let mut wire = frame(0x02, b"a");
    let one = frame(0x00, b"a");
    for _ in 1..N - 1 {
        wire.extend_from_slice(&one);
    }
    wire.extend_from_slice(&frame(0x80, b"a"));
    let wire = std::sync::Arc::new(wire);
    let (peak, results) = measure(path, Config::default(), Handler::Echo, 1, move |addr| {
        let wire = wire.clone();
        async move {
            let mut tcp = open(addr, "").await;
            let (mut rd, mut wr) = tcp.split();
            let write = async { wr.write_all(&wire).await.map_err(|e| e.to_string()) };
            let read = async {
                let mut got = 0usize;
                let mut buf = [0u8; 1024];
                // The echo: a 10-byte header and the million bytes.
                while got < N + 10 {
                    match tokio::time::timeout(PATIENCE, rd.read(&mut buf)).await {
                        Ok(Ok(n)) if n > 0 => got += n,
                        _ => break,
                    }
                }
                got
            };
            let (written, got) = tokio::join!(write, read);
            written?;
            if got < N + 10 {
                return Err(format!("read {got} bytes, not the {N}-byte echo"));
            }
            Ok(())
        }
    })
    .await;
    // The message joined once (1 MB, grown in place within the 64 MiB limit, so
    // at most twice that), its echo shares it: 3 MiB.
    Outcome {
        name: "a million 1-byte fragments",
        peak,
        bound: 3 * MIB,
        behaviour: all_ok(results),
    }
}

/// Fragments that carry a message past `max_message_size` (64 KiB here).
async fn fragments_past_the_limit(path: Path) -> Outcome {
    let config = Config::default().max_message_size(64 * KIB);
    let piece = frame(0x00, &[b'a'; KIB]);
    let mut wire = frame(0x02, &[b'a'; KIB]);
    for _ in 0..255 {
        wire.extend_from_slice(&piece);
    }
    let wire = std::sync::Arc::new(wire);
    let (peak, results) = measure(path, config, Handler::Echo, 1, move |addr| {
        let wire = wire.clone();
        async move {
            let mut tcp = open(addr, "").await;
            // The server may close before it all arrives.
            let _ = tcp.write_all(&wire).await;
            match read_to_close(&mut tcp).await.0 {
                End::Close(Some(1009)) => Ok(()),
                other => Err(format!("{other:?}, expected close 1009")),
            }
        }
    })
    .await;
    // The joined message up to the limit (64 KiB) and the fragment being read.
    Outcome {
        name: "fragments past max_message_size",
        peak,
        bound: 256 * KIB,
        behaviour: all_ok(results),
    }
}

/// A compressed message that inflates past `max_inflated_message_size` (1 MiB
/// here, under the default 64 MiB message limit): 1009, with the inflated output
/// never much past the cap.
#[cfg(feature = "deflate")]
async fn deflate_bomb(path: Path) -> Outcome {
    use flate2::{Compress, Compression, FlushCompress};
    use websocket_protocol::protocol::{DeflateConfig, Options};
    let limit = MIB;
    let config = Config::default().options(
        Options::default()
            .deflate(DeflateConfig::default())
            .max_inflated_message_size(limit),
    );
    // 64 MiB of zeros, raw deflate with a sync flush, trailer stripped: ~64 KiB.
    let mut z = Compress::new(Compression::best(), false);
    let zeros = vec![0u8; MIB];
    let mut compressed = Vec::with_capacity(128 * KIB);
    for i in 0..64 {
        let flush = if i == 63 {
            FlushCompress::Sync
        } else {
            FlushCompress::None
        };
        z.compress_vec(&zeros, &mut compressed, flush).unwrap();
        compressed.reserve(16 * KIB);
    }
    compressed.truncate(compressed.len() - 4);
    drop(zeros);
    let wire = std::sync::Arc::new(frame(0xC2, &compressed));
    let compressed_len = compressed.len();
    let (peak, results) = measure(path, config, Handler::Echo, 1, move |addr| {
        let wire = wire.clone();
        async move {
            let mut tcp = open(addr, "Sec-WebSocket-Extensions: permessage-deflate\r\n").await;
            let _ = tcp.write_all(&wire).await;
            match read_to_close(&mut tcp).await.0 {
                End::Close(Some(1009)) => Ok(()),
                other => Err(format!("{other:?}, expected close 1009")),
            }
        }
    })
    .await;
    // The compressed frame, the output up to the limit (grown by doubling: the
    // last growth holds the old and the new buffer, 1.5 times the limit), and
    // the deflate state (~420 KiB at the default level).
    Outcome {
        name: "deflate bomb (64 MiB of zeros in one frame)",
        peak,
        bound: compressed_len + 2 * limit + 512 * KIB + 64 * KIB,
        behaviour: all_ok(results),
    }
}

/// The handler closes; the peer never answers (and never reads): the close
/// timeout (1 s here) ends the connection.
async fn close_never_answered(path: Path) -> Outcome {
    let config = Config::default().close_timeout(Duration::from_secs(1));
    let (peak, results) = measure(path, config, Handler::CloseNow, 4, |addr| async move {
        let mut tcp = open(addr, "").await;
        // Read nothing until well past the timeout, then expect the end.
        tokio::time::sleep(Duration::from_secs(2)).await;
        if closed_by_server(&mut tcp).await {
            Ok(())
        } else {
            Err("still open past the close timeout".into())
        }
    })
    .await;
    Outcome {
        name: "our close frame never answered",
        peak,
        bound: 32 * KIB,
        behaviour: all_ok(results),
    }
}

/// The peer sends a close frame and never reads the echo: the server closes.
async fn close_then_silence(path: Path) -> Outcome {
    let (peak, results) = measure(
        path,
        Config::default(),
        Handler::Echo,
        4,
        |addr| async move {
            let mut tcp = open(addr, "").await;
            tcp.write_all(&frame(0x88, &1000u16.to_be_bytes()))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_secs(1)).await;
            if closed_by_server(&mut tcp).await {
                Ok(())
            } else {
                Err("still open after the peer's close".into())
            }
        },
    )
    .await;
    Outcome {
        name: "peer's close, echo never read",
        peak,
        bound: 32 * KIB,
        behaviour: all_ok(results),
    }
}

/// Connections that send their request one byte every 200 ms, or nothing at
/// all: the handshake timeout (1 s here) closes them, on every path.
async fn slow_handshakes(path: Path, silent: bool) -> Outcome {
    const CONNS: usize = 32;
    let config = Config::default().handshake_timeout(Duration::from_secs(1));
    let (peak, results) = measure(path, config, Handler::Echo, CONNS, move |addr| async move {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        if silent {
            return if closed_by_server(&mut tcp).await {
                Ok(())
            } else {
                Err("a silent connection still open".into())
            };
        }
        let request = request("");
        for (i, byte) in request.iter().enumerate() {
            if tcp.write_all(std::slice::from_ref(byte)).await.is_err() {
                return Ok(()); // closed by the server
            }
            let mut probe = [0u8; 64];
            if let Ok(r) =
                tokio::time::timeout(Duration::from_millis(200), tcp.read(&mut probe)).await
            {
                match r {
                    Ok(0) | Err(_) => return Ok(()),
                    // A 408 or similar answer, then the close.
                    Ok(_) => {
                        return if closed_by_server(&mut tcp).await {
                            Ok(())
                        } else {
                            Err("answered but open".into())
                        }
                    }
                }
            }
            if i * 200 > 15_000 {
                break;
            }
        }
        Err(format!(
            "a {}-byte request sent at 5 bytes/s was never cut off",
            request.len()
        ))
    })
    .await;
    Outcome {
        name: if silent {
            "silent TCP connections"
        } else {
            "slowloris (1 byte per 200 ms)"
        },
        peak,
        // A pending handshake: the connection's task and a small read buffer; on
        // the hyper paths, hyper's connection and its read buffer too.
        bound: if path == Path::Raw {
            16 * KIB
        } else {
            48 * KIB
        },
        behaviour: all_ok(results),
    }
}

/// Attacks that break their bound on this branch until issue 10 lands (bounded
/// reading with a 64 KiB unread-message default; a handshake timeout on the hyper
/// paths). They still run and print; they fail the test only when listed here no
/// more. Empty this list when issue 10 is merged.
const AWAITING_ISSUE_10: &[(Path, &str)] = &[];

/// Runs every attack against `path` and fails with all the broken bounds.
pub fn run(path: Path) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        #[allow(unused_mut)] // pushed to with the deflate feature
        let mut outcomes = vec![
            malformed(path).await,
            write_flood(path).await,
            ping_flood(path).await,
            million_fragments(path).await,
            fragments_past_the_limit(path).await,
            close_never_answered(path).await,
            close_then_silence(path).await,
            slow_handshakes(path, false).await,
            slow_handshakes(path, true).await,
        ];
        #[cfg(feature = "deflate")]
        outcomes.push(deflate_bomb(path).await);
        let mut failures = Vec::new();
        let mut known = Vec::new();
        for o in &outcomes {
            let mem_ok = o.peak <= o.bound;
            let awaited = AWAITING_ISSUE_10.contains(&(path, o.name));
            println!(
                "{path:?} | {:<45} | peak {:>8} KiB per connection | bound {:>6} KiB | {}{}",
                o.name,
                o.peak / KIB,
                o.bound / KIB,
                if mem_ok { "ok" } else { "OVER" },
                match &o.behaviour {
                    Ok(()) => String::new(),
                    Err(e) => format!(" | {e}"),
                }
            );
            let broken = if awaited { &mut known } else { &mut failures };
            if !mem_ok {
                broken.push(format!(
                    "{}: {} KiB > {} KiB",
                    o.name,
                    o.peak / KIB,
                    o.bound / KIB
                ));
            }
            if let Err(e) = &o.behaviour {
                broken.push(format!("{}: {e}", o.name));
            }
        }
        if !known.is_empty() {
            println!("{path:?}: broken until issue 10 lands: {known:#?}");
        }
        assert!(failures.is_empty(), "{path:?}: {failures:#?}");
    });
}
