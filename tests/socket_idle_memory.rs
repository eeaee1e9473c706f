//! Heap an idle server connection holds, raw (`WebSocket::accept` on a
//! `TcpStream`) and through hyper (`WsLayer` on `server::http_builder()`),
//! counted by a counting global allocator: the task and its future, the
//! socket's shared state and driver, tokio's registration, what hyper leaves
//! behind. It pins the figures of `benches/README.md`'s idle breakdown so that
//! they cannot grow back silently.
//!
//! The clients are blocking `std::net` sockets on a thread of their own, which
//! allocate nothing while connected, so every byte counted is the server's.
//! One test function only: the allocator counts the whole process.

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream};
use std::sync::atomic::Ordering::Relaxed;

use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use websocket_protocol::server::{http_builder, RequestInfo, ServerSocket, WsLayer};
use websocket_protocol::{Config, WebSocket};

mod alloc_support;
use alloc_support::{Counting, LIVE};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Connections per measurement; what the runtime allocates once (its task
/// list, the I/O driver's slabs) is spread over them.
const N: usize = 200;

/// Per idle connection, at most: measured 1,812 and 2,996 bytes (rustc 1.95,
/// tokio 1.54, hyper 1.12; a release build counts the same within 10 bytes),
/// with about a tenth of headroom for dependency updates. Before issue 11's
/// work they were 10.6 and 24.4 KiB. See `benches/README.md` for the
/// breakdown: what the socket, the task, tokio and hyper each hold.
const RAW_MAX: usize = 2048;
const HYPER_MAX: usize = 3328;

/// The README's server.
async fn raw(tcp: TcpStream) {
    let Ok(mut ws) = WebSocket::accept(tcp, Config::default()).await else {
        return;
    };
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

/// examples/echo.rs's handler, which keeps the request it is given.
async fn echo(mut ws: ServerSocket, _request: RequestInfo) {
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

async fn not_websocket(
    _request: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<String>, Infallible> {
    Ok(http::Response::new(String::new()))
}

#[derive(Clone, Copy)]
enum Server {
    Raw,
    Hyper,
}

async fn serve(listener: TcpListener, server: Server) {
    let layer = WsLayer::new(echo);
    let service = tower::Layer::layer(&layer, tower::service_fn(not_websocket));
    loop {
        let (tcp, _) = listener.accept().await.unwrap();
        tcp.set_nodelay(true).unwrap();
        match server {
            Server::Raw => drop(tokio::spawn(raw(tcp))),
            Server::Hyper => {
                let service = TowerToHyperService::new(service.clone());
                drop(tokio::spawn(async move {
                    let _ = http_builder()
                        .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                        .await;
                }));
            }
        }
    }
}

/// A blocking client: the opening handshake, then one 5-byte text message and
/// its echo, read to the last byte (so the server has gone back to reading).
fn client(addr: SocketAddr) -> StdStream {
    let mut tcp = StdStream::connect(addr).unwrap();
    tcp.set_nodelay(true).unwrap();
    tcp.write_all(
        b"GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\nOrigin: http://localhost\r\n\r\n",
    )
    .unwrap();
    let mut head = [0u8; 512];
    let mut len = 0;
    while !head[..len].ends_with(b"\r\n\r\n") {
        let n = tcp.read(&mut head[len..len + 1]).unwrap();
        assert_eq!(n, 1, "the handshake response");
        len += 1;
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "));
    // "hello", masked with a zero key.
    tcp.write_all(b"\x81\x85\0\0\0\0hello").unwrap();
    let mut echo = [0u8; 7];
    tcp.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"\x81\x05hello");
    tcp
}

/// Heap per idle connection for `server`: live bytes after `N` connections
/// went idle, over what was live before them.
fn measure(server: Server) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(tokio::spawn(serve(listener, server)));
        let connect = |n: usize| {
            tokio::task::spawn_blocking(move || {
                let mut clients = Vec::with_capacity(n);
                for _ in 0..n {
                    clients.push(client(addr));
                }
                clients
            })
        };
        // A few first, so that what is allocated once is in the baseline.
        let warm = connect(8).await.unwrap();
        let before = LIVE.load(Relaxed);
        // (The client's list of sockets counts too: 4 bytes per connection.)
        let held = connect(N).await.unwrap();
        // Every echo was read: each server task wrote it and went back to
        // waiting in `recv` within the same poll, so each is idle now.
        let per = (LIVE.load(Relaxed) as f64 - before as f64) / N as f64;
        drop(held);
        drop(warm);
        per.round() as usize
    })
}

#[test]
fn an_idle_connection_holds_a_few_kib_raw_and_through_hyper() {
    let raw = measure(Server::Raw);
    let hyper = measure(Server::Hyper);
    println!("heap per idle connection: raw {raw} B, hyper {hyper} B");
    assert!(raw <= RAW_MAX, "raw: {raw} B per idle connection");
    assert!(hyper <= HYPER_MAX, "hyper: {hyper} B per idle connection");
}
