//! Streaming send against peers nobody here wrote: Python `websockets`
//! receives our fragmented messages frame by frame (`recv_streaming()`), with
//! and without permessage-deflate, and reports the frames it saw; Node's `ws`
//! joins them itself. Both echo each message whole, so its bytes are checked.
#![cfg(feature = "deflate")]

mod interop_support;

use interop_support::*;
use tokio::io::AsyncWriteExt;
use websocket_protocol::protocol::{DeflateConfig, MessageKind};
use websocket_protocol::{client, CloseCode, Config, Message};

/// Streams a binary and a text message (code points split across fragments)
/// to `script` (`fragments.py`, `fragments.js`), and checks what it saw (the
/// frames, when `frames` says it reports them) and what it echoed.
async fn stream_to(program: &str, script: &str, deflate: bool, frames: bool) {
    let mut args = vec![script];
    if deflate {
        args.push("--deflate");
    }
    let mut peer = Peer::spawn(program, &args);
    let port = peer.port().await;
    let mut config = Config::default().fragment_size(999);
    config = config.deflate(deflate.then(DeflateConfig::default));
    let (mut ws, _) = client::Builder::new(format!("ws://127.0.0.1:{port}/"))
        .config(config)
        .connect()
        .await
        .unwrap();

    // Binary: 3500 bytes in fragments of 999, through the AsyncWrite.
    let binary = binary_of(3500);
    let mut writer = ws.message_writer(MessageKind::Binary).unwrap();
    writer.write_all(&binary).await.unwrap();
    writer.shutdown().await.unwrap();
    drop(writer);
    let seen = peer.next().await.unwrap();
    if frames {
        assert_eq!(seen["frames"], 4, "{seen}");
        assert_eq!(
            seen["sizes"],
            serde_json::json!([999, 999, 999, 503]),
            "inflated as each frame came: {seen}"
        );
    } else {
        assert_eq!(seen["len"], 3500, "{seen}");
        assert_eq!(seen["binary"], true, "{seen}");
    }
    if deflate {
        assert!(
            seen["extensions"]
                .as_str()
                .is_some_and(|e| e.starts_with("permessage-deflate")),
            "{seen}"
        );
    } else {
        assert!(seen["extensions"].is_null(), "{seen}");
    }
    let echo = ws.recv().await.unwrap().unwrap();
    assert!(echo.as_bytes() == &binary[..]);

    // Text: "é" is two bytes, and 999 is odd: every fragment boundary splits one.
    let text = "é".repeat(1500);
    let mut writer = ws.message_writer(MessageKind::Text).unwrap();
    writer.write_all(text.as_bytes()).await.unwrap();
    writer.shutdown().await.unwrap();
    drop(writer);
    let seen = peer.next().await.unwrap();
    if frames {
        assert_eq!(seen["frames"], 4, "{seen}");
    } else {
        assert_eq!(seen["binary"], false, "{seen}");
    }
    let echo = ws.recv().await.unwrap().unwrap();
    assert_eq!(echo, Message::binary(text.into_bytes()));

    // A compressible message, several times (context takeover across them).
    for _ in 0..3 {
        let chunk = text_of(10_000);
        let mut writer = ws.message_writer(MessageKind::Text).unwrap();
        writer.write_all(chunk.as_bytes()).await.unwrap();
        writer.shutdown().await.unwrap();
        drop(writer);
        let seen = peer.next().await.unwrap();
        if frames {
            assert_eq!(seen["frames"], 11, "{seen}");
        }
        let echo = ws.recv().await.unwrap().unwrap();
        assert!(echo.as_bytes() == chunk.as_bytes());
    }

    let frame = ws.close(CloseCode::NORMAL, "done").await.unwrap();
    assert_eq!(frame.code, CloseCode::NORMAL);
    assert_eq!(peer.next().await.unwrap()["closed"], 1000);
    peer.kill().await;
}

#[tokio::test]
#[ignore = "needs python3 with websockets (tests/peers/requirements.txt; .ci/run installs it)"]
async fn python_receives_our_fragments() {
    stream_to("python3", "fragments.py", false, true).await;
}

#[tokio::test]
#[ignore = "needs python3 with websockets (tests/peers/requirements.txt; .ci/run installs it)"]
async fn python_receives_our_fragments_deflate() {
    stream_to("python3", "fragments.py", true, true).await;
}

#[tokio::test]
#[ignore = "needs node with ws (tests/peers/package.json; .ci/run installs it)"]
async fn node_receives_our_fragments() {
    stream_to("node", "fragments.js", false, false).await;
}

#[tokio::test]
#[ignore = "needs node with ws (tests/peers/package.json; .ci/run installs it)"]
async fn node_receives_our_fragments_deflate() {
    stream_to("node", "fragments.js", true, false).await;
}
