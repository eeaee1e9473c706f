//! permessage-deflate's cost, in one run:
//!
//! - wire bytes per message by compression level;
//! - server CPU per echoed message with compression, for 16 KiB JSON-like text and
//!   0.5 KiB chat lines, of our server at several levels and of Python
//!   `websockets` (its defaults: 12-bit windows, memory level 5, level 6), each
//!   server in a process of its own (its CPU time read from
//!   `/proc/PID/task/*/schedstat`), driven by our client offering deflate as
//!   browsers do; skipped when python3 with websockets is missing;
//! - echo of 16 KiB JSON-like text over loopback with permessage-deflate on and off,
//!   against tokio-tungstenite in the same run. tungstenite has no
//!   permessage-deflate, so its best available configuration is plain frames: the
//!   comparison shows what compression costs in time for the bandwidth it saves.
//!
//! ```sh
//! cargo bench --bench deflate -- --warm-up-time 1 --measurement-time 3
//! DEFLATE_CPU_ONLY=1 cargo bench --bench deflate    # the two tables alone
//! ```

#[path = "support/servers.rs"]
mod servers;
mod support;

use criterion::{criterion_group, Criterion, Throughput};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as TMessage;
use websocket_protocol::protocol::DeflateConfig;
use websocket_protocol::{Config, Message};

use servers::{chat_line, json_text};

fn config(deflate: bool) -> Config {
    if deflate {
        Config::default().deflate(DeflateConfig::default())
    } else {
        Config::default()
    }
}

fn echo_json(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let texts: Vec<String> = (0..64).map(json_text).collect();
    let text = texts[0].clone();
    let mut next = 0;
    let mut pick = move || {
        next = (next + 1) % texts.len();
        texts[next].clone()
    };
    let mut group = c.benchmark_group("echo_json_16k");
    group.throughput(Throughput::Bytes(text.len() as u64));
    for deflate in [false, true] {
        let mut ws = rt.block_on(support::ours(config(deflate)));
        let name = if deflate {
            "ours_deflate"
        } else {
            "ours_plain"
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    ws.send(Message::text(pick())).await.unwrap();
                    ws.next().await.unwrap().unwrap()
                })
            })
        });
    }
    let mut t = rt.block_on(support::tungstenite());
    group.bench_function("tokio_tungstenite_plain", |b| {
        b.iter(|| {
            rt.block_on(async {
                t.send(TMessage::text(pick())).await.unwrap();
                t.next().await.unwrap().unwrap()
            })
        })
    });
    group.finish();
}

/// Prints what a message costs on the wire, on average over a stream of
/// different messages, by level, with the server's default windows.
fn wire_sizes() {
    use websocket_protocol::protocol::{Driver, Options, Transmit};
    let kinds: [(&str, Vec<String>); 2] = [
        ("16 KiB JSON", (0..64).map(json_text).collect()),
        ("0.5 KiB chat", (0..1024).map(chat_line).collect()),
    ];
    println!("wire bytes per message (average; compressed by our server, default windows):");
    println!("| level | {} | {} |", kinds[0].0, kinds[1].0);
    println!("|---|---|---|");
    for level in [None, Some(1), Some(3), Some(6), Some(9)] {
        let mut cells = Vec::new();
        for (_, messages) in &kinds {
            let server_options = match level {
                None => Options::default().deflate(None),
                Some(l) => Options::default().deflate(DeflateConfig::default().level(l)),
            };
            let mut client = Driver::client(
                "ws://x/",
                Options::default().deflate(DeflateConfig::default()),
            )
            .unwrap();
            client.start(std::time::Instant::now());
            let Some(Transmit::Data(request)) = client.poll_transmit() else {
                unreachable!()
            };
            let mut server = Driver::server_from_bytes(&request, server_options)
                .unwrap()
                .unwrap();
            server.start(std::time::Instant::now());
            while let Some(Transmit::Data(_)) = server.poll_transmit() {}
            let mut n = 0;
            for message in messages {
                server.text(message.clone()).unwrap();
                while let Some(Transmit::Data(b)) = server.poll_transmit() {
                    n += b.len();
                }
            }
            cells.push(format!("{}", n / messages.len()));
        }
        let name = level.map_or("off".to_owned(), |l| l.to_string());
        println!("| {name} | {} | {} |", cells[0], cells[1]);
    }
}

/// Server CPU per echoed message, ours against Python `websockets`.
fn server_cpu() {
    if std::process::Command::new("python3")
        .args(["-c", "import websockets"])
        .status()
        .map_or(true, |s| !s.success())
    {
        println!("server CPU: skipped (python3 with websockets is missing)");
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let json: Vec<String> = (0..64).map(json_text).collect();
    let chat: Vec<String> = (0..1024).map(chat_line).collect();
    println!("server CPU per echoed message, microseconds (compressed echo over loopback):");
    println!("| server | 16 KiB JSON | 0.5 KiB chat |");
    println!("|---|---|---|");
    let mut servers: Vec<servers::Server> = ["off", "default", "no-takeover", "1", "3", "6"]
        .into_iter()
        .map(servers::Server::ours)
        .collect();
    servers.push(servers::Server::python());
    // The machine may be shared: every server is measured in each of a few
    // rounds, interleaved, and the least CPU each needed is reported.
    let mut best = vec![[f64::MAX; 2]; servers.len()];
    for _round in 0..3 {
        for (server, best) in servers.iter().zip(&mut best) {
            for (k, (messages, count)) in [(&json, 500), (&chat, 3000)].into_iter().enumerate() {
                let per_message = rt.block_on(async {
                    let mut ws = servers::client(&server.url()).await;
                    for m in messages.iter().take(50) {
                        servers::echo(&mut ws, m.clone()).await;
                    }
                    let before = server.cpu_ns();
                    for i in 0..count {
                        servers::echo(&mut ws, messages[i % messages.len()].clone()).await;
                    }
                    (server.cpu_ns() - before) as f64 / count as f64 / 1000.0
                });
                best[k] = best[k].min(per_message);
            }
        }
    }
    for (server, best) in servers.iter().zip(&best) {
        println!("| {} | {:.1} | {:.1} |", server.name, best[0], best[1]);
    }
}

criterion_group!(benches, echo_json);

fn main() {
    if servers::serve_if_asked(|| None) {
        return;
    }
    wire_sizes();
    server_cpu();
    if std::env::var_os("DEFLATE_CPU_ONLY").is_some() {
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
