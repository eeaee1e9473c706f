//! Connecting through HTTP and HTTPS proxies with CONNECT, chosen explicitly
//! or from proxy settings in the environment's form, against a small CONNECT
//! proxy (`client_support::proxy`) and tokio-tungstenite servers.
//!
//! The settings are passed per test with `Builder::proxy_env`, never through
//! the process environment, so tests running in parallel cannot see each
//! other's; `client_proxy_env.rs` checks that `connect` reads the real one.

mod client_support;

use client_support::proxy;
use client_support::*;
use futures::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::net::SocketAddr;
use websocket_protocol::client::{Builder, ErrorKind, ProxyEnv};
use websocket_protocol::Message;

/// Proxy settings as the environment would hold them.
fn env(vars: &[(&str, String)]) -> ProxyEnv {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    ProxyEnv::from_lookup(|name| vars.get(name).cloned())
}

/// A one-connection tungstenite server that echoes text and binary.
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

/// Sends one text message and expects it back.
async fn round_trip(
    ws: &mut websocket_protocol::WebSocket<websocket_protocol::client::ClientStream>,
) {
    within(ws.send(Message::text("through the tunnel")))
        .await
        .unwrap();
    let echoed = within(ws.recv()).await.unwrap().unwrap();
    assert_eq!(echoed, Message::text("through the tunnel"));
}

/// An address nothing listens on.
fn closed_port() -> SocketAddr {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    closed.local_addr().unwrap()
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
    let mut proxy = proxy::start(None).await;
    let (mut ws, response) = within(
        Builder::new(format!("ws://{server}/via-proxy"))
            .protocols(["chat"])
            .proxy(format!("http://{}", proxy.addr))
            .connect(),
    )
    .await
    .unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
    round_trip(&mut ws).await;

    let head = proxy.head().await;
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
    let server = echo_server().await;
    let mut proxy = proxy::start(Some("Basic YWxhZGRpbjpvcGVuc2VzYW1l")).await;
    let (mut ws, _) = within(
        Builder::new(format!("ws://{server}/"))
            .proxy(format!("http://aladdin:opensesame@{}", proxy.addr))
            .connect(),
    )
    .await
    .unwrap();
    round_trip(&mut ws).await;
    let head = proxy.head().await;
    assert_eq!(
        header(&head, "proxy-authorization"),
        Some("Basic YWxhZGRpbjpvcGVuc2VzYW1l")
    );
}

#[tokio::test]
async fn percent_encoded_credentials_are_decoded_first() {
    // "user@corp" : "p:ss w%rd", base64 of the decoded pair.
    let expected = "Basic dXNlckBjb3JwOnA6c3MgdyVyZA==";
    let server = echo_server().await;
    let proxy = proxy::start(Some(expected)).await;
    let (mut ws, _) = within(
        Builder::new(format!("ws://{server}/"))
            .proxy(format!("http://user%40corp:p%3Ass%20w%25rd@{}", proxy.addr))
            .connect(),
    )
    .await
    .unwrap();
    round_trip(&mut ws).await;
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
async fn wrong_credentials_get_the_proxy_s_407() {
    let proxy = proxy::start(Some("Basic c29tZW9uZTplbHNl")).await;
    let err = within(
        Builder::new("ws://127.0.0.1:9/")
            .proxy(format!("http://aladdin:wrong@{}", proxy.addr))
            .connect(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Proxy, "{err:?}");
    assert_eq!(
        err.status(),
        Some(http::StatusCode::PROXY_AUTHENTICATION_REQUIRED)
    );
    assert!(!err.to_string().contains("wrong"), "{err}");
}

#[tokio::test]
async fn an_unreachable_proxy_is_a_proxy_error() {
    let addr = closed_port();
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

#[tokio::test]
async fn http_proxy_from_the_settings_carries_ws() {
    let server = echo_server().await;
    let mut proxy = proxy::start(None).await;
    let settings = env(&[("http_proxy", format!("http://{}", proxy.addr))]);
    let (mut ws, _) = within(
        Builder::new(format!("ws://{server}/"))
            .proxy_env(settings)
            .connect(),
    )
    .await
    .unwrap();
    round_trip(&mut ws).await;
    assert!(proxy
        .head()
        .await
        .starts_with(&format!("CONNECT {server} ")));
}

#[tokio::test]
async fn all_proxy_without_a_scheme_is_the_fallback() {
    let server = echo_server().await;
    let mut proxy = proxy::start(None).await;
    // Set for wss:// only, so ws:// falls back to ALL_PROXY.
    let settings = env(&[
        ("https_proxy", format!("http://{}", closed_port())),
        ("ALL_PROXY", proxy.addr.to_string()),
    ]);
    let (mut ws, _) = within(
        Builder::new(format!("ws://{server}/"))
            .proxy_env(settings)
            .connect(),
    )
    .await
    .unwrap();
    round_trip(&mut ws).await;
    assert!(proxy
        .head()
        .await
        .starts_with(&format!("CONNECT {server} ")));
}

#[tokio::test]
async fn uppercase_http_proxy_is_not_read() {
    let server = echo_server().await;
    let mut proxy = proxy::start(None).await;
    let settings = env(&[("HTTP_PROXY", format!("http://{}", proxy.addr))]);
    let (mut ws, _) = within(
        Builder::new(format!("ws://{server}/"))
            .proxy_env(settings)
            .connect(),
    )
    .await
    .unwrap();
    round_trip(&mut ws).await;
    assert!(proxy.untouched());
}

#[tokio::test]
async fn no_proxy_sends_listed_hosts_direct() {
    for no_proxy in [
        "127.0.0.1",
        "127.0.0.0/8",
        "*",
        "example.com, 127.0.0.1:{port}",
    ] {
        let server = echo_server().await;
        let mut proxy = proxy::start(None).await;
        let no_proxy = no_proxy.replace("{port}", &server.port().to_string());
        let settings = env(&[
            ("http_proxy", format!("http://{}", proxy.addr)),
            ("NO_PROXY", no_proxy.clone()),
        ]);
        let (mut ws, _) = within(
            Builder::new(format!("ws://{server}/"))
                .proxy_env(settings)
                .connect(),
        )
        .await
        .unwrap();
        round_trip(&mut ws).await;
        assert!(proxy.untouched(), "{no_proxy}");
    }
}

#[tokio::test]
async fn no_proxy_for_other_hosts_leaves_the_proxy_in_use() {
    let server = echo_server().await;
    let mut proxy = proxy::start(None).await;
    let settings = env(&[
        ("http_proxy", format!("http://{}", proxy.addr)),
        (
            "no_proxy",
            format!("localhost,10.0.0.0/8,127.0.0.1:{}", server.port() ^ 1),
        ),
    ]);
    let (mut ws, _) = within(
        Builder::new(format!("ws://{server}/"))
            .proxy_env(settings)
            .connect(),
    )
    .await
    .unwrap();
    round_trip(&mut ws).await;
    assert!(proxy
        .head()
        .await
        .starts_with(&format!("CONNECT {server} ")));
}

#[tokio::test]
async fn an_explicit_proxy_or_none_overrides_the_settings() {
    let server = echo_server().await;
    let mut chosen = proxy::start(None).await;
    let mut ignored = proxy::start(None).await;
    let settings = env(&[
        ("http_proxy", format!("http://{}", ignored.addr)),
        ("no_proxy", "127.0.0.1".to_owned()),
    ]);
    // The explicit proxy is used even though no_proxy lists the host.
    let (mut ws, _) = within(
        Builder::new(format!("ws://{server}/"))
            .proxy_env(settings.clone())
            .proxy(format!("http://{}", chosen.addr))
            .connect(),
    )
    .await
    .unwrap();
    round_trip(&mut ws).await;
    assert!(chosen
        .head()
        .await
        .starts_with(&format!("CONNECT {server} ")));

    let server = echo_server().await;
    let settings = env(&[("http_proxy", format!("http://{}", ignored.addr))]);
    let (mut ws, _) = within(
        Builder::new(format!("ws://{server}/"))
            .proxy_env(settings.clone())
            .proxy(None)
            .connect(),
    )
    .await
    .unwrap();
    round_trip(&mut ws).await;
    let server = echo_server().await;
    let (mut ws, _) = within(
        Builder::new(format!("ws://{server}/"))
            .proxy_env(settings)
            .no_proxy()
            .connect(),
    )
    .await
    .unwrap();
    round_trip(&mut ws).await;
    assert!(ignored.untouched());
}

#[tokio::test]
async fn an_unsupported_proxy_scheme_fails_rather_than_going_direct() {
    let server = echo_server().await;
    let settings = env(&[("all_proxy", "socks5h://127.0.0.1:1080".to_owned())]);
    let err = within(
        Builder::new(format!("ws://{server}/"))
            .proxy_env(settings)
            .connect(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidUrl, "{err:?}");
    assert!(err.to_string().contains("from all_proxy"), "{err}");
}

#[cfg(feature = "rustls")]
mod tls {
    use super::*;
    use client_support::tls::{client_config, pki, tls_listener};

    #[tokio::test]
    async fn wss_runs_tls_end_to_end_inside_the_tunnel() {
        let pki = pki();
        let (server, tls) = tls_listener(&pki).await;
        let server_task = tokio::spawn(async move {
            let tls = tls.await.unwrap().expect("server TLS handshake");
            tungstenite_accept(tls, None).await.0
        });
        let mut proxy = proxy::start(None).await;
        let (_ws, response) = within(
            Builder::new(format!("wss://localhost:{}/tunnelled", server.port()))
                .proxy(format!("http://{}", proxy.addr))
                .tls_config(client_config(&pki.root))
                .connect(),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 101);
        let head = proxy.head().await;
        assert!(
            head.starts_with(&format!("CONNECT localhost:{} HTTP/1.1\r\n", server.port())),
            "{head}"
        );
        assert_eq!(within(server_task).await.unwrap().uri, "/tunnelled");
    }

    /// A tungstenite echo server behind TLS, for one connection.
    async fn wss_echo_server(pki: &client_support::tls::Pki) -> SocketAddr {
        let (addr, tls) = tls_listener(pki).await;
        tokio::spawn(async move {
            let tls = tls.await.unwrap().expect("server TLS handshake");
            let (_, mut ws) = tungstenite_accept(tls, None).await;
            while let Some(Ok(message)) = ws.next().await {
                if message.is_text() || message.is_binary() {
                    ws.send(message).await.unwrap();
                }
            }
        });
        addr
    }

    #[tokio::test]
    async fn https_proxy_from_the_settings_carries_wss() {
        let pki = pki();
        let server = wss_echo_server(&pki).await;
        let mut proxy = proxy::start(None).await;
        let settings = env(&[
            ("HTTPS_PROXY", format!("http://{}", proxy.addr)),
            ("http_proxy", format!("http://{}", closed_port())),
        ]);
        let (mut ws, _) = within(
            Builder::new(format!("wss://localhost:{}/", server.port()))
                .proxy_env(settings)
                .tls_config(client_config(&pki.root))
                .connect(),
        )
        .await
        .unwrap();
        round_trip(&mut ws).await;
        let head = proxy.head().await;
        assert!(
            head.starts_with(&format!("CONNECT localhost:{} ", server.port())),
            "{head}"
        );
    }

    #[tokio::test]
    async fn ws_through_an_https_proxy_runs_connect_inside_tls() {
        let pki = pki();
        let server = echo_server().await;
        let mut proxy = proxy::start_tls(&pki, Some("Basic YWxhZGRpbjpvcGVuc2VzYW1l")).await;
        let (mut ws, _) = within(
            Builder::new(format!("ws://{server}/"))
                .proxy(format!(
                    "https://aladdin:opensesame@localhost:{}",
                    proxy.addr.port()
                ))
                .tls_config(client_config(&pki.root))
                .connect(),
        )
        .await
        .unwrap();
        round_trip(&mut ws).await;
        let head = proxy.head().await;
        assert!(
            head.starts_with(&format!("CONNECT {server} HTTP/1.1\r\n")),
            "{head}"
        );
    }

    #[tokio::test]
    async fn wss_through_an_https_proxy_is_tls_inside_tls() {
        let pki = pki();
        let server = wss_echo_server(&pki).await;
        let mut proxy = proxy::start_tls(&pki, None).await;
        let settings = env(&[(
            "https_proxy",
            format!("https://localhost:{}", proxy.addr.port()),
        )]);
        let (mut ws, _) = within(
            Builder::new(format!("wss://localhost:{}/", server.port()))
                .proxy_env(settings)
                .tls_config(client_config(&pki.root))
                .connect(),
        )
        .await
        .unwrap();
        round_trip(&mut ws).await;
        let head = proxy.head().await;
        assert!(
            head.starts_with(&format!("CONNECT localhost:{} ", server.port())),
            "{head}"
        );
    }

    #[tokio::test]
    async fn an_https_proxy_with_an_untrusted_certificate_is_a_proxy_error() {
        let pki = pki();
        let mut proxy = proxy::start_tls(&pki, None).await;
        // The default roots do not know the test's root.
        let err = within(
            Builder::new("ws://127.0.0.1:9/")
                .proxy(format!("https://localhost:{}", proxy.addr.port()))
                .connect(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Proxy, "{err:?}");
        assert!(
            err.to_string()
                .contains("TLS handshake with proxy localhost"),
            "{err}"
        );
        // Display is the error's own text; the TLS failure is its source.
        let mut chain = String::new();
        let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(&err);
        while let Some(e) = cause {
            chain.push_str(&e.to_string());
            cause = e.source();
        }
        assert!(chain.contains("certificate"), "{err}: {chain}");
        assert!(proxy.untouched());
    }

    #[tokio::test]
    async fn an_https_proxy_url_for_a_plain_proxy_sends_nothing_in_the_clear() {
        // Answers whatever arrives as a plain proxy answers garbage.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let first = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut first = [0u8; 1];
            tcp.read_exact(&mut first).await.unwrap();
            let _ = tcp
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
            first[0]
        });
        let err = within(
            Builder::new("ws://127.0.0.1:9/")
                .proxy(format!("https://localhost:{}", addr.port()))
                .connect(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Proxy, "{err:?}");
        // The first byte is a TLS handshake record, not the C of CONNECT.
        assert_eq!(within(first).await.unwrap(), 0x16);
    }
}

#[cfg(not(feature = "rustls"))]
#[tokio::test]
async fn an_https_proxy_needs_the_rustls_feature() {
    let err = within(
        Builder::new("ws://127.0.0.1:9/")
            .proxy("https://localhost:3129")
            .connect(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TlsNotEnabled, "{err:?}");
}
