//! `recv_stream` against peers nobody here wrote: Python `websockets` and Node
//! `ws` upload large messages (fragmented, in one frame, text with code points
//! cut by fragments, with and without permessage-deflate); our server reads
//! each in pieces, checks every byte and the size of the pieces, and answers
//! its verdict, which the peer checks (tests/peers/upload.py, upload.js).
#![cfg(feature = "deflate")]

mod interop_support;

use interop_support::Peer;
use tokio::net::TcpListener;
use websocket_protocol::protocol::MessageKind;
use websocket_protocol::{Config, WebSocket};

const UNIT: &str = "héllo wörld €𝄞 ";

/// Serves one connection: each message read in pieces and checked against
/// the peers' patterns, answered with "<kind> <bytes> ok" (or "bad").
async fn serve(listener: TcpListener) -> usize {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut ws = WebSocket::accept(tcp, Config::default()).await.unwrap();
    let mut messages = 0;
    loop {
        // (`let else`, not `while let`: the body borrows the socket, which
        // answers once the body is dropped.)
        let Some(body) = ws.recv_stream().await else {
            break;
        };
        let mut body = body.unwrap();
        let kind = body.kind();
        let (mut at, mut ok, mut largest) = (0usize, true, 0);
        while let Some(piece) = body.chunk().await {
            let piece = piece.unwrap();
            largest = largest.max(piece.len());
            ok &= match kind {
                MessageKind::Binary => piece
                    .iter()
                    .enumerate()
                    .all(|(i, &b)| b == ((at + i) % 251) as u8),
                MessageKind::Text => {
                    std::str::from_utf8(&piece).is_ok()
                        && piece
                            .iter()
                            .enumerate()
                            .all(|(i, &b)| b == UNIT.as_bytes()[(at + i) % UNIT.len()])
                }
            };
            at += piece.len();
        }
        drop(body);
        ok &= largest <= 64 << 10;
        let kind = if kind == MessageKind::Text {
            "text"
        } else {
            "binary"
        };
        let verdict = if ok { "ok" } else { "bad" };
        ws.text(format!("{kind} {at} {verdict}")).await.unwrap();
        messages += 1;
    }
    messages
}

async fn run(program: &str, script: &str, deflate: bool) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(serve(listener));
    let mut args = vec![script, url.as_str()];
    if deflate {
        args.push("--deflate");
    }
    let mut peer = Peer::spawn(program, &args);
    let outcome = peer.outcome().await;
    let mut expected: Vec<String> = [
        "fragmented-binary",
        "single-frame-binary",
        "fragmented-text",
    ]
    .map(String::from)
    .to_vec();
    if deflate {
        expected.push("deflate".into());
    }
    outcome.assert_ok(&expected);
    assert_eq!(server.await.unwrap(), 3);
    peer.kill().await;
}

#[tokio::test]
#[ignore = "needs python3 with websockets (tests/peers/requirements.txt; .ci/run installs it)"]
async fn python_uploads_are_read_in_pieces() {
    run("python3", "upload.py", false).await;
}

#[tokio::test]
#[ignore = "needs python3 with websockets (tests/peers/requirements.txt; .ci/run installs it)"]
async fn python_compressed_uploads_are_read_in_pieces() {
    run("python3", "upload.py", true).await;
}

#[tokio::test]
#[ignore = "needs node with ws (tests/peers/package.json; .ci/run installs it)"]
async fn node_uploads_are_read_in_pieces() {
    run("node", "upload.js", false).await;
}

#[tokio::test]
#[ignore = "needs node with ws (tests/peers/package.json; .ci/run installs it)"]
async fn node_compressed_uploads_are_read_in_pieces() {
    run("node", "upload.js", true).await;
}
