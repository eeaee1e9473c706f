//! Interop with a real browser: Debian's headless Chromium, driven by
//! playwright-core, against our server (the scenario page) and against the chat
//! example (two pages that must see each other's messages).
#![cfg(all(feature = "axum", feature = "deflate"))]

mod interop_support;

use interop_support::*;
use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use websocket_protocol::protocol::DeflateConfig;

async fn browser_scenario(server: OurServer) -> Outcome {
    let mut server = server;
    let page = format!("http://{}/", server.addr);
    let mut browser = Peer::spawn("node", &["browser.js", &page]);
    let mut outcome = browser.outcome().await;
    let mut expected = client_steps(&BROWSER_SIZES, false);
    expected.retain(|s| s != "ping-by-client");
    outcome.assert_ok(&expected);
    let closes = server.next_closes(2).await;
    let first = closes[0].as_ref().expect("a close frame");
    assert_eq!(
        (u16::from(first.code), first.reason.as_str()),
        (4001, "client bye")
    );
    outcome.events.clear();
    outcome
}

#[tokio::test]
#[ignore = "needs chromium and node with playwright-core (.ci/run installs them)"]
async fn chromium_against_our_server() {
    let outcome = browser_scenario(OurServer::start(false).await).await;
    // Chromium offers permessage-deflate; a server without it declines.
    assert_eq!(outcome.detail("extensions").unwrap(), "");
}

#[tokio::test]
#[ignore = "needs chromium and node with playwright-core (.ci/run installs them)"]
async fn chromium_against_our_server_with_deflate() {
    // The server's default: Chromium offers `client_max_window_bits`, so both
    // windows are 4 KiB.
    let outcome = browser_scenario(OurServer::start(true).await).await;
    assert_eq!(
        outcome.detail("extensions").unwrap(),
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
    );
}

#[tokio::test]
#[ignore = "needs chromium and node with playwright-core (.ci/run installs them)"]
async fn chromium_against_our_server_with_deflate_no_context_takeover() {
    let config = DeflateConfig::default()
        .server_no_context_takeover(true)
        .client_no_context_takeover(true);
    let outcome = browser_scenario(OurServer::start_deflate(Some(config)).await).await;
    assert_eq!(
        outcome.detail("extensions").unwrap(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=12; client_max_window_bits=12"
    );
}

#[tokio::test]
#[ignore = "needs chromium and node with playwright-core (.ci/run installs them)"]
async fn chromium_against_our_server_with_deflate_small_windows() {
    let config = DeflateConfig::default()
        .server_max_window_bits(9)
        .client_max_window_bits(9);
    let outcome = browser_scenario(OurServer::start_deflate(Some(config)).await).await;
    assert_eq!(
        outcome.detail("extensions").unwrap(),
        "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9"
    );
}

/// The chat example's binary, which `cargo test` builds beside the test binaries.
fn chat_example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let path = dir
        .join("examples")
        .join(format!("chat{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} missing: run `cargo build --example chat`",
        path.display()
    );
    path
}

#[tokio::test]
#[ignore = "needs chromium and node with playwright-core (.ci/run installs them)"]
async fn chat_example_in_two_browser_pages() {
    let mut chat = tokio::process::Command::new(chat_example())
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the chat example");
    let mut lines = BufReader::new(chat.stdout.take().unwrap()).lines();
    let first = lines
        .next_line()
        .await
        .unwrap()
        .expect("the chat example printed nothing");
    let url = first
        .strip_prefix("chat on ")
        .expect("chat on http://ADDR/")
        .to_owned();
    let mut browser = Peer::spawn("node", &["chat.js", &url]);
    let outcome = browser.outcome().await;
    outcome.assert_ok(&[
        "both-connected".to_owned(),
        "seen-by-the-other-page-1".to_owned(),
        "seen-by-the-other-page-2".to_owned(),
    ]);
    let _ = chat.kill().await;
}
