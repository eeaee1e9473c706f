//! Two Chromium pages on two chat example processes, one room joined through
//! Redis: a line typed on either page reaches the other.
#![cfg(all(feature = "redis", feature = "axum", feature = "deflate"))]

mod interop_support;

use interop_support::*;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

async fn chat_process(redis: &str) -> (Child, String) {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let path = dir
        .join("examples")
        .join(format!("chat{}", std::env::consts::EXE_SUFFIX));
    let mut chat = Command::new(path)
        .args(["127.0.0.1:0", "--redis", redis])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the chat example (cargo build --example chat)");
    let mut lines = BufReader::new(chat.stdout.take().unwrap()).lines();
    let first = lines
        .next_line()
        .await
        .unwrap()
        .expect("chat on http://ADDR/");
    let url = first.strip_prefix("chat on ").unwrap().to_owned();
    (chat, url)
}

/// Waits until `n` connections subscribe to `channel`.
async fn until_subscribed(url: &str, channel: &str, n: i64) {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    for _ in 0..1500 {
        let counts: Vec<(String, i64)> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channel)
            .query_async(&mut conn)
            .await
            .unwrap();
        if counts.first().map(|c| c.1) == Some(n) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{channel} never had {n} subscribers");
}

#[tokio::test]
#[ignore = "needs redis-server, chromium and node with playwright-core (.ci/run)"]
async fn two_browser_pages_on_two_chat_processes() {
    let redis = std::env::var("WSP_REDIS_URL")
        .expect("WSP_REDIS_URL names the redis-server to use (.ci/run starts one)");
    // Nobody else in the room: the pages must be the only subscribers.
    until_subscribed(&redis, "chat:room", 0).await;
    let (mut one, one_url) = chat_process(&redis).await;
    let (mut two, two_url) = chat_process(&redis).await;
    let mut browser = Peer::spawn("node", &["chat.js", &one_url, &two_url]);
    let outcome = browser.outcome().await;
    outcome.assert_ok(&[
        "both-connected".to_owned(),
        "seen-by-the-other-page-1".to_owned(),
        "seen-by-the-other-page-2".to_owned(),
    ]);
    let _ = one.kill().await;
    let _ = two.kill().await;
}
