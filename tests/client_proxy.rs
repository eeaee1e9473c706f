//! Connecting through an HTTP proxy with CONNECT, against a small proxy
//! written here.

mod client_support;

use client_support::*;
use futures::{SinkExt, StreamExt};
use std::net::SocketAddr;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use websocket_protocol::client::{Builder, ErrorKind};
use websocket_protocol::Message;

/// A one-connection CONNECT proxy: answers 200 and splices the streams. The
/// handle gives the request head it received.
async fn connect_proxy() -> (SocketAddr, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut client, _) = listener.accept().await.unwrap();
        let head = read_head(&mut client).await;
        let target = head
            .strip_prefix("CONNECT ")
            .and_then(|rest| rest.split(' ').next())
            .expect("a CONNECT request")
            .to_owned();
        let target = target.replace("localhost", "127.0.0.1");
        let mut upstream = TcpStream::connect(target).await.unwrap();
        client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await
            .unwrap();
        tokio::spawn(async move {
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        });
        head
    });
    (addr, task)
}

#[tokio::test]
async fn ws_through_a_connect_proxy() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let server = tungstenite_server(Some("chat"), |seen, mut ws| async move {
        tx.send(seen).unwrap();
        while let Some(Ok(message)) = ws.next().await {
            if message.is_text() || message.is_binary() {
                ws.send(message).await.unwrap();
            }
        }
    })
    .await;
    let (proxy, proxy_task) = connect_proxy().await;
    let (mut ws, response) = within(
        Builder::new(format!("ws://{server}/via-proxy"))
            .protocols(["chat"])
            .proxy(format!("http://{proxy}"))
            .connect(),
    )
    .await
    .unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
    within(ws.send(Message::text("through the tunnel")))
        .await
        .unwrap();
    let echoed = within(ws.recv()).await.unwrap().unwrap();
    assert_eq!(echoed, Message::text("through the tunnel"));

    let head = within(proxy_task).await.unwrap();
    assert!(
        head.starts_with(&format!("CONNECT {server} HTTP/1.1\r\n")),
        "{head}"
    );
    assert_eq!(header(&head, "host"), Some(server.to_string().as_str()));
    assert_eq!(header(&head, "proxy-authorization"), None);
    let seen = within(rx).await.unwrap();
    assert_eq!(seen.uri, "/via-proxy");
}

#[tokio::test]
async fn proxy_credentials_become_basic_authorization() {
    let server = tungstenite_server(None, |_, _ws| async {}).await;
    let (proxy, proxy_task) = connect_proxy().await;
    within(
        Builder::new(format!("ws://{server}/"))
            .proxy(format!("http://aladdin:opensesame@{proxy}"))
            .connect(),
    )
    .await
    .unwrap();
    let head = within(proxy_task).await.unwrap();
    assert_eq!(
        header(&head, "proxy-authorization"),
        Some("Basic YWxhZGRpbjpvcGVuc2VzYW1l")
    );
}

#[tokio::test]
async fn a_proxy_refusing_the_tunnel_is_a_proxy_error_with_its_answer() {
    let (proxy, _task) = raw_server(|_| {
        b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\n\
          Content-Length: 13\r\n\r\nlog in first\n"
            .to_vec()
    })
    .await;
    let err = within(
        Builder::new("ws://127.0.0.1:9/")
            .proxy(format!("http://{proxy}"))
            .connect(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Proxy);
    assert_eq!(
        err.status(),
        Some(http::StatusCode::PROXY_AUTHENTICATION_REQUIRED)
    );
    assert_eq!(
        err.headers().unwrap()["proxy-authenticate"],
        "Basic realm=\"corp\""
    );
    assert_eq!(&err.body().unwrap()[..], b"log in first\n");
    assert!(
        err.to_string()
            .contains("refused CONNECT 127.0.0.1:9 with status 407"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_proxy_is_a_proxy_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let err = within(
        Builder::new("ws://127.0.0.1:9/")
            .proxy(format!("http://{addr}"))
            .connect(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Proxy);
    assert!(
        err.to_string()
            .starts_with(&format!("connecting to proxy {addr}")),
        "{err}"
    );
}

#[cfg(feature = "rustls")]
#[tokio::test]
async fn wss_runs_tls_end_to_end_inside_the_tunnel() {
    use client_support::tls::{client_config, pki, tls_listener};
    let pki = pki();
    let (server, tls) = tls_listener(&pki).await;
    let server_task = tokio::spawn(async move {
        let tls = tls.await.unwrap().expect("server TLS handshake");
        tungstenite_accept(tls, None).await.0
    });
    let (proxy, proxy_task) = connect_proxy().await;
    let (_ws, response) = within(
        Builder::new(format!("wss://localhost:{}/tunnelled", server.port()))
            .proxy(format!("http://{proxy}"))
            .tls_config(client_config(&pki.root))
            .connect(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 101);
    let head = within(proxy_task).await.unwrap();
    assert!(
        head.starts_with(&format!("CONNECT localhost:{} HTTP/1.1\r\n", server.port())),
        "{head}"
    );
    assert_eq!(within(server_task).await.unwrap().uri, "/tunnelled");
}
