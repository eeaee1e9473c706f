//! The client's opening handshake against real peers: tokio-tungstenite, and raw
//! servers for the answers tungstenite would never give.

mod client_support;

use bytes::Bytes;
use client_support::*;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use websocket_protocol::client::{self, Builder, ErrorKind};
use websocket_protocol::protocol::{self, Options};
use websocket_protocol::Config;

#[tokio::test]
async fn connects_to_tungstenite_and_returns_the_101() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let addr = tungstenite_server(Some("chat"), |seen, _ws| async move {
        tx.send(seen).unwrap();
    })
    .await;
    let url = format!("ws://{addr}/room/1?user=ann");
    let (_ws, response) = within(
        Builder::new(&url)
            .protocols(["superchat", "chat"])
            .header("Authorization", "Bearer t0ken")
            .header("Cookie", "a=1")
            .connect(),
    )
    .await
    .unwrap();

    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
    let seen = rx.await.unwrap();
    assert_eq!(seen.uri, "/room/1?user=ann");
    assert_eq!(seen.headers["host"], addr.to_string());
    assert_eq!(seen.headers["sec-websocket-protocol"], "superchat, chat");
    assert_eq!(seen.headers["authorization"], "Bearer t0ken");
    assert_eq!(seen.headers["cookie"], "a=1");
    assert_eq!(seen.headers["sec-websocket-version"], "13");
}

#[tokio::test]
async fn connect_with_defaults_offers_no_protocol() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let addr = tungstenite_server(None, |seen, _ws| async move {
        tx.send(seen).unwrap();
    })
    .await;
    let (_ws, response) = within(client::connect(format!("ws://{addr}")))
        .await
        .unwrap();
    assert!(!response.headers().contains_key("sec-websocket-protocol"));
    let seen = rx.await.unwrap();
    assert_eq!(seen.uri, "/");
    assert!(!seen.headers.contains_key("sec-websocket-protocol"));
}

#[tokio::test]
async fn protocols_and_headers_can_come_from_the_socket_config() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let addr = tungstenite_server(Some("b"), |seen, _ws| async move {
        tx.send(seen).unwrap();
    })
    .await;
    let mut headers = http::HeaderMap::new();
    headers.insert("x-from-config", "yes".parse().unwrap());
    let config =
        Config::default().options(Options::default().protocols(["a", "b"]).headers(headers));
    let (_ws, response) = within(
        Builder::new(format!("ws://{addr}"))
            .config(config)
            .header("x-from-builder", "too")
            .connect(),
    )
    .await
    .unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "b");
    let seen = rx.await.unwrap();
    assert_eq!(seen.headers["x-from-config"], "yes");
    assert_eq!(seen.headers["x-from-builder"], "too");
}

#[cfg(unix)]
#[tokio::test]
async fn connect_on_runs_the_handshake_over_a_unix_socket() {
    let dir = std::env::temp_dir().join(format!("wsp-client-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("connect_on.sock");
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        tungstenite_accept(stream, Some("v1")).await.0
    });
    let stream = tokio::net::UnixStream::connect(&path).await.unwrap();
    let (_ws, response) = within(
        Builder::new("ws://localhost/events")
            .protocols(["v1"])
            .connect_on(stream),
    )
    .await
    .unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "v1");
    let seen = within(server).await.unwrap();
    assert_eq!(seen.uri, "/events");
    assert_eq!(seen.headers["host"], "localhost");
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn into_handshake_works_on_a_hyper_connection_of_our_own() {
    let addr = tungstenite_server(Some("p"), |_, _ws| async {}).await;
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn.with_upgrades());

    let (request, handshake) = Builder::new(format!("ws://{addr}/x"))
        .protocols(["p"])
        .into_handshake()
        .unwrap();
    assert_eq!(request.uri(), "/x");
    assert_eq!(request.headers()["sec-websocket-protocol"], "p");
    let response = within(sender.send_request(request.map(|()| Empty::<Bytes>::new())))
        .await
        .unwrap();
    let (_ws, response) = within(handshake.finish(response)).await.unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["sec-websocket-protocol"], "p");
}

#[tokio::test]
async fn a_401_keeps_status_headers_and_the_body_start() {
    let (addr, server) = raw_server(|_| {
        b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"chat\"\r\n\
          Content-Type: text/plain\r\nContent-Length: 22\r\n\r\nmissing or bad token\r\n"
            .to_vec()
    })
    .await;
    let err = within(client::connect(format!("ws://{addr}/private")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused);
    assert_eq!(err.status(), Some(http::StatusCode::UNAUTHORIZED));
    assert_eq!(
        err.headers().unwrap()["www-authenticate"],
        "Bearer realm=\"chat\""
    );
    assert_eq!(&err.body().unwrap()[..], b"missing or bad token\r\n");
    assert_eq!(
        err.to_string(),
        "server refused the WebSocket upgrade with status 401 Unauthorized: missing or bad token"
    );
    assert_eq!(
        err.protocol_error().unwrap().kind(),
        protocol::ErrorKind::UnexpectedStatus(http::StatusCode::UNAUTHORIZED)
    );
    let head = within(server).await.unwrap();
    assert!(head.starts_with("GET /private HTTP/1.1\r\n"), "{head}");
}

#[tokio::test]
async fn a_refusal_body_is_read_only_up_to_the_limit() {
    let body: Vec<u8> = (0..1_000_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let expected = body[..100].to_vec();
    let (addr, _server) = raw_server(move |_| {
        let mut out = format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(&body);
        out
    })
    .await;
    let err = within(
        Builder::new(format!("ws://{addr}"))
            .max_error_body(100)
            .connect(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused);
    assert_eq!(err.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(&err.body().unwrap()[..], &expected[..]);
}

#[tokio::test]
async fn a_refusal_whose_body_stalls_is_still_a_refusal() {
    let (addr, _server) =
        raw_server(|_| b"HTTP/1.1 403 Forbidden\r\nContent-Length: 1000\r\n\r\nno entry".to_vec())
            .await;
    let err = within(
        Builder::new(format!("ws://{addr}"))
            .connect_timeout(Duration::from_millis(300))
            .connect(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused, "{err:?}");
    assert_eq!(err.status(), Some(http::StatusCode::FORBIDDEN));
    assert_eq!(&err.body().unwrap()[..], b"no entry");
}

#[tokio::test]
async fn a_redirect_is_a_refusal_with_its_location() {
    let (addr, _server) = raw_server(|_| {
        b"HTTP/1.1 301 Moved Permanently\r\nLocation: ws://elsewhere/\r\nContent-Length: 0\r\n\r\n"
            .to_vec()
    })
    .await;
    let err = within(client::connect(format!("ws://{addr}")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused);
    assert_eq!(err.headers().unwrap()["location"], "ws://elsewhere/");
    assert!(err.body().unwrap().is_empty());
}

#[tokio::test]
async fn a_101_with_the_wrong_accept_key_is_invalid_accept() {
    let (addr, _server) = raw_server(|_| {
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
            .to_vec()
    })
    .await;
    let err = within(client::connect(format!("ws://{addr}")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidAccept);
    assert!(err.status().is_none());
    assert_eq!(
        err.to_string(),
        "Sec-WebSocket-Accept does not match the key we sent"
    );
}

#[tokio::test]
async fn a_101_choosing_an_unoffered_protocol_is_refused() {
    let (addr, _server) =
        raw_server(|head| switching(head, "Sec-WebSocket-Protocol: superchat\r\n")).await;
    let err = within(
        Builder::new(format!("ws://{addr}"))
            .protocols(["chat"])
            .connect(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnofferedProtocol);
    let core = err.protocol_error().unwrap();
    assert_eq!(core.kind(), protocol::ErrorKind::UnofferedProtocol);
    assert_eq!(core.name(), Some("superchat"));
}

#[tokio::test]
async fn a_101_with_a_protocol_when_none_was_offered_is_refused() {
    let (addr, _server) =
        raw_server(|head| switching(head, "Sec-WebSocket-Protocol: chat\r\n")).await;
    let err = within(client::connect(format!("ws://{addr}")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnofferedProtocol);
}

#[tokio::test]
async fn a_101_accepting_an_unoffered_extension_is_refused() {
    let (addr, _server) = raw_server(|head| {
        switching(
            head,
            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n",
        )
    })
    .await;
    let err = within(client::connect(format!("ws://{addr}")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnofferedExtension);
    let core = err.protocol_error().unwrap();
    assert_eq!(core.kind(), protocol::ErrorKind::UnofferedExtension);
    assert_eq!(core.name(), Some("permessage-deflate"));
}

#[tokio::test]
async fn a_101_without_upgrade_websocket_is_malformed() {
    let (addr, _server) = raw_server(|head| {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            accept_for(head)
        )
        .into_bytes()
    })
    .await;
    let err = within(client::connect(format!("ws://{addr}")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MalformedResponse);
}

#[tokio::test]
async fn a_server_that_does_not_speak_http_is_malformed() {
    let (addr, _server) = raw_server(|_| b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec()).await;
    let err = within(client::connect(format!("ws://{addr}")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MalformedResponse, "{err:?}");
}

#[tokio::test]
async fn a_response_head_over_the_handshake_limit_is_malformed() {
    let (addr, _server) = raw_server(|head| {
        let big = format!("X-Padding: {}\r\n", "p".repeat(20_000));
        switching(head, &big)
    })
    .await;
    let config = Config::default().options(Options::default().max_handshake_size(8 << 10));
    let err = within(
        Builder::new(format!("ws://{addr}"))
            .config(config)
            .connect(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MalformedResponse, "{err:?}");
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let (addr, _server) = raw_server(|_| Vec::new()).await;
    let err = within(
        Builder::new(format!("ws://{addr}"))
            .connect_timeout(Duration::from_millis(200))
            .connect(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.is_timeout());
    assert!(err.to_string().contains("connect timeout"), "{err}");
}

#[tokio::test]
async fn a_server_that_hangs_up_before_answering_is_io() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let _ = read_head(&mut tcp).await;
        tcp.shutdown().await.unwrap();
    });
    let err = within(client::connect(format!("ws://{addr}")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
}

#[tokio::test]
async fn a_closed_port_is_io() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = within(client::connect(format!("ws://{addr}")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(
        err.to_string()
            .starts_with(&format!("connecting to {addr}")),
        "{err}"
    );
    let io = std::error::Error::source(&err)
        .unwrap()
        .downcast_ref::<std::io::Error>()
        .unwrap();
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn bad_urls_are_invalid_url() {
    for url in [
        "http//nope",
        "ftp://example.com/",
        "ws://user:pw@example.com/",
        "ws:///path",
    ] {
        let err = client::connect(url).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidUrl, "{url}: {err}");
    }
    let err = Builder::new("ws://127.0.0.1:1/")
        .proxy("socks5://127.0.0.1:1080")
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidUrl);
}

#[tokio::test]
async fn bad_headers_and_protocols_are_invalid_header() {
    let url = "ws://127.0.0.1:1/";
    let cases = [
        Builder::new(url).header("bad name", "x"),
        Builder::new(url).header("x-ok", "line\nbreak"),
        Builder::new(url).header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        Builder::new(url).header("Host", "other"),
        Builder::new(url).header("sec-websocket-extensions", "permessage-deflate"),
        Builder::new(url).protocols(["chat", "two words"]),
        Builder::new(url).protocols(["a,b"]),
    ];
    for builder in cases {
        let err = builder.connect().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidHeader, "{err}");
    }
}

#[cfg(not(feature = "rustls"))]
#[tokio::test]
async fn wss_without_the_rustls_feature_names_it() {
    let err = client::connect("wss://127.0.0.1:1/").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TlsNotEnabled);
    assert!(err.to_string().contains("`rustls` feature"), "{err}");
}

#[tokio::test]
async fn into_handshake_reports_a_refusal_from_our_own_hyper_connection() {
    let (addr, _server) = raw_server(|_| {
        b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 4\r\n\r\nold!"
            .to_vec()
    })
    .await;
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn.with_upgrades());
    let (request, handshake) = Builder::new(format!("ws://{addr}/"))
        .into_handshake()
        .unwrap();
    let response = within(sender.send_request(request.map(|()| Empty::<Bytes>::new())))
        .await
        .unwrap();
    let err = within(handshake.finish(response)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused);
    assert_eq!(err.status(), Some(http::StatusCode::UPGRADE_REQUIRED));
    assert_eq!(err.headers().unwrap()["sec-websocket-version"], "13");
    assert_eq!(&err.body().unwrap()[..], b"old!");
}
