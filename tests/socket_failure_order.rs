//! A good message followed by a bad frame in the same TCP write: the peer sees
//! the echo of the good message first, then the close frame, byte for byte,
//! through the raw socket (`WebSocket::accept`) and through the server
//! (`WsLayer` on hyper). The ping behind the bad frame is never answered.

mod server_util;

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use websocket_protocol::server::{RequestInfo, ServerSocket, WsLayer};
use websocket_protocol::{Config, WebSocket};

const REQUEST: &[u8] =
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// A masked client frame with first byte `b0` (FIN, RSV, opcode).
fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![b0, 0x80 | payload.len() as u8];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// The server's unmasked close frame for `code` and `reason`.
fn close(code: u16, reason: &str) -> Vec<u8> {
    let mut out = vec![0x88, 2 + reason.len() as u8];
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(reason.as_bytes());
    out
}

const HELLO_ECHO: &[u8] = b"\x81\x05Hello";

struct Case {
    name: &'static str,
    /// The good message, the bad frame, a ping: one write.
    wire: Vec<u8>,
    close: Vec<u8>,
}

fn cases() -> Vec<Case> {
    let hello = frame(0x81, b"Hello");
    let ping = frame(0x89, b"ping");
    let then = |bad: &[&[u8]]| -> Vec<u8> {
        let mut wire = hello.clone();
        bad.iter().for_each(|b| wire.extend_from_slice(b));
        wire.extend_from_slice(&ping);
        wire
    };
    // "Hello" in two fragments, then a continuation that continues nothing.
    let mut stray = frame(0x01, b"Hel");
    stray.extend(frame(0x80, b"lo"));
    stray.extend(frame(0x80, b"x"));
    stray.extend_from_slice(&ping);
    vec![
        Case {
            name: "RSV2",
            wire: then(&[&frame(0xA1, b"x")]),
            close: close(
                1002,
                "protocol error: RSV bits set without a negotiated extension",
            ),
        },
        Case {
            name: "reserved opcode 5",
            wire: then(&[&frame(0x85, b"")]),
            close: close(1002, "protocol error: reserved opcode"),
        },
        Case {
            name: "stray continuation",
            wire: stray,
            close: close(
                1002,
                "protocol error: continuation frame with no message started",
            ),
        },
        Case {
            name: "data frame inside a fragmented message",
            wire: then(&[&frame(0x01, b"a"), &frame(0x81, b"b")]),
            close: close(
                1002,
                "protocol error: new data frame inside a fragmented message",
            ),
        },
        Case {
            name: "invalid UTF-8 in the next message",
            wire: then(&[&frame(0x81, &[0xce, 0xff])]),
            close: close(1007, "text is not valid UTF-8"),
        },
    ]
}

/// Opens a connection, writes the case in one write, and reads all the server
/// sends after its 101 until it closes TCP.
async fn run(addr: SocketAddr, case: &Case) -> Vec<u8> {
    let mut tcp = server_util::send(addr, REQUEST).await;
    let head = server_util::read_head(&mut tcp).await;
    assert!(head.starts_with(b"HTTP/1.1 101 "), "{}", case.name);
    tcp.write_all(&case.wire).await.unwrap();
    let mut wire = Vec::new();
    tokio::time::timeout(server_util::LIMIT, tcp.read_to_end(&mut wire))
        .await
        .expect("the server did not close in time")
        .unwrap();
    wire
}

fn expected(case: &Case) -> Vec<u8> {
    [HELLO_ECHO, &case.close].concat()
}

#[tokio::test]
async fn through_the_raw_socket_the_echo_leaves_before_the_close() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut ws = WebSocket::accept(tcp, Config::default()).await.unwrap();
                while let Some(Ok(message)) = ws.recv().await {
                    if ws.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    for case in cases() {
        assert_eq!(run(addr, &case).await, expected(&case), "{}", case.name);
    }
}

async fn echo(mut ws: ServerSocket, _req: RequestInfo) {
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

#[tokio::test]
async fn through_the_server_the_echo_leaves_before_the_close() {
    let layer = WsLayer::new(echo);
    let addr = server_util::serve(tower::Layer::layer(&layer, server_util::fallback())).await;
    for case in cases() {
        assert_eq!(run(addr, &case).await, expected(&case), "{}", case.name);
    }
}
