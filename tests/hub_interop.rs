//! Shared compressed frames against real deflate peers: Python websockets, Node
//! ws and Chromium, with context takeover on (their default) and with
//! `server_no_context_takeover`. Our server sends many messages, interleaving
//! prepared ones (compressed once, shared by every connection) with ordinary
//! ones compressed by the connection; the peer echoes each (compressed with its
//! own context), and the server checks every echo byte for byte. A peer that
//! could not inflate a shared frame, or a compressor of ours out of step with
//! the peer's window, fails the connection or an echo.
#![cfg(all(feature = "axum", feature = "deflate"))]

mod interop_support;

use axum::response::Html;
use axum::routing::get;
use axum::Router;
use interop_support::*;
use std::sync::OnceLock;
use tokio::sync::mpsc;
use websocket_protocol::hub::Hub;
use websocket_protocol::protocol::{DeflateConfig, PreparedMessage};
use websocket_protocol::server::{ServerSocket, WsUpgrade};
use websocket_protocol::{CloseCode, Config, Message};

const MESSAGES: usize = 240;

/// Message `i`: text or binary, 40 bytes to 6 KB, compressible, all different.
fn message(i: usize) -> Message {
    let size = [80, 300, 1500, 6000, 40, 700][i % 6];
    let line = format!("{{\"seq\":{i},\"room\":\"lobby\",\"text\":\"line {i} for everyone\"}} ");
    let body: String = line.repeat(size / line.len() + 1)[..size].to_owned();
    if i % 5 == 4 {
        Message::binary(body.into_bytes())
    } else {
        Message::text(body)
    }
}

/// The prepared messages, shared by every connection of every peer.
fn prepared() -> &'static [PreparedMessage] {
    static P: OnceLock<Vec<PreparedMessage>> = OnceLock::new();
    P.get_or_init(|| {
        (0..MESSAGES)
            .map(|i| PreparedMessage::new(message(i)))
            .collect()
    })
}

/// What one connection saw: echoes that matched, and the first mismatch.
type Report = (usize, Option<String>);

async fn scenario(mut ws: ServerSocket, hub: Hub, report: mpsc::UnboundedSender<Report>) {
    // Through the hub (a topic of its own) and directly, both shared paths.
    let topic = format!("conn-{:p}", &ws as *const _);
    hub.subscribe(&topic, &ws);
    let mut matched = 0;
    let mut mismatch = None;
    for i in 0..MESSAGES {
        let sent = message(i);
        let queued = match i % 3 {
            0 => ws.send(sent.clone()).await.is_ok(),
            1 => ws.send_prepared(&prepared()[i]).await.is_ok(),
            _ => hub.publish(&topic, prepared()[i].clone()).delivered == 1,
        };
        if !queued {
            mismatch = Some(format!("message {i} not queued"));
            break;
        }
        match ws.recv().await {
            Some(Ok(echo)) if echo == sent => matched += 1,
            other => {
                let mut seen = format!("{other:?}");
                seen.truncate(120);
                mismatch = Some(format!("echo {i} ({} bytes sent): {seen}", sent.len()));
                break;
            }
        }
    }
    let _ = ws.close(CloseCode::NORMAL, "").await;
    let _ = report.send((matched, mismatch));
}

struct Server {
    url: String,
    reports: mpsc::UnboundedReceiver<Report>,
    _task: tokio::task::JoinHandle<()>,
}

async fn server() -> Server {
    let (tx, reports) = mpsc::unbounded_channel();
    let hub = Hub::new();
    let handler = move |nct: bool| {
        let (tx, hub) = (tx.clone(), hub.clone());
        move |ws: WsUpgrade| {
            let (tx, hub) = (tx.clone(), hub.clone());
            async move {
                let deflate = DeflateConfig::default()
                    .server_no_context_takeover(nct)
                    .threshold(64);
                ws.config(Config::default().deflate(deflate))
                    .on_upgrade(move |socket| scenario(socket, hub, tx))
            }
        }
    };
    let page = || async { Html(include_str!("peers/fanout.html")) };
    let app = Router::new()
        .route("/", get(page))
        .route("/fanout", get(handler(false)))
        .route("/fanout-nct", get(handler(true)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server {
        url: format!("127.0.0.1:{}", addr.port()),
        reports,
        _task: task,
    }
}

async fn run(program: &str, args: impl Fn(&str, &str) -> Vec<String>) {
    let mut server = server().await;
    for (path, takeover) in [("/fanout", true), ("/fanout-nct", false)] {
        let args = args(&server.url, path);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut peer = Peer::spawn(program, &args);
        let outcome = peer.outcome().await;
        outcome.assert_ok(&["deflate".to_owned(), "closed".to_owned()]);
        let ext = outcome
            .detail("deflate")
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            !ext.contains("server_no_context_takeover"),
            takeover,
            "{ext}"
        );
        let (matched, mismatch) = server.reports.recv().await.unwrap();
        assert_eq!(mismatch, None, "{program} {path}");
        assert_eq!(matched, MESSAGES, "{program} {path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3 with websockets (.ci/run installs it)"]
async fn python_websockets_inflates_shared_frames() {
    run("python3", |addr, path| {
        vec!["fanout.py".into(), format!("ws://{addr}{path}")]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs node with ws (.ci/run installs it)"]
async fn node_ws_inflates_shared_frames() {
    run("node", |addr, path| {
        vec!["fanout.js".into(), format!("ws://{addr}{path}")]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node with playwright-core (.ci/run installs them)"]
async fn chromium_inflates_shared_frames() {
    run("node", |addr, path| {
        vec!["browser.js".into(), format!("http://{addr}/?path={path}")]
    })
    .await;
}
