//! Handshake timeouts on every way to serve: connections that send nothing or a
//! byte a second are closed by the config's handshake timeout while a normal
//! client is served, and every path reports a handshake timeout as the same
//! error kind.

mod server_util;

use axum::routing::get;
use axum::Router;
use futures::{SinkExt, StreamExt};
use server_util::echo_app;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message as TMessage;
use websocket_protocol::server::{http_builder_with, serve_connection_with, WsUpgrade};
use websocket_protocol::{Config, ErrorKind, WebSocket};

/// Short, so the test is quick; the waits below are generous multiples of it.
const TIMEOUT: Duration = Duration::from_secs(1);
/// How long a connection may stay open before the test calls it a failure: far
/// past the timeout, so a slow machine does not fail the test.
const GENEROUS: Duration = Duration::from_secs(20);
const SILENT: usize = 1000;
const SLOW: usize = 100;

/// Raises the soft limit on open files far enough for this test's sockets (both
/// ends of each connection live in this process).
// `rlim_t` is u64 here but not on every platform, hence the casts.
#[allow(clippy::unnecessary_cast)]
fn raise_open_files_limit(needed: u64) {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct passed.
        unsafe {
            assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
            if (limit.rlim_cur as u64) < needed {
                limit.rlim_cur = limit.rlim_max.min(needed as libc::rlim_t);
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
                libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
            }
        }
        assert!(
            limit.rlim_cur as u64 >= needed,
            "this test needs {needed} open files; the hard limit is {}",
            limit.rlim_max
        );
    }
    #[cfg(not(unix))]
    let _ = needed;
}

/// Serves `echo_app()` with `serve_connection_with` and the short timeout.
async fn serve() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Config::default().handshake_timeout(TIMEOUT);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let config = config.clone();
            tokio::spawn(async move { serve_connection_with(tcp, echo_app(), &config).await });
        }
    });
    addr
}

/// Waits for the server to close `tcp`: reading ends (EOF or a reset), after at
/// most an HTTP error response (hyper answers a head that timed out with 408).
async fn assert_closed(mut tcp: TcpStream) {
    let read = async {
        let mut got = Vec::new();
        loop {
            let mut buf = [0u8; 256];
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    let got = tokio::time::timeout(GENEROUS, read)
        .await
        .expect("the server kept a connection open past the handshake timeout");
    assert!(
        got.is_empty() || got.starts_with(b"HTTP/1.1 408"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
}

/// Writes `bytes` one a second until the server closes the connection, then
/// checks it was closed.
async fn trickle(tcp: TcpStream, bytes: &'static [u8]) {
    let (mut read, mut write) = tcp.into_split();
    let writer = tokio::spawn(async move {
        for byte in bytes.chunks(1) {
            if write.write_all(byte).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        // Out of bytes before the server gave up: stay, without a FIN.
        let _write = write;
        std::future::pending::<()>().await
    });
    let closed = async {
        let mut buf = [0u8; 256];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(GENEROUS, closed)
        .await
        .expect("a slow client was not closed");
    writer.abort();
}

async fn tungstenite_echo(addr: SocketAddr, path: &str) {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
        .await
        .unwrap();
    ws.send(TMessage::text("served")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), TMessage::text("served"));
    ws.close(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_slow_connections_are_closed_while_a_client_is_served() {
    raise_open_files_limit(2 * (SILENT + SLOW) as u64 + 256);
    let addr = serve().await;

    let mut silent = Vec::with_capacity(SILENT);
    for _ in 0..SILENT {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    // Half trickle an HTTP/1.1 upgrade request, half the HTTP/2 preface, which
    // hyper-util reads before any HTTP/1.1 timer runs.
    let mut slow = Vec::with_capacity(SLOW);
    for i in 0..SLOW {
        let tcp = TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let bytes: &'static [u8] = if i % 2 == 0 {
            b"GET /extract HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
        } else {
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        };
        slow.push(tokio::spawn(trickle(tcp, bytes)));
    }

    // Meanwhile a normal client is served, through the layer and the extractor.
    tungstenite_echo(addr, "/").await;
    tungstenite_echo(addr, "/extract").await;

    let silent: Vec<_> = silent
        .into_iter()
        .map(|tcp| tokio::spawn(assert_closed(tcp)))
        .collect();
    for task in silent.into_iter().chain(slow) {
        task.await.unwrap();
    }
    // And the server still serves.
    tungstenite_echo(addr, "/").await;
}

#[tokio::test]
async fn http_builder_times_out_a_request_head_that_trickles() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Config::default().handshake_timeout(TIMEOUT);
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let service = hyper_util::service::TowerToHyperService::new(echo_app());
            let builder = http_builder_with(&config);
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(tcp);
                let _ = builder.serve_connection_with_upgrades(io, service).await;
            });
        }
    });
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let tcp = TcpStream::connect(addr).await.unwrap();
        tasks.push(tokio::spawn(trickle(
            tcp,
            b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n",
        )));
    }
    tungstenite_echo(addr, "/").await;
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test]
async fn a_handshake_timeout_is_the_same_error_kind_on_every_path() {
    let config = Config::default().handshake_timeout(Duration::from_millis(200));

    // serve_connection_with: a client that sends nothing.
    let (_client, server) = tokio::io::duplex(1024);
    let err = serve_connection_with(server, echo_app(), &config)
        .await
        .unwrap_err();
    let err = err
        .downcast_ref::<websocket_protocol::Error>()
        .expect("the crate's error");
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.is_timeout());

    // The raw accept, with half a request.
    let (mut client, server) = tokio::io::duplex(1024);
    client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let err = WebSocket::accept(server, config.clone())
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.is_timeout());
    assert_eq!(
        err.to_string(),
        "the opening handshake did not finish within the handshake timeout"
    );

    // The raw connect, to a server that never answers.
    let (_server, client) = tokio::io::duplex(1024);
    let err = WebSocket::connect(client, "ws://localhost/", config.clone())
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Timeout);

    // The extractor, with a hixie-76 client that never sends its key bytes.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Arc::new(std::sync::Mutex::new(Some(tx)));
    let config2 = config.clone();
    let router = Router::new().route(
        "/",
        get(move |ws: WsUpgrade| async move {
            let tx = tx.lock().unwrap().take().unwrap();
            let config2 = config2.clone();
            ws.allow_drafts(true)
                .config(config2)
                .on_failed_handshake(move |e| {
                    let _ = tx.send(e);
                })
                .on_upgrade(|_| async { panic!("the handshake cannot finish") })
        }),
    );
    let (mut client, server) = tokio::io::duplex(4096);
    tokio::spawn(websocket_protocol::server::serve_connection(server, router));
    client
        .write_all(
            b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\n\
              Upgrade: WebSocket\r\nSec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n\
              Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n\r\n",
        )
        .await
        .unwrap();
    let err = tokio::time::timeout(GENEROUS, rx).await.unwrap().unwrap();
    assert_eq!(err.kind(), ErrorKind::Timeout);
}
