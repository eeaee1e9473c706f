//! TCP_NODELAY on the server's end of a WebSocket, checked on the socket
//! itself (no timing): `serve_connection` sets it for the layer and the
//! extractor, and `axum::serve` gets it with the one line the server docs give.
#![cfg(unix)]

mod server_util;

use axum::serve::ListenerExt;
use futures::{SinkExt, StreamExt};
use server_util::echo_app;
use std::mem::ManuallyDrop;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as TMessage;
use websocket_protocol::server::serve_connection;

/// Whether the socket behind `fd` has TCP_NODELAY set.
fn nodelay(fd: RawFd) -> bool {
    // SAFETY: `fd` is the server's open socket, alive while the client is
    // connected (the handler echoes until the client closes); ManuallyDrop keeps
    // this view from closing it.
    let tcp = ManuallyDrop::new(unsafe { std::net::TcpStream::from_raw_fd(fd) });
    tcp.nodelay().unwrap()
}

/// Opens a WebSocket to `path` through tokio-tungstenite, exchanges one message
/// (so the server's handler holds the socket), and returns the client.
async fn open(
    addr: SocketAddr,
    path: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
        .await
        .unwrap();
    ws.send(TMessage::text("hi")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), TMessage::text("hi"));
    ws
}

/// Opens a socket through the layer and one through the extractor, and checks
/// the server's end of each (`accepted` gives the fds in accept order).
async fn assert_nodelay_through_layer_and_extractor(
    addr: SocketAddr,
    accepted: &mut mpsc::UnboundedReceiver<RawFd>,
) {
    for path in ["/", "/extract"] {
        let mut ws = open(addr, path).await;
        let fd = accepted.recv().await.unwrap();
        assert!(
            nodelay(fd),
            "TCP_NODELAY is off on the server socket for {path}"
        );
        ws.close(None).await.unwrap();
    }
}

#[tokio::test]
async fn serve_connection_sets_nodelay_for_the_layer_and_the_extractor() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (fds, mut accepted) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            assert!(!tcp.nodelay().unwrap(), "off until the server sets it");
            fds.send(tcp.as_raw_fd()).unwrap();
            tokio::spawn(serve_connection(tcp, echo_app()));
        }
    });
    assert_nodelay_through_layer_and_extractor(addr, &mut accepted).await;
}

#[tokio::test]
async fn axum_serve_with_the_documented_tap_io_sets_nodelay() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (fds, mut accepted) = mpsc::unbounded_channel();
    let listener = listener.tap_io(move |tcp| {
        // The line the server docs give axum::serve users:
        let _ = tcp.set_nodelay(true);
        fds.send(tcp.as_raw_fd()).unwrap();
    });
    tokio::spawn(async move { axum::serve(listener, echo_app()).await });
    assert_nodelay_through_layer_and_extractor(addr, &mut accepted).await;
}

/// A masked client frame (FIN set) with a zero mask key, so the payload is
/// written as it is.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    frame
}

/// Plain `axum::serve` (TCP_NODELAY stays off, which the layer and the
/// extractor cannot change from inside) and a client that sends a text and a
/// ping together: the echo and the pong must leave in one write. Written
/// apart, the pong would sit behind Nagle's algorithm until the client
/// acknowledged the echo (tens of milliseconds for a delayed ACK), and the
/// client's first read would hold the echo alone. No timing: the bytes of the
/// first read.
#[tokio::test]
async fn plain_axum_serve_answers_a_text_and_a_ping_in_one_write() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (fds, mut accepted) = mpsc::unbounded_channel();
    let listener = listener.tap_io(move |tcp| fds.send(tcp.as_raw_fd()).unwrap());
    tokio::spawn(async move { axum::serve(listener, echo_app()).await });

    let mut tcp = server_util::send(
        addr,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await;
    let head = server_util::read_head(&mut tcp).await;
    assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
    assert!(
        !nodelay(accepted.recv().await.unwrap()),
        "plain axum::serve"
    );

    let expected = [&[0x81, 5][..], b"hello", &[0x8a, 4], b"ping"].concat();
    for round in 0..20 {
        let request = [client_frame(0x1, b"hello"), client_frame(0x9, b"ping")].concat();
        tcp.write_all(&request).await.unwrap();
        let mut first_read = vec![0; 64];
        let n = tokio::time::timeout(server_util::LIMIT, tcp.read(&mut first_read))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            &first_read[..n],
            &expected[..],
            "round {round}: the echo and the pong in the first read"
        );
    }
}

/// Serves `echo_app` with hyper's own `http1::Builder` over `TokioIo<TcpStream>`,
/// TCP_NODELAY left off at accept; `fds` gets each accepted socket.
async fn serve_hyper_http1(fds: mpsc::UnboundedSender<RawFd>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            fds.send(tcp.as_raw_fd()).unwrap();
            let service = hyper_util::service::TowerToHyperService::new(echo_app());
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                    .with_upgrades(),
            );
        }
    });
    addr
}

/// hyper hands the stream back at the upgrade, and the layer and the extractor
/// turn Nagle's algorithm off on it themselves.
#[tokio::test]
async fn hyper_http1_over_tcp_gets_nodelay_from_the_layer_and_the_extractor() {
    let (fds, mut accepted) = mpsc::unbounded_channel();
    let addr = serve_hyper_http1(fds).await;
    assert_nodelay_through_layer_and_extractor(addr, &mut accepted).await;
}

/// What hyper read past the request head (here a frame written with it) is
/// read first from the stream hyper hands back.
#[tokio::test]
async fn hyper_http1_over_tcp_keeps_the_bytes_read_with_the_head() {
    let (fds, _accepted) = mpsc::unbounded_channel();
    let addr = serve_hyper_http1(fds).await;
    for path in ["/", "/extract"] {
        let request = [
            format!(
                "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Sec-WebSocket-Version: 13\r\n\r\n"
            )
            .into_bytes(),
            client_frame(0x1, b"early"),
        ]
        .concat();
        let mut tcp = server_util::send(addr, &request).await;
        let head = server_util::read_head(&mut tcp).await;
        assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
        let echo = server_util::read_exact(&mut tcp, 7).await;
        assert_eq!(echo, [&[0x81, 5][..], b"early"].concat(), "{path}");
    }
}
