//! End-to-end echo over loopback TCP: websocket-protocol against
//! tokio-tungstenite and fastwebsockets in the same run. Each side talks to a server of its own
//! library; one round trip is: the client sends a binary message and waits for
//! the echo. Both ends run on one current-thread runtime, so the figure is the
//! CPU cost of a round trip on both ends plus the loopback.
//!
//! `echo_split` pipelines instead: the client's halves run in two tasks, one
//! sending, one reading the echoes; the figure is the time per message
//! (fastwebsockets is left out there: its split is behind an unstable feature).
//!
//! ```sh
//! cargo bench --bench echo -- --warm-up-time 1 --measurement-time 2
//! ```

mod support;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::Message as TMessage;
use websocket_protocol::{Config, Message};

fn echo(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("echo");
    for size in [16usize, 64 << 10] {
        let payload = bytes::Bytes::from(vec![7u8; size]);
        group.throughput(Throughput::Bytes(2 * size as u64));

        let mut ours = rt.block_on(support::ours(Config::default()));
        group.bench_with_input(
            BenchmarkId::new("websocket-protocol", size),
            &size,
            |b, _| {
                b.iter_custom(|iters| {
                    run(&rt, async {
                        for _ in 0..iters {
                            ours.send(Message::Binary(payload.clone())).await.unwrap();
                            let m = ours.next().await.unwrap().unwrap();
                            assert_eq!(m.len(), size);
                        }
                    })
                })
            },
        );

        let mut tung = rt.block_on(support::tungstenite());
        group.bench_with_input(
            BenchmarkId::new("tokio-tungstenite", size),
            &size,
            |b, _| {
                b.iter_custom(|iters| {
                    run(&rt, async {
                        for _ in 0..iters {
                            tung.send(TMessage::Binary(payload.clone())).await.unwrap();
                            let m = tung.next().await.unwrap().unwrap();
                            assert_eq!(m.len(), size);
                        }
                    })
                })
            },
        );

        let mut fws = rt.block_on(support::fastwebsockets());
        group.bench_with_input(BenchmarkId::new("fastwebsockets", size), &size, |b, _| {
            b.iter_custom(|iters| {
                run(&rt, async {
                    for _ in 0..iters {
                        let frame = fastwebsockets::Frame::binary(payload[..].into());
                        fws.write_frame(frame).await.unwrap();
                        let m = fws.read_frame().await.unwrap();
                        assert_eq!(m.payload.len(), size);
                    }
                })
            })
        });
    }
    group.finish();

    // Pipelined through split halves: one task writes, another reads the
    // echoes, as chat servers and proxies do. Time per message.
    let mut group = c.benchmark_group("echo_split");
    for size in [16usize, 64 << 10] {
        let payload = bytes::Bytes::from(vec![7u8; size]);
        group.throughput(Throughput::Bytes(2 * size as u64));

        let mut halves = Some(rt.block_on(support::ours(Config::default())).split());
        group.bench_with_input(
            BenchmarkId::new("websocket-protocol", size),
            &size,
            |b, _| {
                b.iter_custom(|iters| {
                    let (mut tx, mut rx) = halves.take().unwrap();
                    let payload = payload.clone();
                    let start = Instant::now();
                    halves = Some(rt.block_on(async move {
                        let writer = tokio::spawn(async move {
                            for _ in 0..iters {
                                tx.send(Message::Binary(payload.clone())).await.unwrap();
                            }
                            tx
                        });
                        let reader = tokio::spawn(async move {
                            for _ in 0..iters {
                                rx.next().await.unwrap().unwrap();
                            }
                            rx
                        });
                        (writer.await.unwrap(), reader.await.unwrap())
                    }));
                    start.elapsed()
                })
            },
        );

        let mut halves = Some(rt.block_on(support::tungstenite()).split());
        group.bench_with_input(
            BenchmarkId::new("tokio-tungstenite", size),
            &size,
            |b, _| {
                b.iter_custom(|iters| {
                    let (mut tx, mut rx) = halves.take().unwrap();
                    let payload = payload.clone();
                    let start = Instant::now();
                    halves = Some(rt.block_on(async move {
                        let writer = tokio::spawn(async move {
                            for _ in 0..iters {
                                tx.send(TMessage::Binary(payload.clone())).await.unwrap();
                            }
                            tx
                        });
                        let reader = tokio::spawn(async move {
                            for _ in 0..iters {
                                rx.next().await.unwrap().unwrap();
                            }
                            rx
                        });
                        (writer.await.unwrap(), reader.await.unwrap())
                    }));
                    start.elapsed()
                })
            },
        );
    }
    group.finish();
}

fn run(rt: &Runtime, f: impl std::future::Future<Output = ()>) -> Duration {
    let start = Instant::now();
    rt.block_on(f);
    start.elapsed()
}

criterion_group!(benches, echo);
criterion_main!(benches);
