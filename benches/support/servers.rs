//! Echo servers in processes of their own, so that their CPU time and memory
//! are measured alone: ours (this same binary, started again with
//! `DEFLATE_ECHO_SERVER` set) and Python `websockets` (tests/peers/peer.py).
//! Used by `benches/deflate.rs` and `examples/deflate_memory.rs`.
#![allow(dead_code)]

use futures::StreamExt;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use websocket_protocol::protocol::DeflateConfig;
use websocket_protocol::{Config, WebSocket};

/// The variable that makes this binary an echo server: `default` (our server's
/// default settings), `off` (deflate off), or a compression level.
pub const SERVE: &str = "DEFLATE_ECHO_SERVER";

/// An echo server process: prints `{"listening": PORT}`, then answers each
/// line on stdin with `{"heap": BYTES}` when it can count them.
pub struct Server {
    pub name: String,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pub port: u16,
}

impl Server {
    /// Our echo server with `setting` (see [`SERVE`]).
    pub fn ours(setting: &str) -> Server {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.env(SERVE, setting);
        Server::start(format!("ours ({setting})"), cmd)
    }

    /// Python `websockets` with its default permessage-deflate settings.
    pub fn python() -> Server {
        let mut cmd = Command::new("python3");
        cmd.arg("peer.py")
            .arg("server")
            .arg("--deflate")
            .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers"));
        Server::start("python websockets".to_owned(), cmd)
    }

    fn start(name: String, mut cmd: Command) -> Server {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let value: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("{name} said {line:?}"));
        let port = value["listening"].as_u64().expect("listening") as u16;
        Server {
            name,
            child,
            stdin,
            stdout,
            port,
        }
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/echo", self.port)
    }

    /// CPU time the process has used, all threads, in nanoseconds.
    pub fn cpu_ns(&self) -> u64 {
        let dir = format!("/proc/{}/task", self.child.id());
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|task| {
                let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
                stat.split_whitespace().next()?.parse::<u64>().ok()
            })
            .sum()
    }

    /// Resident memory, bytes.
    pub fn rss(&self) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<usize>()
            .unwrap()
            * 1024
    }

    /// Heap bytes live in our server (None for a peer).
    pub fn heap(&mut self) -> Option<usize> {
        if !self.name.starts_with("ours") {
            return None;
        }
        writeln!(self.stdin).ok()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line).ok()?;
        let value: serde_json::Value = serde_json::from_str(&line).ok()?;
        value["heap"].as_u64().map(|h| h as usize)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The configuration a [`SERVE`] setting names.
fn server_config(setting: &str) -> Config {
    let config = Config::default().max_message_size(64 << 20);
    match setting {
        "default" => config,
        "off" => config.deflate(None),
        "no-takeover" => config.deflate(
            DeflateConfig::default()
                .server_no_context_takeover(true)
                .client_no_context_takeover(true),
        ),
        level => config.deflate(DeflateConfig::default().level(level.parse().expect("a level"))),
    }
}

/// Runs our echo server if this process was started as one; `heap` reports the
/// live heap for the `{"heap": N}` answers. Returns false otherwise.
pub fn serve_if_asked(heap: fn() -> Option<usize>) -> bool {
    let Ok(setting) = std::env::var(SERVE) else {
        return false;
    };
    let config = server_config(&setting);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!(
            "{{\"listening\": {}}}",
            listener.local_addr().unwrap().port()
        );
        std::thread::spawn(move || {
            for line in std::io::stdin().lines() {
                if line.is_err() {
                    break;
                }
                let heap = heap().map_or("null".to_owned(), |h| h.to_string());
                println!("{{\"heap\": {heap}}}");
            }
            std::process::exit(0);
        });
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            tcp.set_nodelay(true).unwrap();
            let config = config.clone();
            tokio::spawn(async move {
                let Ok(mut ws) = WebSocket::accept(tcp, config).await else {
                    return;
                };
                while let Some(Ok(m)) = ws.next().await {
                    if ws.send(m).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    true
}

/// Our client, offering permessage-deflate as browsers do
/// (`permessage-deflate; client_max_window_bits`).
pub async fn client(url: &str) -> WebSocket<tokio::net::TcpStream> {
    let addr = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let config = Config::default()
        .max_message_size(64 << 20)
        .deflate(DeflateConfig::default());
    WebSocket::connect(tcp, url, config).await.unwrap()
}

/// Sends `message` and waits for its echo.
pub async fn echo(ws: &mut WebSocket<tokio::net::TcpStream>, message: String) {
    ws.send(websocket_protocol::Message::text(message))
        .await
        .unwrap();
    ws.next().await.unwrap().unwrap();
}

/// 16 KiB of JSON records that differ in their numbers, like an API's output;
/// `seed` makes each message different, so the shared window cannot simply
/// point back at the previous message.
pub fn json_text(seed: u32) -> String {
    let mut out = String::from("[");
    let mut i = seed * 1000;
    while out.len() < (16 << 10) - 120 {
        out.push_str(&format!(
            "{{\"id\":{i},\"user\":\"user{}\",\"score\":{},\"active\":{},\"tags\":[\"alpha\",\"beta\"]}},",
            i * 7 % 1000,
            i * 31 % 997,
            i % 3 == 0
        ));
        i += 1;
    }
    out.pop();
    out.push(']');
    out
}

/// A chat line of about 0.5 KiB: a JSON envelope around words that recur
/// across lines, different for each `seed`.
pub fn chat_line(seed: u32) -> String {
    const WORDS: [&str; 24] = [
        "hello", "there", "how", "are", "you", "doing", "today", "the", "meeting", "is", "at",
        "noon", "see", "you", "soon", "thanks", "sure", "let's", "ship", "it", "after", "lunch",
        "review", "please",
    ];
    let mut line = format!(
        "{{\"type\":\"message\",\"room\":\"general\",\"user\":\"user{}\",\"ts\":{},\"text\":\"",
        seed % 50,
        1_700_000_000 + seed
    );
    let mut k = seed.wrapping_mul(2_654_435_761);
    while line.len() < 500 {
        k = k.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        line.push_str(WORDS[(k >> 16) as usize % WORDS.len()]);
        line.push(' ');
    }
    line.push_str("\"}");
    line
}
