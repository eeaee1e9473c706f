//! Messages over client connections: against tokio-tungstenite and against our
//! own server (`WebSocket::accept`).

mod client_support;

use client_support::*;
use futures::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as TCloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame as TCloseFrame;
use tokio_tungstenite::tungstenite::Message as TMessage;
use websocket_protocol::client::{self, Builder};
use websocket_protocol::{CloseCode, Config, Message, WebSocket};

/// A tungstenite server that echoes text and binary until the client closes,
/// and reports the close frame it received.
async fn tungstenite_echo(
    choose: Option<&'static str>,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Receiver<Option<TCloseFrame>>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let addr = tungstenite_server(choose, |_, mut ws| async move {
        let mut close = None;
        while let Some(Ok(message)) = ws.next().await {
            match message {
                TMessage::Text(_) | TMessage::Binary(_) => ws.send(message).await.unwrap(),
                TMessage::Close(frame) => {
                    close = frame;
                    // tungstenite answers the close on the next flush.
                    let _ = ws.flush().await;
                }
                _ => {}
            }
        }
        let _ = tx.send(close);
    })
    .await;
    (addr, rx)
}

#[tokio::test]
async fn text_and_binary_echo_through_tungstenite_then_close() {
    let (addr, closed) = tungstenite_echo(Some("chat")).await;
    let (mut ws, _) = within(
        Builder::new(format!("ws://{addr}/echo"))
            .protocols(["chat"])
            .connect(),
    )
    .await
    .unwrap();
    assert_eq!(ws.protocol(), Some("chat"));

    // tungstenite refuses unmasked client frames, so an echo shows masking.
    within(ws.send(Message::text("héllo"))).await.unwrap();
    let echoed = within(ws.recv()).await.unwrap().unwrap();
    assert_eq!(echoed, Message::text("héllo"));

    let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    within(ws.send(Message::binary(big.clone()))).await.unwrap();
    let echoed = within(ws.recv()).await.unwrap().unwrap();
    assert_eq!(echoed, Message::binary(big));

    let reply = within(ws.close(CloseCode::NORMAL, "bye")).await.unwrap();
    assert_eq!(reply.code, CloseCode::NORMAL);
    let seen = within(closed).await.unwrap().expect("a close frame");
    assert_eq!(seen.code, TCloseCode::Normal);
    assert_eq!(seen.reason.as_str(), "bye");
}

#[tokio::test]
async fn a_close_from_tungstenite_ends_the_stream_with_its_frame() {
    let addr = tungstenite_server(None, |_, mut ws| async move {
        ws.send(TMessage::text("last words")).await.unwrap();
        ws.close(Some(TCloseFrame {
            code: TCloseCode::Away,
            reason: "shutting down".into(),
        }))
        .await
        .unwrap();
        while ws.next().await.is_some() {}
    })
    .await;
    let (mut ws, _) = within(client::connect(format!("ws://{addr}")))
        .await
        .unwrap();
    let first = within(ws.recv()).await.unwrap().unwrap();
    assert_eq!(first, Message::text("last words"));
    assert!(within(ws.recv()).await.is_none());
    let frame = ws.close_frame().expect("the server's close frame");
    assert_eq!(frame.code, CloseCode::GOING_AWAY);
    assert_eq!(frame.reason, "shutting down");
}

/// Our own server on loopback: accepts one connection with `config` and echoes.
async fn own_echo_server(config: Config) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = WebSocket::accept(tcp, config).await.unwrap();
        while let Some(Ok(message)) = ws.recv().await {
            if ws.send(message).await.is_err() {
                break;
            }
        }
    });
    addr
}

#[tokio::test]
async fn echo_against_our_own_server() {
    let addr = own_echo_server(Config::default().protocols(["v2", "v1"])).await;
    let (mut ws, response) = within(
        Builder::new(format!("ws://{addr}/"))
            .protocols(["v1", "v2"])
            .connect(),
    )
    .await
    .unwrap();
    // The server takes the client's first choice it supports.
    assert_eq!(response.headers()["sec-websocket-protocol"], "v1");
    assert_eq!(ws.protocol(), Some("v1"));
    for i in 0..20 {
        let text = format!("message {i}");
        within(ws.send(Message::text(text.clone()))).await.unwrap();
        let echoed = within(ws.recv()).await.unwrap().unwrap();
        assert_eq!(echoed, Message::text(text));
    }
    let rtt = within(ws.ping("are you there")).await;
    assert!(rtt.is_ok(), "{rtt:?}");
    let reply = within(ws.close(CloseCode::NORMAL, "")).await.unwrap();
    assert_eq!(reply.code, CloseCode::NORMAL);
}

#[cfg(feature = "deflate")]
#[tokio::test]
async fn permessage_deflate_from_the_config_is_negotiated_with_our_own_server() {
    use websocket_protocol::protocol::{DeflateConfig, Options};
    let options = || Options::default().deflate(DeflateConfig::default());
    let addr = own_echo_server(Config::default().options(options())).await;
    let (mut ws, response) = within(
        Builder::new(format!("ws://{addr}/"))
            .config(Config::default().options(options()))
            .connect(),
    )
    .await
    .unwrap();
    let accepted = response.headers()["sec-websocket-extensions"]
        .to_str()
        .unwrap();
    assert!(accepted.starts_with("permessage-deflate"), "{accepted}");
    let text = "compress me ".repeat(1000);
    within(ws.send(Message::text(text.clone()))).await.unwrap();
    let echoed = within(ws.recv()).await.unwrap().unwrap();
    assert_eq!(echoed, Message::text(text));
}

#[tokio::test]
async fn connect_on_an_in_memory_stream_to_our_own_server() {
    let (client_io, server_io) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        let mut ws = WebSocket::accept(server_io, Config::default())
            .await
            .unwrap();
        let message = ws.recv().await.unwrap().unwrap();
        ws.send(message).await.unwrap();
        ws.close(CloseCode::NORMAL, "done").await.unwrap();
    });
    let (mut ws, _) = within(Builder::new("ws://in-memory/").connect_on(client_io))
        .await
        .unwrap();
    within(ws.send(Message::binary(&b"\x00\x01\x02"[..])))
        .await
        .unwrap();
    let echoed = within(ws.recv()).await.unwrap().unwrap();
    assert_eq!(echoed, Message::binary(&b"\x00\x01\x02"[..]));
    assert!(within(ws.recv()).await.is_none());
    assert_eq!(ws.close_frame().unwrap().reason, "done");
    within(server).await.unwrap();
}

#[tokio::test]
async fn frames_that_arrive_with_the_101_are_not_lost() {
    // The 101 and a first text frame in one write: hyper reads both, and the
    // frame must reach the socket through the upgraded stream.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let head = read_head(&mut tcp).await;
        let mut out = switching(&head, "");
        out.extend_from_slice(b"\x81\x05early");
        tcp.write_all(&out).await.unwrap();
        let mut sink = [0u8; 256];
        while let Ok(Ok(n)) =
            tokio::time::timeout(LIMIT, tokio::io::AsyncReadExt::read(&mut tcp, &mut sink)).await
        {
            if n == 0 {
                break;
            }
        }
    });
    let (mut ws, _) = within(client::connect(format!("ws://{addr}")))
        .await
        .unwrap();
    let first = within(ws.recv()).await.unwrap().unwrap();
    assert_eq!(first, Message::text("early"));
}
