//! Driving without a background task: pings while nobody reads, split halves in
//! two tasks, cancellation, and backpressure in both directions.

mod socket_support;

use socket_support::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use websocket_protocol::{Config, Message};

/// A tungstenite peer that echoes everything (answering pings as it reads).
fn echo(mut tung: Tung) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(Ok(m)) = tung.next().await {
            if (m.is_text() || m.is_binary()) && tung.send(m).await.is_err() {
                break;
            }
        }
    })
}

#[tokio::test]
async fn ping_on_the_unsplit_socket_resolves_while_nobody_reads() {
    for side in BOTH {
        let (ours, tung) = pair(side, Config::default()).await;
        let peer = echo(tung);
        // Nobody reads messages; the ping future reads its pong itself.
        within(5, ours.ping("are you there")).await.unwrap();
        drop(ours);
        within(5, peer).await.unwrap();
    }
}

#[tokio::test]
async fn a_pong_behind_unread_messages_is_seen_once_they_are_read() {
    for side in BOTH {
        let (mut ours, mut tung) = pair(side, Config::default()).await;
        let peer = tokio::spawn(async move {
            for i in 0..3 {
                tung.send(TMessage::text(format!("m{i}"))).await.unwrap();
            }
            // Answers the ping as it reads.
            while let Some(Ok(_)) = tung.next().await {}
        });
        let mut ping = std::pin::pin!(ours.ping("are you there"));
        // Frames are handled in order: the pong waits behind the messages...
        assert!(
            tokio::time::timeout(Duration::from_millis(200), &mut ping)
                .await
                .is_err(),
            "{side:?}: the pong overtook unread messages"
        );
        // ...which are all kept, and reading them lets the pong through.
        for i in 0..3 {
            let m = within(5, ours.recv()).await.unwrap().unwrap();
            assert_eq!(m, Message::text(format!("m{i}")), "{side:?}");
        }
        within(5, ping).await.unwrap();
        drop(ours);
        within(5, peer).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_with_split_halves_in_two_tasks() {
    for side in BOTH {
        let (ours, tung) = pair(side, Config::default()).await;
        let peer = echo(tung);
        let (mut tx, mut rx) = ours.split();
        // First with nobody reading the receiver...
        within(5, tx.ping("a")).await.unwrap();
        // ...then with the receiver busy in another task.
        let reader = tokio::spawn(async move {
            let mut n = 0;
            while let Some(m) = rx.recv().await {
                m.unwrap();
                n += 1;
                if n == 20 {
                    break;
                }
            }
            rx
        });
        for i in 0..20 {
            tx.text(format!("{i}")).await.unwrap();
            let pings = futures::future::join_all((0..3).map(|j| tx.ping(format!("{i}/{j}"))));
            for rtt in within(5, pings).await {
                rtt.unwrap();
            }
        }
        let rx = within(5, reader).await.unwrap();
        // The receiver can ping too, and the halves go back together.
        within(5, rx.ping("from rx")).await.unwrap();
        let mut ours = tx.reunite(rx).unwrap();
        within(5, ours.close(1000, "")).await.unwrap();
        within(5, peer).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_task_reads_while_another_sends_large_messages() {
    for side in BOTH {
        let (ours, tung) = pair(side, Config::default()).await;
        let peer = echo(tung);
        let (mut tx, mut rx) = ours.split();
        const N: usize = 40;
        const SIZE: usize = 1 << 20;
        let reader = tokio::spawn(async move {
            for i in 0..N {
                let m = rx.recv().await.unwrap().unwrap();
                assert_eq!(m.len(), SIZE);
                assert_eq!(m.as_bytes()[0], i as u8, "message {i} out of order");
            }
            rx
        });
        let writer = tokio::spawn(async move {
            for i in 0..N {
                let mut data = payload(SIZE);
                data[0] = i as u8;
                tx.binary(data).await.unwrap();
                // Pings from the writing side too, while the reader reads.
                if i % 8 == 0 {
                    tx.ping("mid").await.unwrap();
                }
            }
            tx
        });
        // 40 MiB each way in a debug build, and each ping waits for the reader
        // to take the echoes queued before its pong: a hang guard, generous
        // for a loaded machine.
        let (tx, rx) = within(60, async { tokio::join!(writer, reader) }).await;
        let mut ours = tx.unwrap().reunite(rx.unwrap()).unwrap();
        within(5, ours.close(1000, "")).await.unwrap();
        within(5, peer).await.unwrap();
    }
}

#[tokio::test]
async fn a_cancelled_next_loses_nothing() {
    for side in BOTH {
        let (mut ours, mut tung) = pair(side, Config::default()).await;
        const N: usize = 200;
        let peer = tokio::spawn(async move {
            for i in 0..N {
                // Sizes that span several reads, so cancellations land mid-frame.
                let len = if i % 10 == 0 { 300_000 } else { i * 37 };
                let mut data = payload(len);
                data.insert(0, i as u8);
                tung.send(TMessage::binary(data)).await.unwrap();
                if i % 25 == 0 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            tung
        });
        let mut received = 0;
        let mut cancelled = 0;
        within(10, async {
            while received < N {
                tokio::select! {
                    biased;
                    m = ours.recv() => {
                        let m = m.unwrap().unwrap();
                        assert_eq!(m.as_bytes()[0], received as u8, "{side:?}: lost a message");
                        received += 1;
                    }
                    // Ready on its second poll: cancels next() whenever it waits.
                    _ = tokio::task::yield_now() => cancelled += 1,
                }
            }
        })
        .await;
        assert!(cancelled > 0, "the test never cancelled next()");
        let _tung = within(5, peer).await.unwrap();
    }
}

#[tokio::test]
async fn a_flooding_peer_is_held_back_by_tcp_not_buffered() {
    for side in BOTH {
        const LIMIT: usize = 256 << 10;
        const SIZE: usize = 64 << 10;
        const N: usize = 400; // 25 MiB: more than loopback buffers hold
        let (mut ours, mut tung) = pair(side, Config::default().message_buffer_size(LIMIT)).await;
        let sent = Arc::new(AtomicUsize::new(0));
        let counter = sent.clone();
        let peer = tokio::spawn(async move {
            for _ in 0..N {
                tung.send(TMessage::binary(payload(SIZE))).await.unwrap();
                counter.fetch_add(1, Ordering::Relaxed);
            }
            tung
        });
        // Nobody polls: nothing is read.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(ours.buffered_incoming(), 0);
        // A ping in flight drives reads (the peer never answers: it only writes),
        // keeping messages for the reader only up to the limit.
        let ping = ours.ping("x");
        assert!(tokio::time::timeout(Duration::from_millis(300), ping)
            .await
            .is_err());
        let held = ours.buffered_incoming();
        eprintln!(
            "{side:?}: held {held}, peer sent {}",
            sent.load(Ordering::Relaxed)
        );
        assert!(held <= LIMIT + 2 * SIZE, "{side:?}: {held} bytes buffered");
        assert!(
            sent.load(Ordering::Relaxed) < N,
            "{side:?}: the peer was never held back"
        );
        // Reading lets it all through, in order.
        for _ in 0..N {
            let m = within(10, ours.recv()).await.unwrap().unwrap();
            assert_eq!(m, Message::binary(payload(SIZE)));
        }
        within(5, peer).await.unwrap();
    }
}

#[tokio::test]
async fn send_waits_while_the_peer_reads_slowly() {
    for side in BOTH {
        const HWM: usize = 256 << 10;
        const SIZE: usize = 64 << 10;
        let (mut ours, mut tung) = pair(side, Config::default().write_buffer_size(HWM)).await;
        let mut queued = 0;
        let mut waited = false;
        // The peer does not read: sends fill the socket buffers, then wait.
        while queued < 2000 {
            let mut data = payload(SIZE);
            data[..8].copy_from_slice(&(queued as u64).to_be_bytes());
            queued += 1;
            let sent = tokio::time::timeout(Duration::from_millis(200), ours.binary(data)).await;
            if sent.is_err() {
                waited = true;
                break;
            }
        }
        assert!(waited, "{side:?}: send never waited");
        let buffered = ours.buffered_amount();
        assert!(
            buffered <= HWM + SIZE + 14,
            "{side:?}: {buffered} bytes queued"
        );
        // The slow reader catches up; every message arrives, the interrupted one
        // too (it was queued before the wait was cancelled).
        let reader = tokio::spawn(async move {
            for i in 0..queued {
                let m = tung.next().await.unwrap().unwrap().into_data();
                assert_eq!(m[..8], (i as u64).to_be_bytes());
                if i % 64 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            tung
        });
        within(10, ours.flush()).await.unwrap();
        within(10, reader).await.unwrap();
    }
}

#[tokio::test]
async fn pongs_go_out_even_if_the_user_only_reads() {
    for side in BOTH {
        let (mut ours, mut tung) = pair(side, Config::default()).await;
        tung.feed(TMessage::Ping("p".into())).await.unwrap();
        tung.feed(TMessage::text("m")).await.unwrap();
        tung.flush().await.unwrap();
        assert_eq!(
            within(5, ours.recv()).await.unwrap().unwrap(),
            Message::text("m")
        );
        // Not polled again: the pong left with the read that produced it.
        let pong = within(5, tung.next()).await.unwrap().unwrap();
        assert_eq!(pong, TMessage::Pong("p".into()), "{side:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn halves_compose_as_stream_and_sink() {
    for side in BOTH {
        let (ours, mut tung) = pair(side, Config::default()).await;
        // An echo server in one line: the receiver forwarded into the sender.
        let (tx, rx) = ours.split();
        let server = tokio::spawn(rx.forward(tx));
        // Small enough (500 KB) for the socket buffers: tungstenite does not read
        // the echoes while it sends.
        let messages: Vec<_> = (0..100)
            .map(|i| TMessage::binary(payload(i * 100)))
            .collect();
        let mut outgoing = futures::stream::iter(messages.clone().into_iter().map(Ok));
        within(5, tung.send_all(&mut outgoing)).await.unwrap();
        for expected in &messages {
            assert_eq!(&within(5, tung.next()).await.unwrap().unwrap(), expected);
        }
        within(5, tung.close(None)).await.unwrap();
        while let Some(Ok(_)) = within(5, tung.next()).await {}
        // A client's close completes when the server closes TCP (RFC 6455 7.1.1).
        drop(tung);
        within(5, server).await.unwrap().unwrap();
    }
}
