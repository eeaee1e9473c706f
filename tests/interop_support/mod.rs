//! The interop matrix's harness: peer processes (tests/peers), our scenario
//! server and our scenario client. The scenario is in tests/peers/README.md.
#![allow(dead_code)]

use axum::response::Html;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use futures::SinkExt;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::mpsc;
use websocket_protocol::client::Builder;
use websocket_protocol::protocol::{DeflateConfig, MessageKind};
use websocket_protocol::server::{ServerSocket, WsUpgrade};
use websocket_protocol::{CloseCode, CloseFrame, Config, Message};

/// Message sizes every pair echoes.
pub const SIZES: [usize; 7] = [0, 125, 126, 65535, 65536, 1 << 20, 16 << 20];
/// Sizes the browser page echoes.
pub const BROWSER_SIZES: [usize; 6] = [0, 125, 126, 65535, 65536, 1 << 20];

/// How long one peer run may take before the test fails instead of hanging.
const RUN_LIMIT: Duration = Duration::from_secs(120);

pub fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

pub fn text_of(n: usize) -> String {
    "abcdefghijklmnopqrstuvwxyz0123456789"
        .chars()
        .cycle()
        .take(n)
        .collect()
}

pub fn binary_of(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// The steps a client run must report, all ok.
pub fn client_steps(sizes: &[usize], deflate: bool) -> Vec<String> {
    let mut steps = vec!["subprotocol".to_owned()];
    if deflate {
        steps.push("deflate".into());
    }
    for n in sizes {
        steps.push(format!("echo-text-{n}"));
        steps.push(format!("echo-binary-{n}"));
    }
    for s in [
        "ping-by-server",
        "fragmented-by-server",
        "close-by-client",
        "close-by-server",
        "refused",
    ] {
        steps.push(s.into());
    }
    steps
}

/// What a run reported.
#[derive(Debug, Default)]
pub struct Outcome {
    pub steps: Vec<(String, bool, Value)>,
    pub events: Vec<Value>,
    pub done: bool,
}

impl Outcome {
    pub fn step(&mut self, name: impl Into<String>, ok: bool, detail: impl Into<Value>) {
        self.steps.push((name.into(), ok, detail.into()));
    }

    pub fn detail(&self, name: &str) -> Option<&Value> {
        self.steps
            .iter()
            .find(|(n, ..)| n == name)
            .map(|(_, _, d)| d)
    }

    /// Every expected step is there and ok, no step failed, and the run finished.
    pub fn assert_ok(&self, expected: &[String]) {
        let failed: Vec<_> = self.steps.iter().filter(|(_, ok, _)| !ok).collect();
        assert!(
            failed.is_empty(),
            "failed steps: {failed:?}\nall: {:?}",
            self.steps
        );
        for name in expected {
            assert!(
                self.steps.iter().any(|(n, ..)| n == name),
                "missing step {name}; got {:?}",
                self.steps
            );
        }
        assert!(self.done, "the run did not finish: {:?}", self.steps);
    }
}

/// A peer program from tests/peers, speaking JSON lines on stdout.
pub struct Peer {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Peer {
    pub fn spawn(program: &str, args: &[&str]) -> Peer {
        let mut child = Command::new(program)
            .args(args)
            .current_dir(peers_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {program} (run .ci/run to install the peers): {e}")
            });
        let lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        Peer { child, lines }
    }

    pub async fn next(&mut self) -> Option<Value> {
        let line = tokio::time::timeout(RUN_LIMIT, self.lines.next_line())
            .await
            .expect("peer went silent")
            .expect("peer stdout")?;
        Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad peer line {line:?}: {e}")))
    }

    /// A server peer's port, from its first line.
    pub async fn port(&mut self) -> u16 {
        let first = self.next().await.expect("server peer printed nothing");
        first["listening"].as_u64().expect("listening line") as u16
    }

    /// Reads a client peer's run to its end.
    pub async fn outcome(&mut self) -> Outcome {
        let mut out = Outcome::default();
        while let Some(v) = self.next().await {
            if let Some(e) = v.get("error") {
                panic!("peer failed: {e}\nsteps so far: {:?}", out.steps);
            }
            if v.get("done").is_some() {
                out.done = true;
                break;
            }
            if let Some(name) = v["step"].as_str() {
                out.step(name, v["ok"].as_bool() == Some(true), v["detail"].clone());
            } else {
                out.events.push(v);
            }
        }
        out
    }

    /// The next `n` lines of a server peer (its "closed" events).
    pub async fn events(&mut self, n: usize) -> Vec<Value> {
        let mut out = Vec::new();
        while out.len() < n {
            out.push(self.next().await.expect("server peer ended early"));
        }
        out
    }

    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}

fn base_config() -> Config {
    Config::default()
        .max_message_size(64 << 20)
        .max_frame_size(64 << 20)
}

/// Our server's configuration: with `deflate`, the default (which accepts
/// permessage-deflate), else deflate turned off.
fn server_config(deflate: bool) -> Config {
    if deflate {
        base_config()
    } else {
        base_config().deflate(None)
    }
}

/// Our scenario server: axum with `WsUpgrade`, serving the browser page at `/`.
pub struct OurServer {
    pub addr: SocketAddr,
    /// The close frame each finished connection saw from its client.
    pub closes: mpsc::UnboundedReceiver<Option<CloseFrame>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for OurServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OurServer {
    pub async fn start(deflate: bool) -> OurServer {
        OurServer::start_with(server_config(deflate)).await
    }

    /// Our scenario server with `config`'s deflate settings (`None`: the
    /// server's default).
    pub async fn start_deflate(config: Option<DeflateConfig>) -> OurServer {
        match config {
            Some(c) => OurServer::start_with(base_config().deflate(c)).await,
            None => OurServer::start(true).await,
        }
    }

    pub async fn start_with(config: Config) -> OurServer {
        let (tx, closes) = mpsc::unbounded_channel();
        let echo = move |ws: WsUpgrade| {
            let tx = tx.clone();
            let config = config.clone();
            async move {
                ws.protocols(["superchat"])
                    .config(config)
                    .on_upgrade(move |socket| scenario(socket, tx))
            }
        };
        let refuse =
            |ws: WsUpgrade| async move { ws.check_origin(|_| false).on_upgrade(|_| async {}) };
        let page = || async { Html(include_str!("../peers/browser.html")) };
        let app = Router::new()
            .route("/", get(page))
            .route("/echo", get(echo))
            .route("/refuse", get(refuse));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        OurServer { addr, closes, task }
    }

    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The close frames of the next `n` connections to finish.
    pub async fn next_closes(&mut self, n: usize) -> Vec<Option<CloseFrame>> {
        let mut out = Vec::new();
        while out.len() < n {
            let next = tokio::time::timeout(Duration::from_secs(10), self.closes.recv())
                .await
                .expect("a connection did not finish")
                .expect("server gone");
            out.push(next);
        }
        out
    }
}

async fn scenario(mut ws: ServerSocket, closes: mpsc::UnboundedSender<Option<CloseFrame>>) {
    while let Some(message) = ws.recv().await {
        let Ok(message) = message else { break };
        match message.as_text() {
            Some("close-me") => {
                let _ = ws.close(CloseCode::from(4002), "server bye").await;
                break;
            }
            Some("ping-me") => {
                if ws.ping(&b"srv"[..]).await.is_ok() && ws.text("pinged").await.is_err() {
                    break;
                }
            }
            // Three fragments; the last is fed, not flushed, so that closing
            // the sink sends it with FIN.
            Some("fragment-me") => {
                let sent = async {
                    let mut sink = ws.message_sink(MessageKind::Text)?;
                    sink.send(Bytes::from_static(b"frag")).await?;
                    sink.send(Bytes::from_static(b"ment")).await?;
                    sink.feed(Bytes::from_static(b"ed")).await?;
                    sink.close().await
                };
                if sent.await.is_err() {
                    break;
                }
            }
            _ => {
                if ws.send(message).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = closes.send(ws.close_frame());
}

/// Our client running the client scenario against `base` (a peer's server).
pub async fn our_client(base: &str, deflate: bool) -> Outcome {
    our_client_deflate(base, deflate.then(DeflateConfig::default)).await
}

/// Our client running the client scenario, offering deflate with `deflate`.
pub async fn our_client_deflate(base: &str, deflate: Option<DeflateConfig>) -> Outcome {
    let mut out = Outcome::default();
    let config = base_config().deflate(deflate.clone());
    let deflate = deflate.is_some();
    let connect = |path: &str, protocols: &[&str]| {
        Builder::new(format!("{base}{path}"))
            .protocols(protocols.iter().copied())
            .config(config.clone())
            .connect_timeout(Duration::from_secs(10))
            .connect()
    };
    let (mut ws, response) = connect("/echo", &["chat", "superchat"])
        .await
        .expect("connect");
    out.step(
        "subprotocol",
        ws.protocol() == Some("superchat"),
        ws.protocol().unwrap_or(""),
    );
    if deflate {
        let ext = response
            .headers()
            .get("sec-websocket-extensions")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        out.step("deflate", ext.starts_with("permessage-deflate"), ext);
    }
    for n in SIZES {
        for message in [Message::text(text_of(n)), Message::binary(binary_of(n))] {
            let kind = if message.is_text() { "text" } else { "binary" };
            ws.send(message.clone())
                .await
                .unwrap_or_else(|e| panic!("send {kind} {n}: {e:?}"));
            let echoed = match ws.recv().await {
                Some(Ok(echoed)) => echoed,
                other => panic!("echo of {kind} {n}: {other:?}, {:?}", ws.close_frame()),
            };
            out.step(format!("echo-{kind}-{n}"), echoed == message, echoed.len());
        }
    }
    let rtt = tokio::time::timeout(Duration::from_secs(5), ws.ping(&b"cli"[..])).await;
    out.step(
        "ping-by-client",
        matches!(rtt, Ok(Ok(_))),
        format!("{rtt:?}"),
    );
    ws.text("ping-me").await.expect("send");
    let reply = ws.recv().await.expect("reply").expect("reply");
    out.step(
        "ping-by-server",
        reply.as_text() == Some("pinged"),
        format!("{reply:?}"),
    );
    ws.text("fragment-me").await.expect("send");
    let reply = ws.recv().await.expect("reply").expect("reply");
    out.step(
        "fragmented-by-server",
        reply.as_text() == Some("fragmented"),
        format!("{reply:?}"),
    );
    let echoed = ws.close(CloseCode::from(4001), "client bye").await;
    out.step(
        "close-by-client",
        matches!(&echoed, Ok(f) if u16::from(f.code) == 4001),
        format!("{echoed:?}"),
    );

    let (mut ws, _) = connect("/echo", &[]).await.expect("connect");
    ws.text("close-me").await.expect("send");
    let end = ws.recv().await;
    let frame = ws.close_frame();
    out.step(
        "close-by-server",
        end.is_none()
            && matches!(&frame, Some(f) if u16::from(f.code) == 4002 && f.reason == "server bye"),
        format!("{end:?} {frame:?}"),
    );

    let refused = connect("/refuse", &[]).await;
    let status = refused.as_ref().err().and_then(|e| e.status());
    out.step(
        "refused",
        status.map(|s| s.as_u16()) == Some(403),
        format!("{:?}", refused.err()),
    );
    out.done = true;
    out
}

/// Checks that a server peer saw our client's closes: 4001 from the first
/// connection, and (in reply to its own 4002) the second's.
pub fn assert_peer_saw_client_close(events: &[Value]) {
    assert_eq!(events[0]["event"], "closed", "{events:?}");
    assert_eq!(events[0]["code"], 4001, "{events:?}");
    assert_eq!(events[0]["reason"], "client bye", "{events:?}");
}

/// The first connection of a scenario was closed by the client with 4001.
pub fn assert_client_closed_first(closes: &[Option<CloseFrame>]) {
    let first = closes[0].as_ref().expect("a close frame");
    assert_eq!(
        (u16::from(first.code), first.reason.as_str()),
        (4001, "client bye")
    );
}

/// A peer's client program (`program script client URL`) against our server;
/// with `deflate`, the `Sec-WebSocket-Extensions` the peer must see (our server
/// with its default settings).
pub async fn our_server_with_peer_client(program: &str, script: &str, deflate: Option<&str>) {
    match deflate {
        Some(expected) => {
            our_server_deflate_with_peer_client(program, script, None, expected).await
        }
        None => {
            let server = OurServer::start(false).await;
            peer_client_against(program, script, server, None).await
        }
    }
}

/// A peer's client offering deflate against our server with `config`'s deflate
/// settings (`None`: the server's default); `expected` is the
/// `Sec-WebSocket-Extensions` the peer must see.
pub async fn our_server_deflate_with_peer_client(
    program: &str,
    script: &str,
    config: Option<DeflateConfig>,
    expected: &str,
) {
    let server = OurServer::start_deflate(config).await;
    peer_client_against(program, script, server, Some(expected)).await
}

async fn peer_client_against(
    program: &str,
    script: &str,
    mut server: OurServer,
    deflate: Option<&str>,
) {
    let expected_extensions = deflate;
    let deflate = deflate.is_some();
    let url = server.url();
    let mut args = vec![script, "client", url.as_str()];
    if deflate {
        args.push("--deflate");
    }
    let mut peer = Peer::spawn(program, &args);
    let outcome = peer.outcome().await;
    let mut expected = client_steps(&SIZES, deflate);
    expected.push("fragmented-by-client".into());
    expected.push("ping-by-client".into());
    outcome.assert_ok(&expected);
    if let Some(extensions) = expected_extensions {
        assert_eq!(outcome.detail("deflate").unwrap(), extensions);
    }
    assert_client_closed_first(&server.next_closes(2).await);
}

/// Our client against a peer's server program (`program script server`); with
/// `deflate`, the `Sec-WebSocket-Extensions` the peer must answer (our client
/// offering `DeflateConfig::default()`).
pub async fn our_client_with_peer_server(program: &str, script: &str, deflate: Option<&str>) {
    match deflate {
        Some(expected) => {
            our_client_deflate_with_peer_server(program, script, DeflateConfig::default(), expected)
                .await
        }
        None => peer_server_against(program, script, None, None).await,
    }
}

/// Our client offering deflate with `config` against a peer's server with
/// deflate on; `expected` is the `Sec-WebSocket-Extensions` it must answer.
pub async fn our_client_deflate_with_peer_server(
    program: &str,
    script: &str,
    config: DeflateConfig,
    expected: &str,
) {
    peer_server_against(program, script, Some(config), Some(expected)).await
}

async fn peer_server_against(
    program: &str,
    script: &str,
    config: Option<DeflateConfig>,
    deflate: Option<&str>,
) {
    let expected_extensions = deflate;
    let deflate = deflate.is_some();
    let mut args = vec![script, "server"];
    if deflate {
        args.push("--deflate");
    }
    let mut peer = Peer::spawn(program, &args);
    let port = peer.port().await;
    let outcome = our_client_deflate(&format!("ws://127.0.0.1:{port}"), config).await;
    let mut expected = client_steps(&SIZES, deflate);
    expected.push("ping-by-client".into());
    outcome.assert_ok(&expected);
    if let Some(extensions) = expected_extensions {
        assert_eq!(outcome.detail("deflate").unwrap(), extensions);
    }
    assert_peer_saw_client_close(&peer.events(2).await);
    peer.kill().await;
}
