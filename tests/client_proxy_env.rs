//! `connect` reads the proxy variables of the process environment, when it
//! connects. The only test in this binary (its own process), because it sets
//! variables: every other proxy test passes its settings with
//! `Builder::proxy_env` and cannot see these.

mod client_support;

use client_support::*;
use futures::{SinkExt, StreamExt};
use std::net::SocketAddr;
use websocket_protocol::client::{self, Builder, ProxyEnv};
use websocket_protocol::Message;

async fn echo_server() -> SocketAddr {
    tungstenite_server(None, |_, mut ws| async move {
        while let Some(Ok(message)) = ws.next().await {
            if message.is_text() || message.is_binary() {
                ws.send(message).await.unwrap();
            }
        }
    })
    .await
}

async fn round_trip(mut ws: websocket_protocol::WebSocket<client::ClientStream>) {
    within(ws.send(Message::text("hi"))).await.unwrap();
    let echoed = within(ws.recv()).await.unwrap().unwrap();
    assert_eq!(echoed, Message::text("hi"));
}

#[test]
fn connect_reads_the_proxy_variables_when_it_connects() {
    for name in [
        "https_proxy",
        "HTTPS_PROXY",
        "http_proxy",
        "HTTP_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
    ] {
        std::env::remove_var(name);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut from_env = proxy::start(None).await;
        let mut explicit = proxy::start(None).await;
        std::env::set_var("http_proxy", format!("http://{}", from_env.addr));

        // The default: through the environment's proxy.
        let server = echo_server().await;
        let (ws, _) = within(client::connect(format!("ws://{server}/")))
            .await
            .unwrap();
        round_trip(ws).await;
        assert!(from_env
            .head()
            .await
            .starts_with(&format!("CONNECT {server} ")));
        assert_eq!(
            ProxyEnv::from_env().proxy_for(&format!("ws://{server}/")),
            Some(format!("http://{}", from_env.addr).as_str())
        );

        // Turned off, and overridden.
        let server = echo_server().await;
        let (ws, _) = within(Builder::new(format!("ws://{server}/")).no_proxy().connect())
            .await
            .unwrap();
        round_trip(ws).await;
        let server = echo_server().await;
        let (ws, _) = within(
            Builder::new(format!("ws://{server}/"))
                .proxy(format!("http://{}", explicit.addr))
                .connect(),
        )
        .await
        .unwrap();
        round_trip(ws).await;
        assert!(explicit
            .head()
            .await
            .starts_with(&format!("CONNECT {server} ")));
        assert!(from_env.untouched());

        // Read at connect time: a builder made before NO_PROXY is set sees it.
        let server = echo_server().await;
        let builder = Builder::new(format!("ws://{server}/"));
        std::env::set_var("NO_PROXY", "127.0.0.0/8");
        let (ws, _) = within(builder.connect()).await.unwrap();
        round_trip(ws).await;
        assert!(from_env.untouched());
    });
}
