//! Echo of 16 KiB JSON-like text over loopback with permessage-deflate on and off,
//! against tokio-tungstenite in the same run. tungstenite has no permessage-deflate,
//! so its best available configuration is plain frames: the comparison shows what
//! compression costs in CPU for the bandwidth it saves (reported in the bench
//! output as bytes on the wire per message).
//!
//! ```sh
//! cargo bench --bench deflate -- --warm-up-time 1 --measurement-time 3
//! ```

mod support;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::{SinkExt, StreamExt};
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::Message as TMessage;
use websocket_protocol::protocol::DeflateConfig;
use websocket_protocol::{Config, Message};

/// 16 KiB of JSON records that differ in their numbers, like an API's output;
/// `seed` makes each message different, so the shared window cannot simply
/// point back at the previous message.
fn json_text(seed: u32) -> String {
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
    wire_sizes(&rt, &text, &json_text(1));
}

/// Prints what one message costs on the wire with and without compression.
fn wire_sizes(_rt: &Runtime, text: &str, other: &str) {
    use std::time::Instant;
    use websocket_protocol::protocol::{Driver, Options, Transmit};
    for deflate in [false, true] {
        let mut options = Options::default();
        if deflate {
            options = options.deflate(DeflateConfig::default());
        }
        let mut client = Driver::client("ws://x/", options.clone()).unwrap();
        client.start(Instant::now());
        let Some(Transmit::Data(request)) = client.poll_transmit() else {
            unreachable!()
        };
        let mut server = Driver::server_from_bytes(&request, options)
            .unwrap()
            .unwrap();
        server.start(Instant::now());
        while let Some(Transmit::Data(b)) = server.poll_transmit() {
            client.receive(&b, Instant::now());
        }
        // Two different messages: the second shows the shared window at work.
        let mut sizes = Vec::new();
        for message in [text, other] {
            server.text(message.to_owned()).unwrap();
            let mut n = 0;
            while let Some(Transmit::Data(b)) = server.poll_transmit() {
                n += b.len();
            }
            sizes.push(n);
        }
        println!(
            "wire bytes per 16 KiB JSON message, deflate {}: first {}, next {}",
            if deflate { "on" } else { "off" },
            sizes[0],
            sizes[1]
        );
    }
}

criterion_group!(benches, echo_json);
criterion_main!(benches);
