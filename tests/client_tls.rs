//! `wss://` through rustls against a local tokio-rustls server whose
//! certificate comes from a root generated for the test.
#![cfg(feature = "rustls")]

mod client_support;

use client_support::tls::{client_config, pki, tls_listener};
use client_support::*;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use websocket_protocol::client::{self, Builder, ErrorKind};
use websocket_protocol::{CloseCode, Message};

#[tokio::test]
async fn wss_with_a_custom_root_reaches_a_tungstenite_server() {
    let pki = pki();
    let (addr, server) = tls_listener(&pki).await;
    let server = tokio::spawn(async move {
        let tls = server.await.unwrap().expect("server TLS handshake");
        let sni = tls.get_ref().1.server_name().map(str::to_owned);
        let (seen, mut ws) = tungstenite_accept(tls, Some("chat")).await;
        while let Some(Ok(message)) = ws.next().await {
            if message.is_text() || message.is_binary() {
                ws.send(message).await.unwrap();
            }
        }
        (sni, seen)
    });
    let url = format!("wss://localhost:{}/secure", addr.port());
    let (mut ws, response) = within(
        Builder::new(url)
            .protocols(["chat"])
            .tls_config(client_config(&pki.root))
            .connect(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
    within(ws.send(Message::text("over tls"))).await.unwrap();
    let echoed = within(ws.recv()).await.unwrap().unwrap();
    assert_eq!(echoed, Message::text("over tls"));
    within(ws.close(CloseCode::NORMAL, "")).await.unwrap();
    let (sni, seen) = within(server).await.unwrap();
    assert_eq!(sni.as_deref(), Some("localhost"));
    assert_eq!(seen.uri, "/secure");
    assert_eq!(seen.headers["host"], format!("localhost:{}", addr.port()));
}

#[tokio::test]
async fn the_default_roots_do_not_trust_a_private_root() {
    let pki = pki();
    let (addr, _server) = tls_listener(&pki).await;
    let err = within(client::connect(format!("wss://localhost:{}/", addr.port())))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err:?}");
    // The step that failed, then rustls's reason as the source.
    assert_eq!(err.to_string(), "TLS handshake with localhost");
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(cause.contains("certificate"), "{cause}");
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let pki = pki();
    let (addr, _server) = tls_listener(&pki).await;
    // The certificate names `localhost`, not the address.
    let err = within(
        Builder::new(format!("wss://{addr}/"))
            .tls_config(client_config(&pki.root))
            .connect(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err:?}");
}

#[tokio::test]
async fn a_plain_server_behind_a_wss_url_is_a_tls_error() {
    // Answers whatever arrives, as a plain HTTP server does a ClientHello.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut hello = [0u8; 16];
        let _ = tcp.read(&mut hello).await;
        let _ = tcp
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await;
        let _ = tcp.read(&mut hello).await;
    });
    let err = within(client::connect(format!("wss://{addr}/")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err:?}");
}

#[tokio::test]
async fn a_tls_server_vanishing_without_a_close_frame_is_still_an_error() {
    // Reading a missing close_notify as the end of the stream must not hide a
    // connection cut short: the missing close frame gives it away.
    let pki = pki();
    let (addr, server) = tls_listener(&pki).await;
    tokio::spawn(async move {
        let tls = server.await.unwrap().expect("server TLS handshake");
        let (_, ws) = tungstenite_accept(tls, None).await;
        drop(ws);
    });
    let (mut ws, _) = within(
        Builder::new(format!("wss://localhost:{}/", addr.port()))
            .tls_config(client_config(&pki.root))
            .connect(),
    )
    .await
    .unwrap();
    let end = within(ws.recv()).await;
    let err = end.expect("an error, not a clean end").unwrap_err();
    assert_eq!(err.kind(), websocket_protocol::ErrorKind::Io, "{err:?}");
    let frame = ws.close_frame();
    assert!(
        frame.as_ref().is_none_or(|f| f.code == CloseCode::ABNORMAL),
        "{frame:?}"
    );
}

#[tokio::test]
async fn a_server_silent_during_the_tls_handshake_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut sink = [0u8; 1024];
        while let Ok(Ok(n)) = tokio::time::timeout(LIMIT, tcp.read(&mut sink)).await {
            if n == 0 {
                break;
            }
        }
    });
    let err = within(
        Builder::new(format!("wss://localhost:{}/", addr.port()))
            .connect_timeout(std::time::Duration::from_millis(200))
            .connect(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
}
